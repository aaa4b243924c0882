"""Finances 2024-06-19: listTransactions, and the TRANSACTION_UPDATE notification of each new transaction.

One transaction per posted financial event of the world: the same events Finances v0 lists and the
settlement files carry, so a transaction's totalAmount adds up with its settlement (reserve movements
exist only in the settlement file, as in v0). Shapes follow finances_2024-06-19.json (Transaction) and
schemas/notifications/TransactionUpdateNotification.json.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request

from sage_amazon.sandbox.amazon import credentials, regions
from sage_amazon.sandbox.amazon.guard import guard, json_response
from sage_amazon.sandbox.amazon.wire import bad_request, decode_token, encode_token, iso, parse_iso
from sage_amazon.sandbox.seller_catalog import CATALOG_BY_SKU, MARKETPLACES_BY_ID, SELLER_ID

router = APIRouter()
MIN_AGE = timedelta(minutes=2)
MAX_SPAN = timedelta(days=180)
PAGE_SIZE = 100
ACCOUNT_TYPE = "PAYABLE"
STATUSES = ("DEFERRED", "RELEASED", "DEFERRED_RELEASED")
FILTERABLE = ("ORDER_ID", "FINANCIAL_EVENT_GROUP_ID")
# settlement amount-type -> the breakdown type of the 2024-06-19 model
BREAKDOWN_TYPES = {"ItemPrice": "ProductCharges", "ItemFees": "AmazonFees", "ItemWithheldTax": "Tax",
                   "Promotion": "Promotions", "Cost of Advertising": "AdvertisingFees",
                   "FBA Inventory Reimbursement": "Reimbursements", "other-transaction": "OtherFees"}


def transaction_id(event_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:txn:{event_id}".encode()).hexdigest()[:43]


def _kind(event: dict[str, Any]) -> tuple[str, str]:
    """(transactionType, description) of an event."""
    if event["kind"] == "Order":
        return "Shipment", "Order Payment"
    if event["kind"] == "Refund":
        return "Refund", "Refund Order"
    if event["kind"] == "ServiceFee":
        return "ServiceFee", event.get("description") or "Cost of Advertising"
    description = event.get("description") or "Adjustment"
    if description in ("Subscription Fee", "Storage Fee"):
        return "ServiceFee", description
    return "Adjustment", description


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"currencyCode": currency, "currencyAmount": Decimal(amount)}


def _breakdowns(lines: list[dict[str, Any]], currency: str) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Decimal]] = {}
    for line in lines:
        group = groups.setdefault(BREAKDOWN_TYPES.get(line["amount_type"], line["amount_type"]), {})
        group[line["amount_description"]] = group.get(line["amount_description"], Decimal("0")) + Decimal(line["amount"])
    return [{"breakdownType": name, "breakdownAmount": _money(sum(parts.values(), Decimal("0")), currency),
             "breakdowns": [{"breakdownType": desc, "breakdownAmount": _money(value, currency), "breakdowns": []}
                            for desc, value in parts.items()]}
            for name, parts in groups.items()]


def group_of(world: Any, event: dict[str, Any], closed: dict[str, dict[str, Any]]) -> tuple[str, str | None]:
    """(FinancialEventGroupId, settlement id or None) of an event; `closed` maps event id -> settlement."""
    settlement = closed.get(event["id"])
    if settlement is not None:
        return settlement["group_id"], settlement["settlement_id"]
    mp = event["marketplace_id"]
    return f"OPEN-{mp}-{world.meta['closed_until'][mp][:10]}", None


def closed_events(world: Any) -> dict[str, dict[str, Any]]:
    return {eid: s for s in world.state["settlements"].values() for eid in s["event_ids"]}


def transaction(world: Any, event: dict[str, Any], closed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    mp = MARKETPLACES_BY_ID[event["marketplace_id"]]
    currency = mp.currency
    ttype, description = _kind(event)
    group_id, settlement_id = group_of(world, event, closed)
    related = []
    if event.get("order_id"):
        related.append({"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": event["order_id"]})
    if event.get("shipment_id") and event["kind"] == "Order":
        related.append({"relatedIdentifierName": "SHIPMENT_ID", "relatedIdentifierValue": event["shipment_id"]})
    if event["kind"] == "Refund" and event.get("adjustment_id"):
        related.append({"relatedIdentifierName": "REFUND_ID", "relatedIdentifierValue": event["adjustment_id"]})
    if event.get("invoice_id"):
        related.append({"relatedIdentifierName": "INVOICE_ID", "relatedIdentifierValue": event["invoice_id"]})
    related.append({"relatedIdentifierName": "FINANCIAL_EVENT_GROUP_ID", "relatedIdentifierValue": group_id})
    if settlement_id:
        related.append({"relatedIdentifierName": "SETTLEMENT_ID", "relatedIdentifierValue": settlement_id})
    items = []
    by_item: dict[str, list[dict[str, Any]]] = {}
    for line in event["lines"]:
        if line.get("sku"):
            by_item.setdefault(line.get("order_item_code") or line["sku"], []).append(line)
    for code, lines in by_item.items():
        cat = CATALOG_BY_SKU.get(lines[0]["sku"])
        item: dict[str, Any] = {
            "description": cat.title if cat else lines[0]["sku"],
            "totalAmount": _money(sum((Decimal(x["amount"]) for x in lines), Decimal("0")), currency),
            "breakdowns": _breakdowns(lines, currency),
            "contexts": [{"contextType": "ProductContext", "asin": cat.asin if cat else "", "sku": lines[0]["sku"],
                          "quantityShipped": int(lines[0].get("qty") or 0),
                          "fulfillmentNetwork": event.get("fulfillment") or ("AFN" if cat and cat.fba else "MFN")}],
        }
        if event["kind"] == "Refund" and code.isdigit():  # an order item code
            item["relatedIdentifiers"] = [{"itemRelatedIdentifierName": "ORDER_ADJUSTMENT_ITEM_ID",
                                           "itemRelatedIdentifierValue": code + "1"}]
        items.append(item)
    total = sum((Decimal(line["amount"]) for line in event["lines"]), Decimal("0"))
    body: dict[str, Any] = {
        "sellingPartnerMetadata": {"sellingPartnerId": SELLER_ID, "accountType": ACCOUNT_TYPE,
                                   "marketplaceId": mp.marketplace_id},
        "relatedIdentifiers": related,
        "transactionType": ttype,
        "transactionId": transaction_id(event["id"], world.options.seed),
        "transactionStatus": "RELEASED",
        "description": description,
        "postedDate": event["posted"],
        "totalAmount": _money(total, currency),
        "marketplaceDetails": {"marketplaceId": mp.marketplace_id, "marketplaceName": mp.name},
        "items": items,
        "breakdowns": _breakdowns(event["lines"], currency),
    }
    return body


def update_notification(data: dict[str, Any], subscription_id: str, now: datetime) -> dict[str, Any]:
    """TRANSACTION_UPDATE (PascalCase, TransactionUpdateNotification.json) for a newly posted event."""
    event = data["event"]
    mp = MARKETPLACES_BY_ID[event["marketplace_id"]]
    ttype, _ = _kind(event)
    related = []
    if event.get("order_id"):
        related.append({"RelatedIdentifierName": "OrderId", "RelatedIdentifierValue": event["order_id"]})
    if event.get("shipment_id") and event["kind"] == "Order":
        related.append({"RelatedIdentifierName": "ShipmentId", "RelatedIdentifierValue": event["shipment_id"]})
    total = sum((Decimal(line["amount"]) for line in event["lines"]), Decimal("0"))
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "TRANSACTION_UPDATE",
        "PayloadVersion": "1.0",
        "EventTime": iso(now),
        "Payload": {"TransactionUpdateNotification": {
            "SellingPartnerMetadata": {"SellingPartnerId": SELLER_ID, "MarketplaceId": mp.marketplace_id,
                                       "AccountType": ACCOUNT_TYPE},
            "RelatedIdentifiers": related,
            "TransactionType": ttype,
            "PostedDate": event["posted"],
            "TotalAmount": {"CurrencyAmount": total, "CurrencyCode": mp.currency},
        }},
        "NotificationMetadata": {"ApplicationId": credentials.APPLICATION_ID, "SubscriptionId": subscription_id,
                                 "PublishTime": iso(now), "NotificationId": str(uuid.uuid4())},
    }


def _query(params: Any, now: datetime) -> dict[str, Any]:
    name, value = params.get("relatedIdentifierName"), params.get("relatedIdentifierValue")
    if bool(name) != bool(value):
        raise bad_request("relatedIdentifierName and relatedIdentifierValue must be given together.")
    if name and name not in FILTERABLE:
        raise bad_request(f"relatedIdentifierName must be one of {', '.join(FILTERABLE)}.")
    if not name and not params.get("postedAfter"):
        raise bad_request("postedAfter is required when no related identifier is given.")
    status = params.get("transactionStatus")
    if status and status not in STATUSES:
        raise bad_request(f"transactionStatus must be one of {', '.join(STATUSES)}.")
    try:
        after = parse_iso(params["postedAfter"]) if params.get("postedAfter") else None
        before = parse_iso(params["postedBefore"]) if params.get("postedBefore") else now - MIN_AGE
    except ValueError as exc:
        raise bad_request("postedAfter and postedBefore must be ISO 8601 date-times.") from exc
    if after is not None and after > now - MIN_AGE:
        raise bad_request("Date postedAfter must be no later than 2 minutes before the time the request was"
                          " submitted.")
    if before > now - MIN_AGE:
        raise bad_request("Date postedBefore must be no later than 2 minutes before the time the request was"
                          " submitted.")
    if after is not None and after >= before:
        raise bad_request("postedAfter must be before postedBefore.")
    mp = params.get("marketplaceId")
    if mp and mp not in MARKETPLACES_BY_ID:
        raise bad_request(f"Invalid marketplaceId: {mp}.")
    return {"op": "listTransactions", "after": iso(after) if after else None, "before": iso(before),
            "mp": mp, "status": status, "name": name, "value": value, "offset": 0}


@router.get("/finances/2024-06-19/transactions")
def list_transactions(request: Request) -> Any:
    sandbox = guard(request, "listTransactions")
    world = sandbox.world
    params = request.query_params
    if params.get("nextToken"):
        query = decode_token(params["nextToken"])
        if query is None or query.get("op") != "listTransactions":
            raise bad_request("Invalid nextToken.")
    else:
        query = {**_query(params, world.clock()), "region": regions.of_request(request)}
    with world.lock:
        closed = closed_events(world)
        after = parse_iso(query["after"]) if query["after"] else None
        before = parse_iso(query["before"])
        selected = []
        if after is None or before - after <= MAX_SPAN:  # "more than 180 days apart: the response is empty"
            for event in world.state["events"].values():
                posted = parse_iso(event["posted"])
                if (after is not None and posted < after) or posted >= before:
                    continue
                if query["mp"] and event["marketplace_id"] != query["mp"]:
                    continue
                if not regions.in_region(event["marketplace_id"], query.get("region")):
                    continue
                if query["status"] and query["status"] != "RELEASED":
                    continue
                if query["name"] == "ORDER_ID" and event.get("order_id") != query["value"]:
                    continue
                if query["name"] == "FINANCIAL_EVENT_GROUP_ID" and group_of(world, event, closed)[0] != query["value"]:
                    continue
                selected.append(event)
        selected.sort(key=lambda e: (e["posted"], e["id"]))
        offset = query["offset"]
        page = [transaction(world, e, closed) for e in selected[offset:offset + PAGE_SIZE]]
    payload: dict[str, Any] = {"transactions": page}
    if offset + PAGE_SIZE < len(selected):
        payload["nextToken"] = encode_token({**query, "offset": offset + PAGE_SIZE})
    return json_response({"payload": payload})
