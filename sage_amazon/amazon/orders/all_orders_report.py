"""The all-orders flat-file report (GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL), for backfills:
a handful of calls for any volume, one report per window of at most 30 days.

The report has one row per order item, no order total and no street lines; the ship-to keeps city, state,
postal code and country. The marketplace comes from sales-channel (Amazon.com, Amazon.co.uk, ...).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sage_amazon.amazon.client import SpApi
from sage_amazon.amazon.values import money, parse_time

from .rows import Extract, item_row, order_row, ship_to, stamp
from .spans import span
from .status import canonical_status

ALL_ORDERS_REPORT = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
REPORT_LINE_PREFIX = "report:"  # order_item_id of a line read from the all-orders report (no item id there)


def orders_from_report_rows(rows: list[dict[str, str]], extract_id: str | None = None,
                            extracted_at: datetime | None = None,
                            marketplace_by_channel: dict[str, str] | None = None) -> Extract:
    """All-orders flat file rows (one per order item) to order and item rows.

    The report has no order total nor street lines; the ship-to keeps city, state, postal code and
    country. Marketplace comes from sales-channel (Amazon.com, Amazon.co.uk, ...).
    """
    if extract_id is None or extracted_at is None:
        extract_id, extracted_at = stamp()
    extract = Extract(source="all_orders_report")
    required = {"amazon-order-id", "purchase-date", "order-status", "sku", "quantity"}
    if rows:
        missing = sorted(required - set(rows[0]))
        if missing:
            extract.drift.append(f"all-orders report without columns {', '.join(missing)}")
            return extract
    orders: dict[str, dict[str, Any]] = {}
    channels = marketplace_by_channel or {}
    for r in rows:
        order_id = r["amazon-order-id"].strip()
        purchase = parse_time(r.get("purchase-date"))
        updated = parse_time(r.get("last-updated-date")) or purchase
        currency = (r.get("currency") or "").strip()
        status = canonical_status(r.get("order-status"))
        qty = int(r.get("quantity") or 0)
        item_price = money(r.get("item-price"))
        unit = (item_price / qty).quantize(Decimal("0.01")) if item_price is not None and qty else None
        if order_id not in orders:
            channel = (r.get("sales-channel") or "").strip()
            orders[order_id] = order_row(
                order_id, purchase, updated, marketplace_id=channels.get(channel.lower(), ""),
                sales_channel=channel, status=status, amazon_status=r.get("order-status") or "",
                fulfillment_channel=_channel(r.get("fulfillment-channel")),
                ship_service_level=r.get("ship-service-level") or "", currency=currency, order_total=None,
                is_business_order=(r.get("is-business-order") or "").lower() == "true",
                ship=ship_to("", "", "", "", r.get("ship-city"), r.get("ship-state"), r.get("ship-postal-code"),
                             r.get("ship-country"), ""),
                source="all_orders_report", extract_id=extract_id, extracted_at=extracted_at) | {"payload_rows": []}
        order = orders[order_id]
        order["payload_rows"].append(r)
        if updated and (order["last_updated"] is None or updated > order["last_updated"]):
            order["last_updated"] = updated
        order["currency"] = order["currency"] or currency
        extract.items.append(item_row(
            # the report has no order item id: a line is known by its SKU (and position if repeated)
            order_id, (r.get("order-item-id") or r.get("amazon-order-item-id") or "").strip()
            or f"{REPORT_LINE_PREFIX}{(r.get('sku') or '').strip()}#{len(order['payload_rows'])}",
            order["partition_date"], updated,
            sku=(r.get("sku") or "").strip(), asin=r.get("asin") or "", title=r.get("product-name") or "",
            quantity=qty, shipped=qty if status == "SHIPPED" else 0, currency=currency, unit_price=unit,
            item_price=item_price,
            charges=[money(r.get(k)) for k in ("item-tax", "shipping-price", "shipping-tax", "gift-wrap-price",
                                               "gift-wrap-tax", "item-promotion-discount", "ship-promotion-discount")],
            status=canonical_status(r.get("item-status")), source="all_orders_report", extract_id=extract_id,
            extracted_at=extracted_at))
    for order in orders.values():
        order["payload"] = json.dumps(order.pop("payload_rows"), sort_keys=True)
        extract.orders.append(order)
    for item in extract.items:  # items share their order's version stamp
        item["last_updated"] = orders[item["amazon_order_id"]]["last_updated"]
    return extract


def _channel(value: str | None) -> str:
    text = (value or "").strip().lower()
    if text in ("amazon", "afn"):
        return "AFN"
    if text in ("merchant", "mfn"):
        return "MFN"
    return (value or "").strip().upper()


def orders_from_report(api: SpApi, first: date, last: date, marketplace_by_channel: dict[str, str],
                       *, poll_seconds: float = 2.0) -> Extract:
    """One all-orders report for [first, last] (at most 30 days): a handful of calls for any volume."""
    return orders_from_reports(api, [(first, last)], marketplace_by_channel, poll_seconds=poll_seconds)


def orders_from_reports(api: SpApi, spans: list[tuple[date, date]], marketplace_by_channel: dict[str, str],
                        *, poll_seconds: float = 2.0) -> Extract:
    """One all-orders report per window (windows of at most 30 days), requested together."""
    from sage_amazon.amazon import reports

    before = api.total_calls
    spans = [(f, la) for f, la in spans if span(f, la)[1] > span(f, la)[0]]
    texts = reports.fetch_reports(api, ALL_ORDERS_REPORT, [span(f, la) for f, la in spans],
                                  poll_seconds=poll_seconds)
    extract = Extract(source="all_orders_report")
    for (first, last), text in zip(spans, texts, strict=True):
        part = orders_from_report_rows(reports.parse_flat_file(text), marketplace_by_channel=marketplace_by_channel)
        part.orders = [o for o in part.orders if o["partition_date"] and first <= o["partition_date"] <= last]
        keep = {o["amazon_order_id"] for o in part.orders}
        part.items = [i for i in part.items if i["amazon_order_id"] in keep]
        extract.extend(part)
    extract.calls = api.total_calls - before
    return extract
