"""(d) FBA_INVENTORY_AVAILABILITY_CHANGES: the inventory sensor updates today's FBA inventory and discrepancy."""

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
        result = fba_inventory_sensor(dg.build_sensor_context(instance=instance, resources={"sqs": sqs}))
        [request] = result.run_requests
        assert request.partition_key == today()
        assert _visible(sqs) == ["ORDER_CHANGE"]  # handed back to the orders sensor; the inventory one consumed
        assets, checks = flow_defs()
        defs = dg.Definitions(assets=assets, asset_checks=checks, jobs=[fba_inventory_changes_job], resources=env)
        run = defs.resolve_job_def(request.job_name).execute_in_process(
            instance=instance, partition_key=request.partition_key, run_config=request.run_config, tags=request.tags)
        assert run.success
    assert query(env, "SELECT fulfillable, source FROM raw.amazon_fba_inventory WHERE marketplace_id = "
                      "'ATVPDKIKX0DER' AND sku = 'NW-TENT-2P'") == [(before - 7, "FBA_INVENTORY_AVAILABILITY_CHANGES")]
    [(fulfillable,)] = query(env, "SELECT amazon_fulfillable FROM marts.fba_discrepancy WHERE site = 'FBAUS' "
                                  "AND item = 'NW-TENT-2P'")
    assert fulfillable == before - 7
    assert query(env, "SELECT count(*) FROM raw.amazon_fba_inventory")[0][0] == 30  # the other rows stand
