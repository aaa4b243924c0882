"""Order extraction: Orders API 2026-01-01 searchOrders/getOrder (default), Orders v0 getOrders +
getOrderItems (deprecated, kept working), and the all-orders report for backfills.

Every path yields the same flat rows (`ORDER_COLUMNS`, `ITEM_COLUMNS`), so the raw tables do not
care where an order came from. Money stays Decimal; statuses are brought to one spelling
(`canonical_status`): PENDING, UNSHIPPED, PARTIALLY_SHIPPED, SHIPPED, CANCELLED, UNFULFILLABLE,
PENDING_AVAILABILITY.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sage_amazon.amazon.client import SpApi, SpApiError
from sage_amazon.amazon.values import money, parse_time

# column -> DuckDB type; the raw tables are created from these
ORDER_COLUMNS: dict[str, str] = {
    "amazon_order_id": "VARCHAR",
    "partition_date": "DATE",
    "purchase_date": "TIMESTAMP",
    "last_updated": "TIMESTAMP",
    "marketplace_id": "VARCHAR",
    "sales_channel": "VARCHAR",
    "order_status": "VARCHAR",
    "amazon_status": "VARCHAR",
    "fulfillment_channel": "VARCHAR",
    "ship_service_level": "VARCHAR",
    "currency": "VARCHAR",
    "order_total": "DECIMAL(18,2)",
    "is_business_order": "BOOLEAN",
    "ship_name": "VARCHAR",
    "ship_address_1": "VARCHAR",
    "ship_address_2": "VARCHAR",
    "ship_address_3": "VARCHAR",
    "ship_city": "VARCHAR",
    "ship_state": "VARCHAR",
    "ship_postal_code": "VARCHAR",
    "ship_country": "VARCHAR",
    "ship_phone": "VARCHAR",
    "source": "VARCHAR",
    "extract_id": "VARCHAR",
    "extracted_at": "TIMESTAMP",
    "payload": "VARCHAR",
}
ITEM_COLUMNS: dict[str, str] = {
    "amazon_order_id": "VARCHAR",
    "order_item_id": "VARCHAR",
    "partition_date": "DATE",
    "last_updated": "TIMESTAMP",
    "sku": "VARCHAR",
    "asin": "VARCHAR",
    "title": "VARCHAR",
    "quantity": "INTEGER",
    "quantity_shipped": "INTEGER",
    "currency": "VARCHAR",
    "unit_price": "DECIMAL(18,2)",
    "item_price": "DECIMAL(18,2)",  # unit price x quantity, before discounts
    "item_tax": "DECIMAL(18,2)",
    "shipping_price": "DECIMAL(18,2)",
    "shipping_tax": "DECIMAL(18,2)",
    "gift_wrap_price": "DECIMAL(18,2)",
    "gift_wrap_tax": "DECIMAL(18,2)",
    "promotion_discount": "DECIMAL(18,2)",  # >= 0
    "shipping_discount": "DECIMAL(18,2)",  # >= 0
    "item_status": "VARCHAR",
    "source": "VARCHAR",
    "extract_id": "VARCHAR",
    "extracted_at": "TIMESTAMP",
}

STATUSES = ("PENDING", "PENDING_AVAILABILITY", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED",
            "UNFULFILLABLE", "INVOICE_UNCONFIRMED")
_STATUS_ALIASES = {
    "CANCELED": "CANCELLED",
    "SHIPPING": "UNSHIPPED",
    "SHIPPEDDELIVEREDTOBUYER": "SHIPPED",
    "SHIPPEDRETURNEDTOSELLER": "SHIPPED",
    "SHIPPEDLETTERSHIPPED": "SHIPPED",
    "SHIPPEDPICKEDUP": "SHIPPED",
    "SHIPPEDOUTFORDELIVERY": "SHIPPED",
    "SHIPPEDINTRANSIT": "SHIPPED",
    "SHIPPEDDELIVERED": "SHIPPED",
}
_SQUASHED = {s.replace("_", ""): s for s in STATUSES}

SEARCH_INCLUDED_DATA = ["BUYER", "RECIPIENT", "PROCEEDS", "PROMOTION", "CANCELLATION", "FULFILLMENT"]
ALL_ORDERS_REPORT = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
MAX_REPORT_DAYS = 30
REPORT_LINE_PREFIX = "report:"  # order_item_id of a line read from the all-orders report (no item id there)
ZERO = Decimal("0")


class SchemaDrift(ValueError):
    """A payload lacks fields every order has: Amazon changed the format (or a proxy broke it)."""


def canonical_status(value: str | None) -> str:
    """Amazon's status in one spelling, whichever API or report it came from ('' when unknown)."""
    if not value:
        return ""
    squashed = "".join(ch for ch in value.upper() if ch.isalnum())
    if squashed in _STATUS_ALIASES:
        return _STATUS_ALIASES[squashed]
    return _SQUASHED.get(squashed, squashed)


