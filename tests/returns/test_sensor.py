"""(d) TRANSACTION_UPDATE: the returns sensor reads the returns queue and the notified refund day's transactions
again; a notification leaves the queue once that run succeeded; another type on that queue (each has its own) is
deleted, never left to clog it."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from tests.returns.conftest import ANCHOR, flow_defs, query
from tests.sensor_runs import depth


@pytest.fixture
def sqs() -> Iterator[Any]:
    from resources.notifications import SqsResource
    from sage_amazon.sandbox.sqs import SqsServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = SqsServer(port=port)
    queue_url = server.start(queue=f"returns-sensor-{uuid.uuid4().hex[:8]}")
    try:
        yield SqsResource(queue_url=queue_url, aws_access_key_id="x", aws_secret_access_key="x")
    finally:
        server.stop()


def _count(sqs) -> int:
    return depth(sqs._client(), sqs.queue_url)


def _visible(sqs) -> list[str]:
    messages = sqs.receive_batch(limit=100, wait_seconds=0)
    sqs.release([m.receipt_handle for m in messages])
    return sorted(json.loads(m.body).get("NotificationType", "") for m in messages)


def test_refund_notification_reads_its_day_again(env, amazon, sqs) -> None:
    from sage_amazon.sandbox.amazon.transactions_api import update_notification
    from sensors.returns import refund_transactions_job, transaction_update_sensor

    event = next(e for e in sorted(amazon.world.state["events"].values(), key=lambda e: e["posted"], reverse=True)
                 if e["kind"] == "Refund" and e["posted"][:10] < ANCHOR.date().isoformat())
    refund = update_notification({"event": event}, "sub-1", ANCHOR)
    shipment = update_notification({"event": next(e for e in amazon.world.state["events"].values()
                                                  if e["kind"] == "Order")}, "sub-1", ANCHOR)
    order = {"NotificationType": "ORDER_CHANGE", "NotificationMetadata": {"NotificationId": "o1"}, "Payload": {}}
    client = sqs._client()
    for body in (refund, shipment, order):
        client.send_message(QueueUrl=sqs.queue_url, MessageBody=json.dumps(body, default=str))
    with dg.instance_for_test() as instance:
        result = transaction_update_sensor(dg.build_sensor_context(instance=instance, resources={"returns_queue": sqs}))
        [request] = result.run_requests  # the shipment's transaction is not a refund: no run for it
        assert request.partition_key == event["posted"][:10]
        # the ORDER_CHANGE is not this queue's (the orders flow reads its own) and the shipment's transaction is no
        # refund: both deleted; the refund's notification stays hidden on the queue until its run succeeded
        assert _visible(sqs) == [] and _count(sqs) == 1
        assets, checks = flow_defs()
        defs = dg.Definitions(assets=assets, asset_checks=checks, jobs=[refund_transactions_job], resources=env)
        run = defs.resolve_job_def(request.job_name).execute_in_process(
            instance=instance, partition_key=request.partition_key, tags=request.tags)
        assert run.success
        after = transaction_update_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor,
                                                                  resources={"returns_queue": sqs}))
        assert not after.run_requests and _count(sqs) == 0  # deleted once its run succeeded
    rows = query(env, "SELECT amazon_order_id, CAST(posted_date AS VARCHAR) FROM raw.amazon_refund_transactions")
    assert (event["order_id"], event["posted"][:10]) in rows
    assert {d for _, d in rows} == {event["posted"][:10]}
