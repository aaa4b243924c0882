"""Parsers and fetchers of the returns flow's three datasets.

- FBA customer returns: GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA (return-date, order-id, sku, asin, fnsku,
  product-name, quantity, fulfillment-center-id, detailed-disposition, reason, status, license-plate-number,
  customer-comments);
- merchant-fulfilled returns: GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE (headers in words: "Order ID",
  "Return request date", "Merchant SKU", "Return quantity", "Refunded Amount"...; dates as 07-Jan-2026 or ISO);
- refund transactions: Finances 2024-06-19 listTransactions, every transaction whose type is a refund, a chargeback,
  an A-to-z / SAFE-T claim or a retrocharge (a refund reversed by a later charge), one row per transaction and one
  per item with its amounts split into principal, shipping, gift wrap, tax, promotion, withheld tax, fees, other.

Amounts are Decimal; a report that lacks a column the flow needs is drift (reported, nothing written).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sage_amazon.amazon.values import money, parse_time

FBA_RETURNS_REPORT = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
MFN_RETURNS_REPORT = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
FBA_REQUIRED = ("return-date", "order-id", "sku", "quantity", "detailed-disposition")
MFN_REQUIRED = ("order id", "return request date", "merchant sku", "return quantity")
MIN_AGE = timedelta(minutes=3)  # listTransactions refuses postedBefore later than 2 minutes ago (+1: clock skew)
ZERO = Decimal("0")

# transaction types of the refund family (Finances 2024-06-19 transactionType; settlement V2 transaction-type)
REFUND_WORDS = ("refund", "chargeback", "guarantee", "a-to-z", "safe-t", "retrocharge", "reversal")
AMOUNT_KINDS = ("principal", "shipping", "gift_wrap", "tax", "promotion", "withheld_tax", "fees", "other")


def _date(value: str | None) -> datetime | None:
    """A report date: ISO 8601 (FBA report) or 07-Jan-2026 (merchant returns report), naive UTC."""
    if not value:
        return None
    parsed = parse_time(value)
    if parsed is not None:
        return parsed
    for fmt in ("%d-%b-%Y", "%d-%b-%y", "%m/%d/%Y", "%Y/%m/%d"):
        try:
            return datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
    return None


def _int(value: str | None) -> int:
    try:
        return int(Decimal((value or "0").strip() or "0"))
    except ArithmeticError:
        return 0


def parse_fba_returns(rows: list[dict[str, str]], extracted_at: datetime) -> tuple[list[dict[str, Any]], list[str]]:
    if rows:
        missing = [c for c in FBA_REQUIRED if c not in rows[0]]
        if missing:
            return [], [f"FBA customer returns report without columns {', '.join(missing)}"]
    out = []
    for r in rows:
        returned = _date(r.get("return-date"))
        out.append({
            "return_date": returned.date() if returned else None, "returned_at": returned,
            "amazon_order_id": r.get("order-id", ""), "sku": r.get("sku", ""), "asin": r.get("asin", ""),
            "fnsku": r.get("fnsku", ""), "product_name": r.get("product-name", ""),
            "quantity": _int(r.get("quantity")), "fulfillment_center_id": r.get("fulfillment-center-id", ""),
            "detailed_disposition": (r.get("detailed-disposition") or "").upper(), "reason": r.get("reason", ""),
            "status": r.get("status", ""), "license_plate_number": r.get("license-plate-number", ""),
            "customer_comments": r.get("customer-comments", ""), "extracted_at": extracted_at,
        })
    return out, []


def parse_mfn_returns(rows: list[dict[str, str]], extracted_at: datetime) -> tuple[list[dict[str, Any]], list[str]]:
    if rows:
        missing = [c for c in MFN_REQUIRED if c not in rows[0]]
        if missing:
            return [], [f"merchant returns report without columns {', '.join(missing)}"]
    out = []
    for r in rows:
        requested = _date(r.get("return request date"))
        delivered = _date(r.get("return delivery date"))
        ordered = _date(r.get("order date"))
        out.append({
            "return_date": requested.date() if requested else None, "amazon_order_id": r.get("order id", ""),
            "order_date": ordered.date() if ordered else None, "return_status": r.get("return request status", ""),
            "rma_id": r.get("amazon rma id", ""), "seller_rma_id": r.get("seller rma id", ""),
            "currency": r.get("currency code", ""), "asin": r.get("asin", ""), "sku": r.get("merchant sku", ""),
            "product_name": r.get("item name", ""), "quantity": _int(r.get("return quantity")),
            "reason": r.get("return reason", ""), "in_policy": r.get("in policy", ""),
            "return_type": r.get("return type", ""), "resolution": r.get("resolution", ""),
            "a_to_z_claim": r.get("a-to-z claim", ""), "safet_claim_id": r.get("safet claim id", ""),
            "return_delivery_date": delivered.date() if delivered else None,
            "order_amount": money(r.get("order amount")), "order_quantity": _int(r.get("order quantity")),
            "refunded_amount": money(r.get("refunded amount")), "category": r.get("category", ""),
            "extracted_at": extracted_at,
        })
    return out, []


# ----------------------------------------------------------------------------- listTransactions

def is_refund_type(transaction_type: str) -> bool:
    t = (transaction_type or "").lower()
    return any(w in t for w in REFUND_WORDS)


def _amount(node: Any) -> Decimal:
    if not isinstance(node, dict):
        return ZERO
    value = node.get("currencyAmount", node.get("CurrencyAmount"))
    return money(value) if value is not None else ZERO


def amount_kind(outer: str, inner: str) -> str:
    """Where a breakdown (its group and its own name) goes: principal, shipping, gift wrap, tax collected,
    promotion, tax withheld by Amazon (marketplace facilitator), Amazon's fees, or other."""
    o, i = outer.lower(), inner.lower()
    if "promotion" in o or "promotion" in i or "discount" in i:
        return "promotion"
    if "fee" in o or "commission" in i or "fee" in i:
        return "fees"
    if o == "tax" or "withheld" in o or "marketplacefacilitator" in i:
        return "withheld_tax"
    if "charge" in o or "product" in o or o in ("principal", "shipping", "giftwrap"):
        if "tax" in i:
            return "tax"
        if "shipping" in i:
            return "shipping"
        if "giftwrap" in i or "gift" in i:
            return "gift_wrap"
        if "principal" in i or "price" in i or not i:
            return "principal"
    return "other"