def currency_of(*values: Any) -> str:
    for value in values:
        if isinstance(value, dict):
            code = value.get("currencyCode") or value.get("CurrencyCode")
            if code:
                return str(code)
    return ""


@dataclass
class Extract:
    """What one extraction produced, and how: the raw rows plus figures for metadata and checks."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""
    calls: int = 0
    drift: list[str] = field(default_factory=list)

    def extend(self, other: Extract) -> None:
        self.orders.extend(other.orders)
        self.items.extend(other.items)
        self.calls += other.calls
        self.drift.extend(other.drift)
        self.source = self.source or other.source


def _stamp() -> tuple[str, datetime]:
    return uuid.uuid4().hex[:16], datetime.now(UTC).replace(tzinfo=None)


def day_window(day: date, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[day 00:00, next day 00:00) in UTC, the end clipped to 2 minutes before now (Amazon's rule)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    limit = (now or datetime.now(UTC)) - timedelta(minutes=2)
    return start, min(end, limit)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ Orders API 2026-01-01


def _breakdowns(proceeds: dict[str, Any] | None) -> dict[str, Decimal]:
    """ITEM/SHIPPING/GIFT_WRAP/DISCOUNT/TAX subtotals, with TAX and DISCOUNT split by subtype."""
    out: dict[str, Decimal] = {}
    for bd in (proceeds or {}).get("breakdowns") or []:
        kind = str(bd.get("type", "")).upper()
        amount = money(bd.get("subtotal")) or ZERO
        details = bd.get("detailedBreakdowns") or []
        if kind in ("TAX", "DISCOUNT") and details:
            for detail in details:
                sub = str(detail.get("subtype", "ITEM")).upper()
                key = f"{kind}_{sub}"
                out[key] = out.get(key, ZERO) + (money(detail.get("value")) or ZERO)
        else:
            key = f"{kind}_ITEM" if kind in ("TAX", "DISCOUNT") else kind
            out[key] = out.get(key, ZERO) + amount
    return out


def parse_order_2026(order: dict[str, Any], extract_id: str, extracted_at: datetime,
                     source: str = "orders_2026") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One Order of the 2026-01-01 model to an order row and its item rows."""
    missing = [k for k in ("orderId", "createdTime", "orderItems") if k not in order]
    if missing:
        raise SchemaDrift(f"2026-01-01 order without {', '.join(missing)}: keys {sorted(order)[:12]}")
    purchase = parse_time(order.get("createdTime"))
    updated = parse_time(order.get("lastUpdatedTime")) or purchase
    channel = order.get("salesChannel") or {}
    fulfillment = order.get("fulfillment") or {}
    address = (order.get("recipient") or {}).get("deliveryAddress") or {}
    proceeds = order.get("proceeds") or {}
    fulfilled_by = str(fulfillment.get("fulfilledBy", "")).upper()
    items_raw = order.get("orderItems") or []
    currency = currency_of(proceeds.get("grandTotal"))
    items = []
    for item in items_raw:
        product = item.get("product") or {}
        price = (product.get("price") or {}).get("unitPrice")
        currency = currency or currency_of(price, (item.get("proceeds") or {}).get("proceedsTotal"))
        qty = int(item.get("quantityOrdered") or 0)
        unit = money(price)
        parts = _breakdowns(item.get("proceeds"))
        item_price = parts.get("ITEM")
        if item_price is None and unit is not None:
            item_price = unit * qty
        if unit is None and item_price is not None and qty:
            unit = (item_price / qty).quantize(Decimal("0.01"))
        ful = item.get("fulfillment") or {}
        cancelled = bool((item.get("cancellation") or {}).get("cancellationExecution"))
        items.append({
            "amazon_order_id": order["orderId"],
            "order_item_id": str(item.get("orderItemId", "")),
            "partition_date": purchase.date() if purchase else None,
            "last_updated": updated,
            "sku": (product.get("sellerSku") or "").strip(),
            "asin": product.get("asin") or "",
            "title": product.get("title") or "",
            "quantity": qty,
            "quantity_shipped": int(ful.get("quantityFulfilled") or 0),
            "currency": currency,
            "unit_price": unit,
            "item_price": item_price,
            "item_tax": parts.get("TAX_ITEM", ZERO),
            "shipping_price": parts.get("SHIPPING", ZERO),
            "shipping_tax": parts.get("TAX_SHIPPING", ZERO),
            "gift_wrap_price": parts.get("GIFT_WRAP", ZERO),
            "gift_wrap_tax": parts.get("TAX_GIFT_WRAP", ZERO),
            "promotion_discount": abs(parts.get("DISCOUNT_ITEM", ZERO)),
            "shipping_discount": abs(parts.get("DISCOUNT_SHIPPING", ZERO)),
            "item_status": "CANCELLED" if cancelled else "",
            "source": source,
            "extract_id": extract_id,
            "extracted_at": extracted_at,
        })
    status = canonical_status(fulfillment.get("fulfillmentStatus"))
    row = {
        "amazon_order_id": order["orderId"],
        "partition_date": purchase.date() if purchase else None,
        "purchase_date": purchase,
        "last_updated": updated,
        "marketplace_id": channel.get("marketplaceId") or "",
        "sales_channel": channel.get("marketplaceName") or channel.get("channelName") or "",
        "order_status": status,
        "amazon_status": fulfillment.get("fulfillmentStatus") or "",
        "fulfillment_channel": "AFN" if fulfilled_by == "AMAZON" else "MFN" if fulfilled_by == "MERCHANT" else "",
        "ship_service_level": fulfillment.get("fulfillmentServiceLevel") or "",
        "currency": currency,
        "order_total": money(proceeds.get("grandTotal")),
        "is_business_order": "AMAZON_BUSINESS" in (order.get("programs") or []),
        **_address(address.get("name"), address.get("addressLine1"), address.get("addressLine2"),
                   address.get("addressLine3"), address.get("city"), address.get("stateOrRegion"),
                   address.get("postalCode"), address.get("countryCode"), address.get("phone")),
        "source": source,
        "extract_id": extract_id,
        "extracted_at": extracted_at,
        "payload": json.dumps(order, default=str, sort_keys=True),
    }
    return row, items


