"""The SQS queue receiving SP-API notifications (ORDER_CHANGE, ...), on boto3.

Register it as `SqsResource.from_env()` under the key `sqs`. Against a local queue (the sandbox's moto
server) the endpoint is the queue URL's host; on AWS it is boto3's default for the region.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

import dagster as dg

_CLIENTS: dict[tuple, object] = {}


@dataclass(frozen=True)
class QueueMessage:
    message_id: str
    receipt_handle: str
    body: str


class SqsResource(dg.ConfigurableResource):
    queue_url: str
    region: str = "us-east-1"
    aws_access_key_id: str = ""
    aws_secret_access_key: str = ""
    endpoint_url: str = ""  # empty: derived from queue_url for non-AWS hosts

    @classmethod
    def from_env(cls) -> SqsResource:
        from sage_amazon import config

        return cls(
            queue_url=config.load().sqs_queue_url,
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            aws_access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID") if os.environ.get("AWS_ACCESS_KEY_ID") else "",
            aws_secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY") if os.environ.get("AWS_SECRET_ACCESS_KEY") else "",
        )

    def _client(self):
        import boto3
        from botocore.config import Config

        host = urlsplit(self.queue_url).netloc
        local = not host.endswith("amazonaws.com")
        endpoint = self.endpoint_url or (f"{urlsplit(self.queue_url).scheme}://{host}" if local else None)
        kwargs = {}
        if self.aws_access_key_id:
            key, secret = self.aws_access_key_id, self.aws_secret_access_key
            if isinstance(key, dg.EnvVar):  # used outside a run: resolve now
                key, secret = key.get_value(), secret.get_value() if isinstance(secret, dg.EnvVar) else secret
            kwargs = {"aws_access_key_id": key, "aws_secret_access_key": secret}
        elif local:
            kwargs = {"aws_access_key_id": "sandbox", "aws_secret_access_key": "sandbox"}
        # a boto3 client costs tens of milliseconds to build: one per queue and credentials, reused (thread-safe)
        cache_key = (self.queue_url, self.region, endpoint, tuple(sorted(kwargs.items())))
        client = _CLIENTS.get(cache_key)
        if client is None:
            client = _CLIENTS[cache_key] = boto3.client(
                "sqs", region_name=self.region, endpoint_url=endpoint,
                config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
                **kwargs)
        return client

    def receive(self, max_messages: int = 10, wait_seconds: int = 1, visibility_timeout: int = 120) -> list[QueueMessage]:
        res = self._client().receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=max(1, min(max_messages, 10)),
            WaitTimeSeconds=wait_seconds, VisibilityTimeout=visibility_timeout)
        return [QueueMessage(m["MessageId"], m["ReceiptHandle"], m.get("Body", "")) for m in res.get("Messages", [])]

    def receive_batch(self, limit: int = 100, wait_seconds: int = 1) -> list[QueueMessage]:
        """Up to `limit` messages, in receives of 10, stopping at the first empty receive."""
        out: list[QueueMessage] = []
        while len(out) < limit:
            got = self.receive(min(10, limit - len(out)), wait_seconds if not out else 0)
            if not got:
                break
            out.extend(got)
        return out

    def release(self, receipt_handles: list[str], visibility_timeout: int = 0) -> None:
        """Make received messages visible again at once (for another consumer of the queue), or after
        `visibility_timeout` seconds (a back-off, or more time for the run that handles them)."""
        client = self._client()
        for start in range(0, len(receipt_handles), 10):
            chunk = receipt_handles[start:start + 10]
            client.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": int(visibility_timeout)}
                         for i, h in enumerate(chunk)])

    def delete(self, receipt_handles: list[str]) -> int:
        """Delete messages (10 per call); a handle that expired is ignored. Returns how many were deleted."""
        client = self._client()
        deleted = 0
        for start in range(0, len(receipt_handles), 10):
            chunk = receipt_handles[start:start + 10]
            res = client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)])
            deleted += len(res.get("Successful", []))
        return deleted
