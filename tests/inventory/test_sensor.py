"""(d) FBA_INVENTORY_AVAILABILITY_CHANGES: the inventory sensor reads the inventory queue and updates today's FBA
inventory and discrepancy; a notification leaves the queue only once the run applying it succeeded."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pytest

from tests.inventory.conftest import FBA_PATH, flow_defs, materialize, query, today
from tests.sensor_runs import depth


@pytest.fixture
def sqs() -> Iterator[Any]:
    from resources.notifications import SqsResource
    from sage_amazon.sandbox.sqs import SqsServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = SqsServer(port=port)
    queue_url = server.start(queue=f"inventory-sensor-{uuid.uuid4().hex[:8]}")
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


@pytest.mark.parametrize("env", ["x3"], indirect=True)  # the notification path touches no ERP (the load does)
def test_notification_updates_today(env, amazon, sqs) -> None:
    from sage_amazon.sandbox.amazon import notifications as amazon_side
    from sensors.inventory import fba_inventory_changes_job, fba_inventory_sensor

    materialize(env, FBA_PATH[:-1])  # today's snapshot and discrepancy
    inv = dict(amazon.world.state["inventory"]["ATVPDKIKX0DER|NW-TENT-2P"])
    before = query(env, "SELECT fulfillable FROM raw.amazon_fba_inventory WHERE marketplace_id = 'ATVPDKIKX0DER' "
                        "AND sku = 'NW-TENT-2P'")[0][0]
    assert before == inv["fulfillable"]
    inv["fulfillable"] -= 7  # seven units sold out of the fulfilment centre
    now = datetime.now(UTC)  # clock-ok: the sensor's own clock is the machine's
    body = amazon_side.inventory_change({"inventory": inv, "at": now.strftime("%Y-%m-%dT%H:%M:%SZ")}, "sub-1", now)
    order = {"NotificationType": "ORDER_CHANGE", "NotificationMetadata": {"NotificationId": "o1"}, "Payload": {}}
    client = sqs._client()
    client.send_message(QueueUrl=sqs.queue_url, MessageBody=json.dumps(body))
    client.send_message(QueueUrl=sqs.queue_url, MessageBody=json.dumps(order))

    with dg.instance_for_test() as instance:
        day_before = today()  # the tick may cross midnight (make test-dates starts a clock at 23:58)
        result = fba_inventory_sensor(dg.build_sensor_context(instance=instance, resources={"inventory_queue": sqs}))
        [request] = result.run_requests
        assert request.partition_key in {day_before, today()}
        # the ORDER_CHANGE is not this queue's (the orders flow has its own): deleted; the inventory notification
        # stays hidden on the queue until its run succeeded
        assert _visible(sqs) == [] and _count(sqs) == 1
        assets, checks = flow_defs()
        defs = dg.Definitions(assets=assets, asset_checks=checks, jobs=[fba_inventory_changes_job], resources=env)
        run = defs.resolve_job_def(request.job_name).execute_in_process(
            instance=instance, partition_key=request.partition_key, run_config=request.run_config, tags=request.tags)
        assert run.success
        after = fba_inventory_sensor(dg.build_sensor_context(instance=instance, resources={"inventory_queue": sqs},
                                                             cursor=result.cursor))
        assert not after.run_requests and _count(sqs) == 0  # deleted once its run succeeded
    assert query(env, "SELECT fulfillable, source FROM raw.amazon_fba_inventory WHERE marketplace_id = "
                      "'ATVPDKIKX0DER' AND sku = 'NW-TENT-2P'") == [(before - 7, "FBA_INVENTORY_AVAILABILITY_CHANGES")]
    [(fulfillable,)] = query(env, "SELECT amazon_fulfillable FROM marts.fba_discrepancy WHERE site = 'FBAUS' "
                                  "AND item = 'NW-TENT-2P'")
    assert fulfillable == before - 7
    assert query(env, "SELECT count(*) FROM raw.amazon_fba_inventory")[0][0] == 30  # the other rows stand


def _inventory_notification(nid: str) -> str:
    return json.dumps({"NotificationType": "FBA_INVENTORY_AVAILABILITY_CHANGES", "EventTime": "2026-11-22T10:00:00Z",
                       "NotificationMetadata": {"NotificationId": nid}, "Payload": {}})


def test_notifications_leave_the_queue_only_once_their_run_succeeded(sqs, monkeypatch) -> None:
    """A backlog is taken MAX_MESSAGES a run; a failed run's notifications come back after their back-off for a
    retry; a duplicate joins its run; the queue empties only as runs succeed (no wall clock: runs are records)."""
    from sage_amazon.amazon import notification_runs
    from sensors import inventory
    from sensors.inventory import BATCH_TAG, fba_inventory_sensor
    from tests import sensor_runs

    monkeypatch.setattr(notification_runs, "BACKOFF_SECONDS", (0,))  # a failed run's messages come back at once
    monkeypatch.setattr(inventory, "MAX_MESSAGES", 20)  # moto's receive slows with its queue: a small backlog
    client = sqs._client()
    for start in range(0, 100, 10):
        client.send_message_batch(QueueUrl=sqs.queue_url, Entries=[
            {"Id": str(i), "MessageBody": _inventory_notification(f"i{i}")} for i in range(start, start + 10)])
    client.send_message(QueueUrl=sqs.queue_url, MessageBody=_inventory_notification("i0"))  # a duplicate

    def tick(instance, cursor):
        return fba_inventory_sensor(dg.build_sensor_context(instance=instance, cursor=cursor,
                                                            resources={"inventory_queue": sqs}))

    with dg.instance_for_test() as instance:
        first = tick(instance, None)
        [request] = first.run_requests
        assert request.tags[BATCH_TAG] == request.run_key
        assert len(request.run_config["ops"]["amazon_fba_inventory"]["config"]["notifications"]) in (19, 20)
        assert _count(sqs) == 101  # nothing deleted when the run is requested
        # the run fails: its notifications come back (nothing deleted), counted as a failed attempt
        sensor_runs.record(instance, request, failed=True)
        result = tick(instance, first.cursor)
        assert _count(sqs) == 101
        assert len(json.loads(result.cursor)["attempts"]) in (19, 20)
        runs = 0
        while _count(sqs) and runs < 10:  # every run requested from now on succeeds
            for succeeded in result.run_requests or []:
                sensor_runs.record(instance, succeeded)
                runs += 1
            result = tick(instance, result.cursor)
        assert _count(sqs) == 0  # every notification (and the duplicate) deleted, each once its run succeeded
        assert runs in (5, 6)  # 20 a run (the duplicate may make one more)
        cursor = json.loads(result.cursor)
        assert sorted(cursor["done"]) == sorted(f"i{i}" for i in range(100)) and cursor["inflight"] == {}
        assert cursor["attempts"] == {}  # the retried ones succeeded