def _address(name: Any, a1: Any, a2: Any, a3: Any, city: Any, state: Any, postal: Any, country: Any,
             phone: Any) -> dict[str, str]:
    return {"ship_name": name or "", "ship_address_1": a1 or "", "ship_address_2": a2 or "",
            "ship_address_3": a3 or "", "ship_city": city or "", "ship_state": state or "",
            "ship_postal_code": postal or "", "ship_country": country or "", "ship_phone": phone or ""}


def _collect_2026(orders: Iterable[dict[str, Any]], extract: Extract) -> None:
    extract_id, extracted_at = _stamp()
    for order in orders:
        try:
            row, items = parse_order_2026(order, extract_id, extracted_at)
        except SchemaDrift as exc:
            extract.drift.append(str(exc))
            continue
        extract.orders.append(row)
        extract.items.extend(items)


def search_orders(api: SpApi, start: datetime, end: datetime,
                  marketplaces: Iterable[str] | None = None, page_size: int = 100) -> Extract:
    """Orders created in [start, end) through searchOrders 2026-01-01 (items are embedded: 1 call per 100).
    Each region's marketplaces are searched on their own host (accounts.per_account)."""
    from sage_amazon.amazon.accounts import per_account

    parts = per_account(api, marketplaces)
    if len(parts) > 1:
        extract = Extract(source="orders_2026")
        for sub, mps in parts:
            extract.extend(search_orders(sub, start, end, mps, page_size))
        return extract
    api, marketplaces = parts[0]
    extract = Extract(source="orders_2026")
    token: str | None = None
    while True:
        params: dict[str, Any] = (
            {"paginationToken": token} if token else
            {"createdAfter": _iso(start), "createdBefore": _iso(end), "marketplaceIds": marketplaces,
             "includedData": SEARCH_INCLUDED_DATA, "maxResultsPerPage": page_size}
        )
        if token:
            # the token carries the filters; marketplaceIds keeps the library from injecting its own
            params.update({"marketplaceIds": marketplaces, "includedData": SEARCH_INCLUDED_DATA})
        res = api.call("searchOrders", "orders2026", "search_orders", **params)
        extract.calls += 1
        payload = res.payload or {}
        if "orders" not in payload:
            extract.drift.append(f"searchOrders response without 'orders': keys {sorted(payload)[:12]}")
            break
        _collect_2026([o for o in payload["orders"] if _in_window(o, start, end)], extract)
        token = res.next_token  # the library moves "pagination" out of the payload
        if not token:
            break
    return extract