def _flatten(breakdowns: Iterable[dict[str, Any]], outer: str = "") -> Iterable[tuple[str, str, Decimal]]:
    for b in breakdowns or []:
        name = str(b.get("breakdownType") or "")
        children = b.get("breakdowns") or []
        if children:
            yield from _flatten(children, outer or name)
        else:
            yield (outer or name), (name if outer else ""), _amount(b.get("breakdownAmount"))


def _related(items: Iterable[dict[str, Any]], name_key: str, value_key: str) -> dict[str, str]:
    return {str(x.get(name_key) or ""): str(x.get(value_key) or "") for x in items or []}


def transaction_rows(txn: dict[str, Any], extracted_at: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One listTransactions transaction: its header row and one row per item (amounts by kind)."""
    related = _related(txn.get("relatedIdentifiers"), "relatedIdentifierName", "relatedIdentifierValue")
    posted = parse_time(str(txn.get("postedDate") or ""))
    meta = txn.get("sellingPartnerMetadata") or {}
    market = (txn.get("marketplaceDetails") or {}).get("marketplaceId") or meta.get("marketplaceId") or ""
    total = txn.get("totalAmount") or {}
    tid = str(txn.get("transactionId") or "")
    header = {
        "posted_date": posted.date() if posted else None, "posted_at": posted, "transaction_id": tid,
        "transaction_type": str(txn.get("transactionType") or ""),
        "transaction_status": str(txn.get("transactionStatus") or ""),
        "description": str(txn.get("description") or ""), "marketplace_id": market,
        "amazon_order_id": related.get("ORDER_ID", ""), "refund_id": related.get("REFUND_ID", ""),
        "settlement_id": related.get("SETTLEMENT_ID", ""),
        "financial_event_group_id": related.get("FINANCIAL_EVENT_GROUP_ID", ""),
        "currency": str(total.get("currencyCode") or ""), "total_amount": _amount(total),
        "extracted_at": extracted_at,
    }
    items = []
    for n, item in enumerate(txn.get("items") or []):
        product = next((c for c in item.get("contexts") or [] if c.get("sku") or c.get("asin")), {})
        item_related = _related(item.get("relatedIdentifiers"), "itemRelatedIdentifierName",
                                "itemRelatedIdentifierValue")
        amounts = dict.fromkeys(AMOUNT_KINDS, ZERO)
        for outer, inner, value in _flatten(item.get("breakdowns") or []):
            kind = amount_kind(outer, inner)
            amounts[kind] += value
        items.append({
            "transaction_id": tid, "line_no": n + 1, "posted_date": header["posted_date"],
            "amazon_order_id": header["amazon_order_id"], "marketplace_id": market,
            "sku": str(product.get("sku") or ""), "asin": str(product.get("asin") or ""),
            "quantity": _int(str(product.get("quantityShipped") or 0)),
            "fulfillment_network": str(product.get("fulfillmentNetwork") or ""),
            "adjustment_item_id": item_related.get("ORDER_ADJUSTMENT_ITEM_ID", ""),
            "currency": header["currency"], "item_total": _amount(item.get("totalAmount")), **amounts,
            "breakdowns": json.dumps(item.get("breakdowns") or [], default=str),
        })
    return header, items


def fetch_transactions(api: Any, marketplaces: Iterable[str], start: datetime, end: datetime,
                       now: datetime | None = None) -> list[dict[str, Any]]:
    """Every transaction posted in [start, end) of each marketplace (all pages); `end` is capped at two minutes
    before now (Amazon refuses later). Returns the raw transactions, each with the marketplace asked for."""
    now = now or datetime.now(UTC)
    end = min(end, now - MIN_AGE)
    out: list[dict[str, Any]] = []
    if end <= start:
        return out
    for mp in marketplaces:
        token: str | None = None
        while True:
            params: dict[str, Any] = ({"nextToken": token} if token else
                                      {"postedAfter": _iso(start), "postedBefore": _iso(end), "marketplaceId": mp})
            res = api.call("listTransactions", "finances", "list_transactions", marketplace_id=mp, **params)
            payload = res.payload or {}
            out.extend(payload.get("transactions") or [])
            token = payload.get("nextToken") or getattr(res, "next_token", None)
            if not token:
                break
    return out


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def refund_rows(transactions: Iterable[dict[str, Any]], extracted_at: datetime
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The refund family of the transactions, as (headers, items); duplicates (same transactionId) once."""
    headers: dict[str, dict[str, Any]] = {}
    items: dict[str, list[dict[str, Any]]] = {}
    for txn in transactions:
        if not is_refund_type(str(txn.get("transactionType") or "")):
            continue
        header, lines = transaction_rows(txn, extracted_at)
        headers[header["transaction_id"]] = header
        items[header["transaction_id"]] = lines
    return list(headers.values()), [line for lines in items.values() for line in lines]

