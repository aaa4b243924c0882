"""Orders v0 (deprecated, kept working): getOrders pages plus one getOrderItems call per order, and
getOrder + getOrderItems for orders named by id."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from sage_amazon.amazon.client import SpApi
from sage_amazon.amazon.values import money, parse_time

from .rows import Extract, by_account, currency_of, item_row, order_row, require, ship_to, stamp
from .spans import in_window, iso
from .status import canonical_status


def parse_order_v0(order: dict[str, Any], order_items: list[dict[str, Any]], extract_id: str,
                   extracted_at: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    require(order, ("AmazonOrderId", "PurchaseDate", "OrderStatus"), "v0 order")
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
        buyer = item.get("BuyerInfo") or {}
        items.append(item_row(
            order["AmazonOrderId"], str(item.get("OrderItemId", "")), purchase.date() if purchase else None, updated,
            sku=(item.get("SellerSKU") or "").strip(), asin=item.get("ASIN") or "", title=item.get("Title") or "",
            quantity=qty, shipped=int(item.get("QuantityShipped") or 0), currency=currency, unit_price=unit,
            item_price=item_price,
            charges=[money(item.get("ItemTax")), money(item.get("ShippingPrice")), money(item.get("ShippingTax")),
                     money(buyer.get("GiftWrapPrice")), money(buyer.get("GiftWrapTax")),
                     money(item.get("PromotionDiscount")), money(item.get("ShippingDiscount"))],
            status="", source="orders_v0", extract_id=extract_id, extracted_at=extracted_at))
    row = order_row(
        order["AmazonOrderId"], purchase, updated, marketplace_id=order.get("MarketplaceId") or "",
        sales_channel=order.get("SalesChannel") or "", status=canonical_status(order.get("OrderStatus")),
        amazon_status=order.get("OrderStatus") or "", fulfillment_channel=order.get("FulfillmentChannel") or "",
        ship_service_level=order.get("ShipServiceLevel") or "", currency=currency, order_total=money(total),
        is_business_order=bool(order.get("IsBusinessOrder")),
        ship=ship_to(address.get("Name"), address.get("AddressLine1"), address.get("AddressLine2"),
                     address.get("AddressLine3"), address.get("City"), address.get("StateOrRegion"),
                     address.get("PostalCode"), address.get("CountryCode"), address.get("Phone")),
        source="orders_v0", extract_id=extract_id, extracted_at=extracted_at)
    row["payload"] = json.dumps({"order": order, "items": order_items}, default=str, sort_keys=True)
    return row, items


def get_orders_v0(api: SpApi, start: datetime, end: datetime,
                  marketplaces: Iterable[str] | None = None) -> Extract:
    """The per-order approach: getOrders pages (100 each) and one getOrderItems call per order; each region's
    marketplaces on their own host (accounts.per_account)."""
    return by_account(api, marketplaces, "orders_v0", lambda sub, mps: _get_orders(sub, start, end, mps))


def _get_orders(api: SpApi, start: datetime, end: datetime, marketplaces: list[str]) -> Extract:
    extract = Extract(source="orders_v0")
    extract_id, extracted_at = stamp()
    token: str | None = None
    while True:
        params: dict[str, Any] = {"MarketplaceIds": marketplaces}
        if token:
            params["NextToken"] = token
        else:
            params.update({"CreatedAfter": iso(start), "CreatedBefore": iso(end), "MaxResultsPerPage": 100})
        res = api.call("getOrders", "ordersV0", "get_orders", **params)
        payload = extract.page(res, "Orders", "getOrders")
        if payload is None:
            break
        for order in payload["Orders"]:
            if not in_window({"createdTime": order.get("PurchaseDate")}, start, end):
                continue
            items = list(_order_items_v0(api, order.get("AmazonOrderId", ""), extract))
            extract.add(lambda order=order, items=items: parse_order_v0(order, items, extract_id, extracted_at))
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


def get_orders_v0_by_id(api: SpApi, order_ids: Iterable[str], marketplaces: dict[str, str] | None = None) -> Extract:
    """The current version of some orders through v0 getOrder + getOrderItems (two calls each), on the host of
    the order's marketplace when known."""
    extract = Extract(source="orders_v0")
    extract_id, extracted_at = stamp()
    for order_id in order_ids:
        marketplace_id = (marketplaces or {}).get(order_id)
        res = api.call("getOrder", "ordersV0", "get_order", order_id, marketplace_id=marketplace_id)
        extract.calls += 1
        order = res.payload or {}
        if not order:
            continue
        items = list(_order_items_v0(api, order_id, extract, marketplace_id))
        extract.add(lambda order=order, items=items: parse_order_v0(order, items, extract_id, extracted_at))
    return extract