def _in_window(order: dict[str, Any], start: datetime, end: datetime) -> bool:
    created = parse_time(order.get("createdTime"))
    if created is None:
        return True  # let the parser report the drift
    return start.replace(tzinfo=None) <= created < end.replace(tzinfo=None)


def get_orders_2026(api: SpApi, order_ids: Iterable[str], marketplaces: dict[str, str] | None = None) -> Extract:
    """The current version of some orders (after an ORDER_CHANGE): one getOrder each, on the host of the order's
    marketplace when known (`marketplaces`: order -> MarketplaceId of its notification)."""
    extract = Extract(source="orders_2026")
    found = []
    for order_id in order_ids:
        extract.calls += 1
        try:
            res = api.call("getOrder2026", "orders2026", "get_order", order_id, includedData=SEARCH_INCLUDED_DATA,
                           marketplace_id=(marketplaces or {}).get(order_id))
        except SpApiError as exc:
            if exc.status == 404:  # not (yet) visible: the next notification or the daily run brings it
                continue
            raise
        payload = res.payload or {}
        order = payload.get("order", payload)
        if order:
            found.append(order)
    _collect_2026(found, extract)
    return extract


# ------------------------------------------------------------------ Orders v0 (deprecated)


def parse_order_v0(order: dict[str, Any], order_items: list[dict[str, Any]], extract_id: str,
                   extracted_at: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    missing = [k for k in ("AmazonOrderId", "PurchaseDate", "OrderStatus") if k not in order]
    if missing:
        raise SchemaDrift(f"v0 order without {', '.join(missing)}: keys {sorted(order)[:12]}")
    purchase = parse_time(order.get("PurchaseDate"))
    updated = parse_time(order.get("LastUpdateDate")) or purchase
    total = order.get("OrderTotal") or {}
    address = order.get("ShippingAddress") or {}
    currency = currency_of(total)
    items = []
    for item in order_items:
        qty = int(item.get("QuantityOrdered") or 0)
        item_price = money(item.get("ItemPrice"))
        currency = currency or currency_of(item.get("ItemPrice"))
        unit = (item_price / qty).quantize(Decimal("0.01")) if item_price is not None and qty else None
        items.append({
            "amazon_order_id": order["AmazonOrderId"],
            "order_item_id": str(item.get("OrderItemId", "")),
            "partition_date": purchase.date() if purchase else None,
            "last_updated": updated,
            "sku": (item.get("SellerSKU") or "").strip(),
            "asin": item.get("ASIN") or "",
            "title": item.get("Title") or "",
            "quantity": qty,
            "quantity_shipped": int(item.get("QuantityShipped") or 0),
            "currency": currency,
            "unit_price": unit,
            "item_price": item_price,
            "item_tax": money(item.get("ItemTax")) or ZERO,
            "shipping_price": money(item.get("ShippingPrice")) or ZERO,
            "shipping_tax": money(item.get("ShippingTax")) or ZERO,
            "gift_wrap_price": money((item.get("BuyerInfo") or {}).get("GiftWrapPrice")) or ZERO,
            "gift_wrap_tax": money((item.get("BuyerInfo") or {}).get("GiftWrapTax")) or ZERO,
            "promotion_discount": abs(money(item.get("PromotionDiscount")) or ZERO),
            "shipping_discount": abs(money(item.get("ShippingDiscount")) or ZERO),
            "item_status": "",
            "source": "orders_v0",
            "extract_id": extract_id,
            "extracted_at": extracted_at,
        })
    row = {
        "amazon_order_id": order["AmazonOrderId"],
        "partition_date": purchase.date() if purchase else None,
        "purchase_date": purchase,
        "last_updated": updated,
        "marketplace_id": order.get("MarketplaceId") or "",
        "sales_channel": order.get("SalesChannel") or "",
        "order_status": canonical_status(order.get("OrderStatus")),
        "amazon_status": order.get("OrderStatus") or "",
        "fulfillment_channel": order.get("FulfillmentChannel") or "",
        "ship_service_level": order.get("ShipServiceLevel") or "",
        "currency": currency,
        "order_total": money(total),
        "is_business_order": bool(order.get("IsBusinessOrder")),
        **_address(address.get("Name"), address.get("AddressLine1"), address.get("AddressLine2"),
                   address.get("AddressLine3"), address.get("City"), address.get("StateOrRegion"),
                   address.get("PostalCode"), address.get("CountryCode"), address.get("Phone")),
        "source": "orders_v0",
        "extract_id": extract_id,
        "extracted_at": extracted_at,
        "payload": json.dumps({"order": order, "items": order_items}, default=str, sort_keys=True),
    }
    return row, items


def get_orders_v0(api: SpApi, start: datetime, end: datetime,
                  marketplaces: Iterable[str] | None = None) -> Extract:
    """The per-order approach: getOrders pages (100 each) and one getOrderItems call per order; each region's
    marketplaces on their own host (accounts.per_account)."""
    from sage_amazon.amazon.accounts import per_account

    parts = per_account(api, marketplaces)
    if len(parts) > 1:
        extract = Extract(source="orders_v0")
        for sub, mps in parts:
            extract.extend(get_orders_v0(sub, start, end, mps))
        return extract
    api, marketplaces = parts[0]
    extract = Extract(source="orders_v0")
    extract_id, extracted_at = _stamp()
    token: str | None = None
    while True:
        params: dict[str, Any] = {"MarketplaceIds": marketplaces}
        if token:
            params["NextToken"] = token
        else:
            params.update({"CreatedAfter": _iso(start), "CreatedBefore": _iso(end), "MaxResultsPerPage": 100})
        res = api.call("getOrders", "ordersV0", "get_orders", **params)
        extract.calls += 1
        payload = res.payload or {}
        if "Orders" not in payload:
            extract.drift.append(f"getOrders response without 'Orders': keys {sorted(payload)[:12]}")
            break
        for order in payload["Orders"]:
            if not _in_window({"createdTime": order.get("PurchaseDate")}, start, end):
                continue
            items = list(_order_items_v0(api, order.get("AmazonOrderId", ""), extract))
            try:
                row, item_rows = parse_order_v0(order, items, extract_id, extracted_at)
            except SchemaDrift as exc:
                extract.drift.append(str(exc))
                continue
            extract.orders.append(row)
            extract.items.extend(item_rows)
        token = res.next_token or payload.get("NextToken")
        if not token:
            break
    return extract


def _order_items_v0(api: SpApi, order_id: str, extract: Extract,
                    marketplace_id: str | None = None) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        kwargs = {"NextToken": token} if token else {}
        res = api.call("getOrderItems", "ordersV0", "get_order_items", order_id, marketplace_id=marketplace_id,
                       **kwargs)
        extract.calls += 1
        payload = res.payload or {}
        yield from payload.get("OrderItems") or []
        token = res.next_token or payload.get("NextToken")
        if not token:
            return


# ------------------------------------------------------------------ all-orders report (backfills)


def windows(days: list[date], max_days: int = MAX_REPORT_DAYS) -> list[tuple[date, date]]:
    """Contiguous runs of days cut into windows of at most `max_days`: (first, last) inclusive."""
    out: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if out and day - out[-1][1] == timedelta(days=1) and (day - out[-1][0]).days < max_days:
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def orders_from_report_rows(rows: list[dict[str, str]], extract_id: str | None = None,
                            extracted_at: datetime | None = None,
                            marketplace_by_channel: dict[str, str] | None = None) -> Extract:
    """All-orders flat file rows (one per order item) to order and item rows.

    The report has no order total nor street lines; the ship-to keeps city, state, postal code and
    country. Marketplace comes from sales-channel (Amazon.com, Amazon.co.uk, ...).
    """
    if extract_id is None or extracted_at is None:
        extract_id, extracted_at = _stamp()
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
            orders[order_id] = {
                "amazon_order_id": order_id,
                "partition_date": purchase.date() if purchase else None,
                "purchase_date": purchase,
                "last_updated": updated,
                "marketplace_id": channels.get(channel.lower(), ""),
                "sales_channel": channel,
                "order_status": status,
                "amazon_status": r.get("order-status") or "",
                "fulfillment_channel": _channel(r.get("fulfillment-channel")),
                "ship_service_level": r.get("ship-service-level") or "",
                "currency": currency,
                "order_total": None,
                "is_business_order": (r.get("is-business-order") or "").lower() == "true",
                **_address("", "", "", "", r.get("ship-city"), r.get("ship-state"), r.get("ship-postal-code"),
                           r.get("ship-country"), ""),
                "source": "all_orders_report",
                "extract_id": extract_id,
                "extracted_at": extracted_at,
                "payload_rows": [],
            }
        order = orders[order_id]
        order["payload_rows"].append(r)
        if updated and (order["last_updated"] is None or updated > order["last_updated"]):
            order["last_updated"] = updated
        order["currency"] = order["currency"] or currency
        extract.items.append({
            "amazon_order_id": order_id,
            # the report has no order item id: a line is known by its SKU (and position if repeated)
            "order_item_id": (r.get("order-item-id") or r.get("amazon-order-item-id") or "").strip()
            or f"{REPORT_LINE_PREFIX}{(r.get('sku') or '').strip()}#{len(order['payload_rows'])}",
            "partition_date": order["partition_date"],
            "last_updated": updated,
            "sku": (r.get("sku") or "").strip(),
            "asin": r.get("asin") or "",
            "title": r.get("product-name") or "",
            "quantity": qty,
            "quantity_shipped": qty if status == "SHIPPED" else 0,
            "currency": currency,
            "unit_price": unit,
            "item_price": item_price,
            "item_tax": money(r.get("item-tax")) or ZERO,
            "shipping_price": money(r.get("shipping-price")) or ZERO,
            "shipping_tax": money(r.get("shipping-tax")) or ZERO,
            "gift_wrap_price": money(r.get("gift-wrap-price")) or ZERO,
            "gift_wrap_tax": money(r.get("gift-wrap-tax")) or ZERO,
            "promotion_discount": abs(money(r.get("item-promotion-discount")) or ZERO),
            "shipping_discount": abs(money(r.get("ship-promotion-discount")) or ZERO),
            "item_status": canonical_status(r.get("item-status")),
            "source": "all_orders_report",
            "extract_id": extract_id,
            "extracted_at": extracted_at,
        })
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


def _span(first: date, last: date) -> tuple[datetime, datetime]:
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = min(datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1),
              datetime.now(UTC) - timedelta(minutes=2))
    return start, end


