"""`sage-amazon amazon connect` against the Amazon sandbox: the SQS destination is created with a grantless
token, one subscription per consumed type, idempotently; notifications arrive only after it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from sage_amazon.amazon import subscriptions
from sage_amazon.amazon.client import SpApiSettings
from sage_amazon.sandbox.amazon.server import free_port, running_sandbox
from sage_amazon.sandbox.sqs import SqsServer


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


def test_connect_is_idempotent_and_opens_the_queue(tmp_path: Path, sqs_endpoint: str) -> None:
    sqs = boto3.client("sqs", endpoint_url=sqs_endpoint, region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x")
    with running_sandbox(tmp_path, seed=21, history_days=3, time_scale=200, sqs_endpoint=sqs_endpoint) as sb:
        env = sb.env
        queue_url = env["SQS_QUEUE_URL"]
        sqs.create_queue(QueueName=queue_url.rsplit("/", 1)[1])
        sb.add_order("ATVPDKIKX0DER")
        time.sleep(1.0)
        assert sb.notifier.sent == 0  # before the setup Amazon sends nothing

        first = subscriptions.connect(settings_of(env), queue_url)
        assert first.destination_created
        assert [(s.notification_type, s.action) for s in first.subscriptions] == [
            ("ORDER_CHANGE", "created"), ("REPORT_PROCESSING_FINISHED", "created"),
            ("FBA_INVENTORY_AVAILABILITY_CHANGES", "created"), ("TRANSACTION_UPDATE", "created")]
        again = subscriptions.connect(settings_of(env), queue_url)
        assert not again.destination_created and again.destination_id == first.destination_id
        assert [s.action for s in again.subscriptions] == ["kept", "kept", "kept", "kept"]
        assert [s.subscription_id for s in again.subscriptions] == [s.subscription_id for s in first.subscriptions]

        order = sb.add_order("ATVPDKIKX0DER")
        seen: set[str] = set()
        deadline = time.monotonic() + 60  # generous: a loaded machine
        while order["id"] not in seen and time.monotonic() < deadline:
            for msg in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
                body = json.loads(msg["Body"])
                if body.get("NotificationType") == "ORDER_CHANGE":
                    seen.add(body["Payload"]["OrderChangeNotification"]["AmazonOrderId"])
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"])
        assert order["id"] in seen

        # a second queue: the subscriptions move to it, the first destination stays
        other = queue_url.rsplit("/", 1)[0] + "/sage-amazon-other"
        moved = subscriptions.connect(settings_of(env), other, ("ORDER_CHANGE", "TRANSACTION_UPDATE"))
        assert moved.destination_created and moved.destination_id != first.destination_id
        assert [(s.notification_type, s.action) for s in moved.subscriptions] == [
            ("ORDER_CHANGE", "moved"), ("TRANSACTION_UPDATE", "moved")]


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
            "TRANSACTION_UPDATE")
        again = CliRunner().invoke(main, ["amazon", "connect"])
        assert again.exit_code == 0 and "(created)" not in again.output and "(kept)" in again.output, again.output
        bad = CliRunner().invoke(main, ["amazon", "connect", "--type", "NOPE"])
        assert bad.exit_code == 2 and "unknown notification type" in bad.output
