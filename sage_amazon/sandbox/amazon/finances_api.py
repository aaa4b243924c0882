"""Finances v0: listFinancialEventGroups, listFinancialEvents (+ by group id / order id).

A group is a settlement period of a marketplace; its events are exactly the settlement's order, refund,
fee and reimbursement lines (reserve movements exist only in the settlement file, as with Amazon).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request

from sage_amazon.sandbox.amazon import regions
from sage_amazon.sandbox.amazon.guard import guard, json_response
from sage_amazon.sandbox.amazon.seller import settlement_period
from sage_amazon.sandbox.amazon.wire import (
    bad_request,
    decode_token,
    encode_token,
    iso,
    not_found,
    parse_iso,
)
from sage_amazon.sandbox.seller_catalog import CATALOG_BY_SKU, MARKETPLACES_BY_ID

router = APIRouter()
MIN_AGE = timedelta(minutes=2)


def _cur(amount: Decimal | str, currency: str) -> dict[str, Any]:
    return {"CurrencyCode": currency, "CurrencyAmount": Decimal(amount)}


def groups(world: Any) -> list[dict[str, Any]]:
    now = world.clock()
    out = []
    for s in world.state["settlements"].values():
        deposit = parse_iso(s["deposit"])
        out.append({
            "FinancialEventGroupId": s["group_id"], "ProcessingStatus": "Closed",
            "FundTransferStatus": "Succeeded" if deposit <= now else "Processing",
            "OriginalTotal": _cur(s["total"], s["currency"]), "ConvertedTotal": _cur(s["total"], s["currency"]),
            "FundTransferDate": s["deposit"], "TraceId": f"TRACE{s['settlement_id']}", "AccountTail": "042",
            "BeginningBalance": _cur("0", s["currency"]), "FinancialEventGroupStart": s["start"],
            "FinancialEventGroupEnd": s["end"], "_mp": s["marketplace_id"]})
    for mp in world.options.marketplace_ids:
        start = parse_iso(world.meta["closed_until"][mp])
        currency = MARKETPLACES_BY_ID[mp].currency
        total = sum((Decimal(line["amount"]) for e in world.state["events"].values()
                     if e["marketplace_id"] == mp and parse_iso(e["posted"]) >= start for line in e["lines"]),
                    Decimal("0"))
        out.append({"FinancialEventGroupId": f"OPEN-{mp}-{iso(start)[:10]}", "ProcessingStatus": "Open",
                    "FundTransferStatus": "Unknown", "OriginalTotal": _cur(total, currency),
                    "BeginningBalance": _cur("0", currency), "FinancialEventGroupStart": iso(start), "_mp": mp})
    out.sort(key=lambda g: g["FinancialEventGroupStart"])
    return out


def _charge_lists(lines: list[dict[str, Any]], currency: str, refund: bool) -> list[dict[str, Any]]:
    by_item: dict[str, dict[str, Any]] = {}
    for line in lines:
        code = line.get("order_item_code", "")
        item = by_item.setdefault(code, {"SellerSKU": line.get("sku", ""), "OrderItemId": code,
                                         "QuantityShipped": line.get("qty", 0), "charges": [], "fees": [],
                                         "withheld": [], "promos": []})
        amount = _cur(line["amount"], currency)
        if line["amount_type"] == "ItemPrice":
            item["charges"].append({"ChargeType": line["amount_description"], "ChargeAmount": amount})
        elif line["amount_type"] == "ItemFees":
            item["fees"].append({"FeeType": line["amount_description"], "FeeAmount": amount})
        elif line["amount_type"] == "ItemWithheldTax":
            item["withheld"].append({"ChargeType": line["amount_description"], "ChargeAmount": amount})
        elif line["amount_type"] == "Promotion":
            item["promos"].append({"PromotionType": line["amount_description"],
                                   "PromotionId": line.get("promotion_id", ""), "PromotionAmount": amount})
    suffix = "AdjustmentList" if refund else "List"
    out = []
    for item in by_item.values():
        entry: dict[str, Any] = {"SellerSKU": item["SellerSKU"], "OrderItemId": item["OrderItemId"],
                                 "QuantityShipped": item["QuantityShipped"],
                                 f"ItemCharge{suffix}": item["charges"], f"ItemFee{suffix}": item["fees"],
                                 f"Promotion{suffix}": item["promos"]}
        if refund:
            entry["OrderAdjustmentItemId"] = item["OrderItemId"] + "1"
        if item["withheld"]:
            entry["ItemTaxWithheldList"] = [{"TaxCollectionModel": "MarketplaceFacilitator",
                                             "TaxesWithheld": item["withheld"]}]
        out.append(entry)
    return out


def render_events(world: Any, events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    lists: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        mp = MARKETPLACES_BY_ID[e["marketplace_id"]]
        cur = mp.currency
        if e["kind"] in ("Order", "Refund"):
            refund = e["kind"] == "Refund"
            lists["RefundEventList" if refund else "ShipmentEventList"].append({
                "AmazonOrderId": e["order_id"], "MarketplaceName": mp.name, "PostedDate": e["posted"],
                "ShipmentItemAdjustmentList" if refund else "ShipmentItemList": _charge_lists(e["lines"], cur,
                                                                                             refund)})
        elif e["kind"] == "ServiceFee":
            line = e["lines"][0]
            lists["ProductAdsPaymentEventList"].append({
                "postedDate": e["posted"], "transactionType": "charge", "invoiceId": e.get("invoice_id", ""),
                "baseValue": _cur(line["amount"], cur), "taxValue": _cur("0", cur),
                "transactionValue": _cur(line["amount"], cur)})
        elif e.get("description") in ("Subscription Fee", "Storage Fee"):
            line = e["lines"][0]
            lists["ServiceFeeEventList"].append({
                "FeeReason": e["description"], "FeeDescription": e["description"],
                "FeeList": [{"FeeType": "Subscription" if e["description"] == "Subscription Fee" else "FBAStorageFee",
                             "FeeAmount": _cur(line["amount"], cur)}]})
        else:
            line = e["lines"][0]
            cat = CATALOG_BY_SKU.get(line.get("sku", ""))
            item: dict[str, Any] = {"Quantity": str(line.get("qty", 1)), "TotalAmount": _cur(line["amount"], cur),
                                    "PerUnitAmount": _cur(line["amount"], cur)}
            if cat:
                item.update({"SellerSKU": cat.sku, "FnSKU": cat.fnsku, "ASIN": cat.asin,
                             "ProductDescription": cat.title})
            lists["AdjustmentEventList"].append({
                "AdjustmentType": e.get("description", "WAREHOUSE_DAMAGE"), "PostedDate": e["posted"],
                "AdjustmentAmount": _cur(line["amount"], cur), "AdjustmentItemList": [item]})
    return dict(lists)


def _page_size(params: Any) -> int:
    try:
        size = int(params.get("MaxResultsPerPage") or 100)
    except ValueError as exc:
        raise bad_request("MaxResultsPerPage must be an integer.") from exc
    if not 1 <= size <= 100:
        raise bad_request("MaxResultsPerPage must be between 1 and 100.")
    return size


def _window(params: Any, now: datetime) -> tuple[datetime, datetime]:
    # financesV0.json PostedBefore: "If you include the PostedBefore parameter in your request, you must
    # also specify the PostedAfter parameter."
    if params.get("PostedBefore") and not params.get("PostedAfter"):
        raise bad_request("PostedAfter is required when PostedBefore is specified.")
    try:
        after = parse_iso(params["PostedAfter"]) if params.get("PostedAfter") else now - timedelta(days=2)
        before = parse_iso(params["PostedBefore"]) if params.get("PostedBefore") else now - MIN_AGE
    except ValueError as exc:
        raise bad_request("PostedAfter and PostedBefore must be ISO 8601 date-times.") from exc
    if before > now - MIN_AGE:
        raise bad_request("Date PostedBefore must be no later than 2 minutes before the time the request was"
                          " submitted.")
    if after > before:
        raise bad_request("PostedAfter must be before PostedBefore.")
    return after, before


def _events_page(world: Any, query: dict[str, Any]) -> dict[str, Any]:
    after, before = parse_iso(query["after"]), parse_iso(query["before"])
    selected = [e for e in world.state["events"].values()
                if after <= parse_iso(e["posted"]) < before
                and (not query.get("mp") or e["marketplace_id"] == query["mp"])
                and (not query.get("order") or e.get("order_id") == query["order"])
                and regions.in_region(e["marketplace_id"], query.get("region"))]
    selected.sort(key=lambda e: (e["posted"], e["id"]))
    offset, size = query["offset"], query["size"]
    payload: dict[str, Any] = {"FinancialEvents": render_events(world, selected[offset:offset + size])}
    if offset + size < len(selected):
        payload["NextToken"] = encode_token({**query, "offset": offset + size})
    return {"payload": payload}


def _resume(params: Any, op: str) -> dict[str, Any] | None:
    if not params.get("NextToken"):
        return None
    query = decode_token(params["NextToken"])
    if query is None or query.get("op") != op:
        raise bad_request("Invalid NextToken.")
    return query


@router.get("/finances/v0/financialEventGroups")
def list_financial_event_groups(request: Request) -> Any:
    sandbox = guard(request, "listFinancialEventGroups")
    world = sandbox.world
    params = request.query_params
    query = _resume(params, "groups")
    if query is None:
        now = world.clock()
        try:
            after = parse_iso(params["FinancialEventGroupStartedAfter"]) if params.get(
                "FinancialEventGroupStartedAfter") else now - timedelta(days=180)
            before = parse_iso(params["FinancialEventGroupStartedBefore"]) if params.get(
                "FinancialEventGroupStartedBefore") else now
        except ValueError as exc:
            raise bad_request("FinancialEventGroupStartedAfter/Before must be ISO 8601 date-times.") from exc
        if before > now or after > before:
            raise bad_request("Invalid FinancialEventGroupStartedAfter/Before window.")
        query = {"op": "groups", "after": iso(after), "before": iso(before), "size": _page_size(params), "offset": 0}
    with world.lock:
        after, before = parse_iso(query["after"]), parse_iso(query["before"])
        region = regions.of_request(request)
        matched = [{k: v for k, v in g.items() if k != "_mp"} for g in groups(world)
                   if after <= parse_iso(g["FinancialEventGroupStart"]) <= before
                   and regions.in_region(g["_mp"], region)]
    offset, size = query["offset"], query["size"]
    payload: dict[str, Any] = {"FinancialEventGroupList": matched[offset:offset + size]}
    if offset + size < len(matched):
        payload["NextToken"] = encode_token({**query, "offset": offset + size})
    return json_response({"payload": payload})


@router.get("/finances/v0/financialEvents")
def list_financial_events(request: Request) -> Any:
    sandbox = guard(request, "listFinancialEvents")
    world = sandbox.world
    query = _resume(request.query_params, "events")
    if query is None:
        after, before = _window(request.query_params, world.clock())
        query = {"op": "events", "after": iso(after), "before": iso(before),
                 "size": _page_size(request.query_params), "offset": 0, "region": regions.of_request(request)}
    with world.lock:
        return json_response(_events_page(world, query))


@router.get("/finances/v0/financialEventGroups/{group_id}/financialEvents")
def list_financial_events_by_group_id(request: Request, group_id: str) -> Any:
    sandbox = guard(request, "listFinancialEventsByGroupId")
    world = sandbox.world
    query = _resume(request.query_params, "group")
    if query is None:
        with world.lock:
            group = next((g for g in groups(world) if g["FinancialEventGroupId"] == group_id), None)
        if group is None or not regions.in_region(group["_mp"], regions.of_request(request)):
            raise not_found(f"Financial event group {group_id} not found.")
        start = parse_iso(group["FinancialEventGroupStart"])
        end = parse_iso(group["FinancialEventGroupEnd"]) if group.get("FinancialEventGroupEnd") else \
            settlement_period(group["_mp"], start)[1]
        query = {"op": "group", "after": iso(start), "before": iso(end), "mp": group["_mp"],
                 "size": _page_size(request.query_params), "offset": 0}
    with world.lock:
        return json_response(_events_page(world, query))


@router.get("/finances/v0/orders/{order_id}/financialEvents")
def list_financial_events_by_order_id(request: Request, order_id: str) -> Any:
    sandbox = guard(request, "listFinancialEventsByOrderId")
    world = sandbox.world
    query = _resume(request.query_params, "order") or {
        "op": "order", "after": "2000-01-01T00:00:00Z", "before": "2100-01-01T00:00:00Z", "order": order_id,
        "size": _page_size(request.query_params), "offset": 0, "region": regions.of_request(request)}
    with world.lock:
        return json_response(_events_page(world, query))
