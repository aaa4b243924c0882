"""The sandbox while it runs: orders keep arriving and are announced, settlements close by themselves,
notifications are duplicated on demand, document URLs expire."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import httpx
from sp_api.api import Reports

from sage_amazon.sandbox.amazon import credentials, documents
from sage_amazon.sandbox.amazon.faults import Faults
from sage_amazon.sandbox.amazon.server import running_sandbox

from .conftest import make_client, subscribe
from .conftest import settlement_amount as amount


def _queue(endpoint: str) -> tuple[object, str]:
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x")
    url = sqs.create_queue(QueueName=credentials.DEFAULT_QUEUE_NAME)["QueueUrl"]
    while True:  # empty it (PurgeQueue is limited to once a minute)
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return sqs, url
        for msg in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])


def _drain(sqs: object, url: str, seconds: float, until) -> list[dict]:  # noqa: ANN001
    bodies: list[dict] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until(bodies):
        for msg in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
            bodies.append(json.loads(msg["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
        time.sleep(0.05)
    return bodies


def test_new_orders_keep_arriving_and_are_announced(tmp_path: Path, sqs_endpoint: str, models) -> None:
    sqs, url = _queue(sqs_endpoint)
    with running_sandbox(tmp_path, seed=11, history_days=10, order_rate=240, time_scale=200,
                         sqs_endpoint=sqs_endpoint) as sb:
        subscribe(sb)  # Amazon sends nothing before the application subscribes
        before = set(sb.world.state["orders"])

        def enough(bodies: list[dict]) -> bool:
            live = {b["Payload"]["OrderChangeNotification"]["AmazonOrderId"] for b in bodies
                    if b.get("NotificationType") == "ORDER_CHANGE"} - before
            return len(live) >= 3

        bodies = _drain(sqs, url, 90, enough)  # generous: a loaded machine
        assert enough(bodies)
        live_ids = set(sb.world.state["orders"]) - before
        assert len(live_ids) >= 3
        for body in bodies:
            if body.get("NotificationType") == "ORDER_CHANGE":
                models.validate_notification("OrderChangeNotification.json", body)
                order_id = body["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
                assert order_id in live_ids or order_id in before  # a recent history order may move too


def test_duplicated_notifications_on_demand(tmp_path: Path, sqs_endpoint: str) -> None:
    sqs, url = _queue(sqs_endpoint)
    with running_sandbox(tmp_path, seed=12, history_days=5, time_scale=100, sqs_endpoint=sqs_endpoint,
                         faults=Faults(duplicate_rate=1.0)) as sb:
        subscribe(sb)
        order = sb.add_order("A1PA6795UKMFR9")

        def mine(bodies: list[dict]) -> list[dict]:
            return [b for b in bodies if b.get("NotificationType") == "ORDER_CHANGE"
                    and b["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == order["id"]
                    and b["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"] == "Pending"]

        bodies = _drain(sqs, url, 60, lambda b: len(mine(b)) >= 2)
        pending = mine(bodies)
        assert len(pending) == 2
        assert pending[0]["NotificationMetadata"]["NotificationId"] == pending[1]["NotificationMetadata"][
            "NotificationId"]


class _Clock:
    """The seller's clock, moved by the test (an anchor, never the machine's clock)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


ANCHOR = datetime(2026, 10, 20, 9, 30, tzinfo=UTC)
MARKETPLACES = ("ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9")


def test_settlements_close_by_themselves(tmp_path: Path, sqs_endpoint: str) -> None:
    sqs, url = _queue(sqs_endpoint)
    clock = _Clock(ANCHOR)
    with running_sandbox(tmp_path, seed=13, history_days=30, now=ANCHOR, time_scale=100, clock=clock,
                         sqs_endpoint=sqs_endpoint, ticking=False) as sb:
        subscribe(sb)
        generated = set(sb.world.state["settlements"])
        clock.at = ANCHOR + timedelta(days=16)
        sb.tick()  # sixteen days pass in one step: every marketplace closes at least one period
        new = [s for sid, s in sb.world.state["settlements"].items() if sid not in generated]
        assert {s["marketplace_id"] for s in new} == set(MARKETPLACES)
        # every marketplace, as the product lists them: each region's on its own host with its own authorisation
        # (the client alone would add only its own marketplace)
        by_id = {}
        for region, mps in (("NA", MARKETPLACES[:1]), ("EU", MARKETPLACES[1:])):
            reports = make_client(Reports, sb.region_urls[region], mps[0],
                                  refresh_token=credentials.REGION_REFRESH_TOKENS[region])
            found = reports.get_reports(reportTypes=["GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"],
                                        marketplaceIds=",".join(mps), pageSize=100)
            assert "nextToken" not in found.payload
            by_id.update({r["reportDocumentId"]: reports for r in found.payload["reports"]})
        truths = {t.settlement_id: t for t in sb.truths()}
        listed: set[str] = set()
        for doc_id, reports in by_id.items():
            text = reports.get_report_document(doc_id, download=True).payload["document"]
            rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
            truth = truths[rows[0]["settlement-id"]]
            assert amount(rows[0]["total-amount"]) == truth.total == sum(amount(r["amount"]) for r in rows[1:])
            listed.add(rows[0]["settlement-id"])
        assert {s["settlement_id"] for s in new} <= listed
        assert listed == set(truths)
        finished = _drain(sqs, url, 120, lambda b: sum(  # behind every ORDER_CHANGE of 16 days on a busy machine
            1 for x in b if x.get("notificationType") == "REPORT_PROCESSING_FINISHED") >= 2 * len(new))
        types = {x["payload"]["reportProcessingFinishedNotification"]["reportType"] for x in finished
                 if x.get("notificationType") == "REPORT_PROCESSING_FINISHED"}
        assert types == {"GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE"}


def test_document_url_expires_after_five_minutes(sandbox, monkeypatch) -> None:
    reports = make_client(Reports, sandbox.base_url)
    found = reports.get_reports(reportTypes=["GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"]).payload["reports"]
    issued = ANCHOR
    monkeypatch.setattr(documents, "utcnow", lambda: issued)
    url = reports.get_report_document(found[0]["reportDocumentId"]).payload["url"]
    monkeypatch.setattr(documents, "utcnow", lambda: issued + timedelta(minutes=4, seconds=55))
    assert httpx.get(url).status_code == 200
    monkeypatch.setattr(documents, "utcnow", lambda: issued + timedelta(minutes=5, seconds=5))
    expired = httpx.get(url)
    assert expired.status_code == 403 and b"expired" in expired.content
