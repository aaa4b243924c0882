"""A local SQS (moto's server) for SP-API notifications, with the default queue and its per-flow queues created."""

from __future__ import annotations

import threading
import time
from typing import Any

from sage_amazon.sandbox.amazon.credentials import (
    DEFAULT_QUEUE_NAME,
    DEFAULT_SQS_PORT,
    FLOW_QUEUE_SUFFIXES,
    SQS_REGION,
)


def create_queue(endpoint: str, name: str = DEFAULT_QUEUE_NAME) -> str:
    """Create (idempotently) a queue and its per-flow queues (<name>-orders, ...) on the SQS at `endpoint`;
    returns the queue's URL."""
    import boto3

    client = boto3.client("sqs", endpoint_url=endpoint, region_name=SQS_REGION, aws_access_key_id="sandbox",
                          aws_secret_access_key="sandbox")
    for suffix in FLOW_QUEUE_SUFFIXES:
        client.create_queue(QueueName=f"{name}-{suffix}")
    return client.create_queue(QueueName=name)["QueueUrl"]


class SqsServer:
    """moto's ThreadedMotoServer on host:port (state is in memory, as moto keeps it)."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_SQS_PORT) -> None:
        from moto.server import ThreadedMotoServer

        self.host = host
        self.port = port
        self.endpoint = f"http://{host}:{port}"
        self._server: Any = ThreadedMotoServer(ip_address=host, port=port, verbose=False)

    def start(self, queue: str | None = DEFAULT_QUEUE_NAME) -> str | None:
        self._server.start()
        deadline = time.monotonic() + 15
        while True:
            try:
                return create_queue(self.endpoint, queue) if queue else None
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        self._server.stop()


def serve_forever(host: str = "127.0.0.1", port: int = DEFAULT_SQS_PORT) -> None:
    server = SqsServer(host, port)
    url = server.start()
    print(f"SQS (moto) on {server.endpoint}; queues {url}-{{{','.join(FLOW_QUEUE_SUFFIXES)}}}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
