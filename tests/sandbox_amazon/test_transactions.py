"""Finances 2024-06-19 listTransactions (finances_2024-06-19.json) and TRANSACTION_UPDATE
(schemas/notifications/TransactionUpdateNotification.json): transactions agree with the settlements and
Finances v0, and the notification reaches only a subscribed destination."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from sp_api.api import Finances, FinancesV20240619, Notifications
from sp_api.base import SellingApiBadRequestException

from sage_amazon.sandbox.amazon.server import running_sandbox

from .conftest import SELLER_CLOCK, make_client

MODEL = "finances-api-model/finances_2024-06-19.json"


def ago(**kw: float) -> str:
    """A time on the module sandbox's clock (anchored: see conftest.SELLER_CLOCK)."""
    return (SELLER_CLOCK() - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


def all_transactions(api, recorder, models, **params) -> list[dict]:  # noqa: ANN001
    out: list[dict] = []
    res = api.list_transactions(**params)
    while True:
        models.validate(MODEL, "listTransactions", 200, recorder.last[3])
        out += res.payload["transactions"]
        if not res.payload.get("nextToken"):
            return out
        res = api.list_transactions(nextToken=res.payload["nextToken"])


def test_transactions_add_up_to_each_settlement(client, recorder, models, sandbox) -> None:
    api = client(FinancesV20240619)
    txns = all_transactions(api, recorder, models, postedAfter=ago(days=89))
    assert len(txns) > 100 and len({t["transactionId"] for t in txns}) == len(txns)
    assert {t["transactionType"] for t in txns} >= {"Shipment", "Refund", "ServiceFee", "Adjustment"}
    assert recorder.responses[-1][2] == 200
    by_group: dict[str, Decimal] = defaultdict(Decimal)
    for t in txns:
        ids = {r["relatedIdentifierName"]: r["relatedIdentifierValue"] for r in t["relatedIdentifiers"]}
        amount = Decimal(str(t["totalAmount"]["currencyAmount"]))
        assert amount == sum((Decimal(str(i["totalAmount"]["currencyAmount"])) for i in t["items"]), Decimal(0)) \
            or not t["items"] or t["transactionType"] != "Shipment"
        by_group[ids["FINANCIAL_EVENT_GROUP_ID"]] += amount
        if t["transactionType"] == "Shipment":
            assert ids["ORDER_ID"] and t["items"][0]["contexts"][0]["contextType"] == "ProductContext"
    cutoff = sandbox.world.clock() - timedelta(days=89)
    with sandbox.world.lock:
        settlements = [s for s in sandbox.world.state["settlements"].values()  # the NA host's (US) only
                       if datetime.fromisoformat(s["start"].replace("Z", "+00:00")) > cutoff
                       and s["marketplace_id"] == "ATVPDKIKX0DER"]
    assert settlements
    for s in settlements:  # the settlement total = its transactions + the reserve lines (settlement-only)
        reserve = sum((Decimal(x["amount"]) for x in s["reserve_lines"]), Decimal(0))
        assert by_group[s["group_id"]] + reserve == Decimal(s["total"]), s["settlement_id"]
    # filtering by the group gives the same set, and equals Finances v0 for that group
    s = settlements[-1]
    group = all_transactions(api, recorder, models, relatedIdentifierName="FINANCIAL_EVENT_GROUP_ID",
                             relatedIdentifierValue=s["group_id"])
    assert sum(Decimal(str(t["totalAmount"]["currencyAmount"])) for t in group) == by_group[s["group_id"]]
    v0 = client(Finances).list_financial_events_by_group_id(s["group_id"], MaxResultsPerPage=100)
    assert v0.payload["FinancialEvents"]


def test_transactions_by_order_and_errors(client, recorder, models) -> None:
    api = client(FinancesV20240619)
    some = api.list_transactions(postedAfter=ago(days=30)).payload["transactions"]
    order_id = next(t for t in some if t["transactionType"] == "Shipment")["relatedIdentifiers"][0][
        "relatedIdentifierValue"]
    mine = api.list_transactions(relatedIdentifierName="ORDER_ID", relatedIdentifierValue=order_id)
    models.validate(MODEL, "listTransactions", 200, recorder.last[3])
    assert mine.payload["transactions"] and all(
        {"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": order_id} in t["relatedIdentifiers"]
        for t in mine.payload["transactions"])
    # "postedAfter ... is required if you do not specify a related identifier"; dates 2 minutes in the past
    for params in ({}, {"postedAfter": ago(seconds=30)}, {"postedAfter": ago(days=2), "postedBefore": ago(days=3)},
                   {"postedAfter": ago(days=2), "transactionStatus": "PAID"}):
        with pytest.raises(SellingApiBadRequestException):
            api.list_transactions(**params)
        models.validate(MODEL, "listTransactions", 400, recorder.last[3])
    # "If PostedAfter and PostedBefore are more than 180 days apart, the response is empty"
    wide = api.list_transactions(postedAfter=ago(days=400), postedBefore=ago(days=1))
    assert wide.payload["transactions"] == []
    assert wide.headers["x-amzn-RateLimit-Limit"] == "0.5"


def _queue(sqs, name: str) -> str:  # noqa: ANN001
    return sqs.create_queue(QueueName=name)["QueueUrl"]


def _drain(sqs, url: str) -> list[dict]:  # noqa: ANN001
    out = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def _ship_an_order(sb) -> str:  # noqa: ANN001
    """Place orders until an FBA one ships (time_scale makes that a fraction of a second); its id."""
    for _ in range(30):
        order = sb.add_order("ATVPDKIKX0DER")
        if order["channel"] == "AFN" and order["plan"].get("ship_at"):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with sb.world.lock:
                    if any(e.get("order_id") == order["id"] for e in sb.world.state["events"].values()):
                        return order["id"]
                time.sleep(0.1)
    raise AssertionError("no order shipped")


def test_transaction_update_only_to_a_subscribed_destination(tmp_path: Path, sqs_endpoint: str, models) -> None:
    sqs = boto3.client("sqs", endpoint_url=sqs_endpoint, region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x")
    with running_sandbox(tmp_path, seed=5, history_days=10, time_scale=1000, sqs_endpoint=sqs_endpoint) as sb:
        default_url = sb.env["SQS_QUEUE_URL"]
        _drain(sqs, default_url)
        unsubscribed = _ship_an_order(sb)
        time.sleep(1.5)  # the notifier delivers within a second
        kinds = {b.get("NotificationType") or b.get("notificationType") for b in _drain(sqs, default_url)}
        assert "TRANSACTION_UPDATE" not in kinds  # no subscription: Amazon sends nothing
        name = f"txn-{time.monotonic_ns()}"
        url = _queue(sqs, name)
        api = make_client(Notifications, sb.base_url)
        dest = api.create_destination(name="sage", arn=f"arn:aws:sqs:us-east-1:123456789012:{name}")
        api.create_subscription("TRANSACTION_UPDATE", destination_id=dest.payload["destinationId"],
                                payloadVersion="1.0")
        shipped = _ship_an_order(sb)
        got: list[dict] = []
        deadline = time.monotonic() + 60  # generous: a loaded machine
        while time.monotonic() < deadline and not any(
                r["RelatedIdentifierValue"] == shipped for b in got
                for r in b["Payload"]["TransactionUpdateNotification"]["RelatedIdentifiers"]):
            got += _drain(sqs, url)
            time.sleep(0.2)
        assert got and {b["NotificationType"] for b in got} == {"TRANSACTION_UPDATE"}
        for body in got:
            models.validate_notification("TransactionUpdateNotification.json", body)
        ids = {r["RelatedIdentifierValue"] for b in got for r in b["Payload"]["TransactionUpdateNotification"][
            "RelatedIdentifiers"]}
        assert shipped in ids and unsubscribed not in ids
        # the notification carries the posted transaction's amount (listTransactions shows it once it is more
        # than two minutes old: postedBefore must be two minutes in the past)
        note = next(b for b in got if shipped in {r["RelatedIdentifierValue"] for r in b["Payload"][
            "TransactionUpdateNotification"]["RelatedIdentifiers"]})["Payload"]["TransactionUpdateNotification"]
        with sb.world.lock:
            event = next(e for e in sb.world.state["events"].values() if e.get("order_id") == shipped)
        assert Decimal(str(note["TotalAmount"]["CurrencyAmount"])) == sum(
            (Decimal(x["amount"]) for x in event["lines"]), Decimal(0))
        assert note["TransactionType"] == "Shipment" and note["PostedDate"] == event["posted"]