def orders_from_report(api: SpApi, first: date, last: date, marketplace_by_channel: dict[str, str],
                       *, poll_seconds: float = 2.0) -> Extract:
    """One all-orders report for [first, last] (at most 30 days): a handful of calls for any volume."""
    return orders_from_reports(api, [(first, last)], marketplace_by_channel, poll_seconds=poll_seconds)


def orders_from_reports(api: SpApi, spans: list[tuple[date, date]], marketplace_by_channel: dict[str, str],
                        *, poll_seconds: float = 2.0) -> Extract:
    """One all-orders report per window (windows of at most 30 days), requested together."""
    from sage_amazon.amazon import reports

    before = api.total_calls
    spans = [(f, la) for f, la in spans if _span(f, la)[1] > _span(f, la)[0]]
    texts = reports.fetch_reports(api, ALL_ORDERS_REPORT, [_span(f, la) for f, la in spans],
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


def get_orders_v0_by_id(api: SpApi, order_ids: Iterable[str], marketplaces: dict[str, str] | None = None) -> Extract:
    """The current version of some orders through v0 getOrder + getOrderItems (two calls each), on the host of
    the order's marketplace when known."""
    extract = Extract(source="orders_v0")
    extract_id, extracted_at = _stamp()
    for order_id in order_ids:
        marketplace_id = (marketplaces or {}).get(order_id)
        res = api.call("getOrder", "ordersV0", "get_order", order_id, marketplace_id=marketplace_id)
        extract.calls += 1
        order = res.payload or {}
        if not order:
            continue
        items = list(_order_items_v0(api, order_id, extract, marketplace_id))
        try:
            row, item_rows = parse_order_v0(order, items, extract_id, extracted_at)
        except SchemaDrift as exc:
            extract.drift.append(str(exc))
            continue
        extract.orders.append(row)
        extract.items.extend(item_rows)
    return extract
