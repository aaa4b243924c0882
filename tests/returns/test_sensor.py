"""(d) TRANSACTION_UPDATE: the returns sensor reads the notified refund day's transactions again; other types are
handed back; the orders inbox hands TRANSACTION_UPDATE over instead of deleting it."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import dagster as dg
import pytest

from tests.returns.conftest import ANCHOR, flow_defs, query


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
        result = transaction_update_sensor(dg.build_sensor_context(instance=instance, resources={"sqs": sqs}))
        [request] = result.run_requests  # the shipment's transaction is not a refund: no run for it
        assert request.partition_key == event["posted"][:10]
        assert _visible(sqs) == ["ORDER_CHANGE"]  # handed back to the orders sensor
        assets, checks = flow_defs()
        defs = dg.Definitions(assets=assets, asset_checks=checks, jobs=[refund_transactions_job], resources=env)
        run = defs.resolve_job_def(request.job_name).execute_in_process(
            instance=instance, partition_key=request.partition_key, tags=request.tags)
        assert run.success
    rows = query(env, "SELECT amazon_order_id, CAST(posted_date AS VARCHAR) FROM raw.amazon_refund_transactions")
    assert (event["order_id"], event["posted"][:10]) in rows
    assert {d for _, d in rows} == {event["posted"][:10]}


def test_orders_inbox_hands_transaction_updates_over() -> None:
    from sage_amazon.orders import inbox

    body = json.dumps({"NotificationType": "TRANSACTION_UPDATE", "Payload": {"TransactionUpdateNotification": {}}})
    assert inbox.consumer(body)[0] == "returns"
    actions, taken = inbox.Inbox().take([SimpleNamespace(body=body, receipt_handle="h1", message_id="m1")],
                                        lambda parsed: None)
    assert taken == 0 and not actions.delete  # hidden for the returns sensor, never deleted
    assert actions.hide == {inbox.INVENTORY_HANDOFF_SECONDS: ["h1"]}
