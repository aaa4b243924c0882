"""`sage-amazon amazon connect` against the Amazon sandbox: one SQS queue and destination per consuming flow (the
destination created with a grantless token), each consumed type subscribed to its flow's queue, idempotently;
notifications arrive only after it, each type on its own queue: a backlog of one never delays another."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from sage_amazon.amazon import subscriptions
from sage_amazon.amazon.client import SpApiSettings
from sage_amazon.amazon.queues import flow_of, flow_queue_url
from sage_amazon.sandbox.amazon.server import free_port, running_sandbox
from sage_amazon.sandbox.sqs import SqsServer
from tests.sensor_runs import depth


@pytest.fixture(autouse=True)
def _fresh_tokens() -> None:
    from sp_api.auth import access_token_client

    access_token_client.cache.clear()
    access_token_client.grantless_cache.clear()


@pytest.fixture(scope="module")
def sqs_endpoint():
    server = SqsServer(port=free_port())
    server.start()
    try:
        yield server.endpoint
    finally:
        server.stop()


def settings_of(env: dict[str, str]) -> SpApiSettings:
    return SpApiSettings(endpoint=env["SP_API_ENDPOINT"], lwa_endpoint=env["SP_API_LWA_ENDPOINT"],
                         refresh_token=env["SP_API_REFRESH_TOKEN"], lwa_app_id=env["LWA_APP_ID"],
                         lwa_client_secret=env["LWA_CLIENT_SECRET"],
                         marketplaces=tuple(env["SP_API_MARKETPLACES"].split(",")))


def test_queue_arn() -> None:
    assert subscriptions.queue_arn("https://sqs.eu-west-1.amazonaws.com/123456789012/orders") == \
        "arn:aws:sqs:eu-west-1:123456789012:orders"
    assert subscriptions.queue_arn("http://127.0.0.1:9324/123456789012/sage-amazon-notifications") == \
        "arn:aws:sqs:us-east-1:123456789012:sage-amazon-notifications"
    with pytest.raises(subscriptions.ConnectError):
        subscriptions.queue_arn("http://127.0.0.1:9324/no-account")
    # each flow's queue: SQS_QUEUE_URL + "-<flow>"; every consumed type has its flow, nothing else has one
    assert flow_queue_url("https://sqs.eu-west-1.amazonaws.com/123456789012/sage", "orders") == \
        "https://sqs.eu-west-1.amazonaws.com/123456789012/sage-orders"
    assert {t: flow_of(t) for t in (*subscriptions.CONSUMED_TYPES, "FEED_PROCESSING_FINISHED")} == {
        "ORDER_CHANGE": "orders", "REPORT_PROCESSING_FINISHED": "settlements",
        "FBA_INVENTORY_AVAILABILITY_CHANGES": "inventory", "TRANSACTION_UPDATE": "returns",
        "FULFILLMENT_ORDER_STATUS": "mcf", "FEED_PROCESSING_FINISHED": None}


def test_connect_creates_a_queue_per_flow_is_idempotent_and_opens_the_queues(tmp_path: Path,
                                                                             sqs_endpoint: str) -> None:
    sqs = boto3.client("sqs", endpoint_url=sqs_endpoint, region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x")
    with running_sandbox(tmp_path, seed=21, history_days=3, time_scale=200, sqs_endpoint=sqs_endpoint) as sb:
        env = sb.env
        base = env["SQS_QUEUE_URL"].rsplit("/", 1)[0] + f"/connect-{uuid.uuid4().hex[:8]}"  # no queue yet
        sb.add_order("ATVPDKIKX0DER")
        time.sleep(1.0)
        assert sb.notifier.sent == 0  # before the setup Amazon sends nothing

        first = subscriptions.connect(settings_of(env), base)
        flows = ["orders", "settlements", "inventory", "returns", "mcf"]
        assert [(d.flow, d.created, d.queue_created) for d in first.destinations] == [(f, True, True) for f in flows]
        assert [d.queue_url for d in first.destinations] == [flow_queue_url(base, f) for f in flows]
        assert len({d.destination_id for d in first.destinations}) == 5
        assert [(s.notification_type, s.action) for s in first.subscriptions] == [
            ("ORDER_CHANGE", "created"), ("REPORT_PROCESSING_FINISHED", "created"),
            ("FBA_INVENTORY_AVAILABILITY_CHANGES", "created"), ("TRANSACTION_UPDATE", "created"),
            ("FULFILLMENT_ORDER_STATUS", "created")]
        for s in first.subscriptions:  # each type on its own flow's queue
            assert s.destination_id == first.destination(flow_of(s.notification_type)).destination_id
        again = subscriptions.connect(settings_of(env), base)
        assert [(d.destination_id, d.created, d.queue_created) for d in again.destinations] == [
            (d.destination_id, False, False) for d in first.destinations]
        assert [s.action for s in again.subscriptions] == ["kept", "kept", "kept", "kept", "kept"]
        assert [s.subscription_id for s in again.subscriptions] == [s.subscription_id for s in first.subscriptions]

        order = sb.add_order("ATVPDKIKX0DER")
        orders_queue = flow_queue_url(base, "orders")
        seen: set[str] = set()
        kinds: set[str] = set()
        deadline = time.monotonic() + 60
        while order["id"] not in seen and time.monotonic() < deadline:
            for msg in sqs.receive_message(QueueUrl=orders_queue, MaxNumberOfMessages=10).get("Messages", []):
                body = json.loads(msg["Body"])
                kinds.add(body.get("NotificationType") or body.get("notificationType"))
                if body.get("NotificationType") == "ORDER_CHANGE":
                    seen.add(body["Payload"]["OrderChangeNotification"]["AmazonOrderId"])
                sqs.delete_message(QueueUrl=orders_queue, ReceiptHandle=msg["ReceiptHandle"])
        assert order["id"] in seen and kinds == {"ORDER_CHANGE"}  # the orders queue holds order changes only

        # the subscriptions of an older single queue move to the flow queues
        old = env["SQS_QUEUE_URL"].rsplit("/", 1)[0] + f"/single-{uuid.uuid4().hex[:8]}"
        client = subscriptions.notifications_client(settings_of(env))
        single = client.create_destination(name="single", arn=subscriptions.queue_arn(old)).payload["destinationId"]
        for kind in ("ORDER_CHANGE", "TRANSACTION_UPDATE"):
            client.delete_notification_subscription(kind, client.get_subscription(kind).payload["subscriptionId"])
            client.create_subscription(kind, destination_id=single, payload_version="1.0")
        moved = subscriptions.connect(settings_of(env), base)
        assert [(s.notification_type, s.action) for s in moved.subscriptions] == [
            ("ORDER_CHANGE", "moved"), ("REPORT_PROCESSING_FINISHED", "kept"),
            ("FBA_INVENTORY_AVAILABILITY_CHANGES", "kept"), ("TRANSACTION_UPDATE", "moved"),
            ("FULFILLMENT_ORDER_STATUS", "kept")]
        assert all(s.destination_id == moved.destination(flow_of(s.notification_type)).destination_id
                   for s in moved.subscriptions)


@pytest.mark.timeout(900)  # its own deadline for the sandbox's delivery is 600 s; the suite's 300 s cut it
def test_a_backlog_of_1000_inventory_changes_never_delays_an_order_change(tmp_path: Path, sqs_endpoint: str) -> None:
    """Amazon delivers each type to its flow's queue: 1,000 FBA_INVENTORY_AVAILABILITY_CHANGES waiting on the
    inventory queue are never read by the orders sensor, whose first tick requests the ORDER_CHANGE's run."""
    import dagster as dg

    from resources.notifications import SqsResource
    from sage_amazon.sandbox.amazon.wire import iso
    from sensors.orders import order_change_sensor

    sqs = boto3.client("sqs", endpoint_url=sqs_endpoint, region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x")
    with running_sandbox(tmp_path, seed=23, history_days=2, ticking=False, sqs_endpoint=sqs_endpoint) as sb:
        base = sb.env["SQS_QUEUE_URL"].rsplit("/", 1)[0] + f"/backlog-{uuid.uuid4().hex[:8]}"
        subscriptions.connect(settings_of(sb.env), base)
        inventory_queue, orders_queue = flow_queue_url(base, "inventory"), flow_queue_url(base, "orders")
        with sb.world.lock:  # 1,000 inventory changes first, as Amazon sends them: through the subscriptions
            stock = next(iter(sb.world.state["inventory"].values()))
            for _ in range(1000):
                sb.world.emit("FBA_INVENTORY_AVAILABILITY_CHANGES", {"inventory": stock, "at": iso(sb.world.clock())})
        order = sb.add_order("ATVPDKIKX0DER")  # then an order (its ORDER_CHANGE behind the backlog)
        deadline = time.monotonic() + 600  # delivery by the sandbox: a condition, not a duration
        while (sb.world.state["outbox"] or depth(sqs, orders_queue) < 1) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert depth(sqs, inventory_queue) == 1000 and depth(sqs, orders_queue) >= 1

        queue = SqsResource(queue_url=orders_queue, aws_access_key_id="x", aws_secret_access_key="x")
        with dg.instance_for_test() as instance:
            result = order_change_sensor(dg.build_sensor_context(instance=instance, resources={"orders_queue": queue}))
        [request] = [r for r in result.run_requests if r.job_name == "order_changes_job"]
        assert request.run_config["ops"]["amazon_orders"]["config"]["order_ids"] == [order["id"]]
        # the orders sensor never touched the backlog: all 1,000 still visible for the inventory sensor
        attrs = sqs.get_queue_attributes(QueueUrl=inventory_queue, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        assert attrs == {"ApproximateNumberOfMessages": "1000", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_cli_reports_what_is_subscribed(tmp_path: Path, sqs_endpoint: str, monkeypatch) -> None:
    from sage_amazon.cli import main

    with running_sandbox(tmp_path, seed=22, history_days=2, sqs_endpoint=sqs_endpoint) as sb:
        for name, value in sb.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SAGE_AMAZON_DATA_DIR", str(tmp_path / "data"))
        result = CliRunner().invoke(main, ["amazon", "connect"])
        assert result.exit_code == 0, result.output
        assert "ORDER_CHANGE: subscription" in result.output and "(created)" in result.output
        assert result.output.strip().endswith(
            "subscribed: ORDER_CHANGE, REPORT_PROCESSING_FINISHED, FBA_INVENTORY_AVAILABILITY_CHANGES, "
            "TRANSACTION_UPDATE, FULFILLMENT_ORDER_STATUS")
        again = CliRunner().invoke(main, ["amazon", "connect"])
        assert again.exit_code == 0 and "(created)" not in again.output and "(kept)" in again.output, again.output
        bad = CliRunner().invoke(main, ["amazon", "connect", "--type", "NOPE"])
        assert bad.exit_code == 2 and "unknown notification type" in bad.output
        # a type no flow consumes is not subscribed: it would only fill a queue nobody reads
        unread = CliRunner().invoke(main, ["amazon", "connect", "--type", "FEED_PROCESSING_FINISHED"])
        assert unread.exit_code == 2 and "no flow consumes FEED_PROCESSING_FINISHED" in unread.output
