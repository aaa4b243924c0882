"""Orders API v0 (getOrders, getOrder, getOrderItems, getOrderAddress, getOrderBuyerInfo, confirmShipment)
and Orders 2026-01-01 (searchOrders, getOrder)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Body, Request

from sage_amazon.sandbox.amazon import lwa, regions
from sage_amazon.sandbox.amazon.guard import guard, json_response
from sage_amazon.sandbox.amazon.wire import (
    ApiError,
    bad_request,
    csv_param,
    decode_token,
    encode_token,
    iso,
    not_found,
    parse_iso,
)
from sage_amazon.sandbox.seller_catalog import CATALOG_BY_SKU, MARKETPLACES_BY_ID

router = APIRouter()
MIN_AGE = timedelta(minutes=2)
V0_STATUSES = {"Pending", "Unshipped", "PartiallyShipped", "Shipped", "Canceled", "Unfulfillable",
               "InvoiceUnconfirmed", "PendingAvailability"}
STATUS_2026 = {"Pending": "PENDING", "Unshipped": "UNSHIPPED", "PartiallyShipped": "PARTIALLY_SHIPPED",
               "Shipped": "SHIPPED", "Canceled": "CANCELLED"}


def _money(amount: Decimal | str, currency: str) -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": str(Decimal(amount).quantize(Decimal("0.01")))}


def _order_total(order: dict[str, Any]) -> Decimal:
    total = Decimal("0")
    for it in order["items"]:
        total += sum(Decimal(it[k]) for k in ("item_price", "item_tax", "shipping", "shipping_tax", "gift_wrap",
                                               "gift_wrap_tax")) - Decimal(it["promo"])
    return total


def _rdt(request: Request) -> dict[str, Any] | None:
    token = request.headers.get("x-amz-access-token", "")
    doc = request.app.state.sandbox.world.state["tokens"].get(token)
    return doc if doc and doc["kind"] == "rdt" else None


def _rdt_granted(request: Request) -> bool:
    return _rdt(request) is not None


def _data_elements(request: Request) -> set[str]:
    """The PII an RDT grants this call: the dataElements of its restricted resource matching the request.

    tokens_2021-03-01.json RestrictedResource.dataElements: required for getOrder, getOrders and
    getOrderItems; buyerInfo and shippingAddress unlock BuyerInfo and the full ShippingAddress. A
    seller token (no RDT) or an RDT without dataElements grants none.
    """
    doc = _rdt(request)
    if doc is None:
        return set()
    elements: set[str] = set()
    for resource in doc["resources"]:
        if str(resource.get("method", "GET")).upper() == request.method.upper() \
                and lwa.path_pattern(str(resource.get("path", ""))).match(request.url.path):
            elements |= {str(e) for e in resource.get("dataElements") or []}
    return elements


# ordersV0.json Order.ShippingAddress: "only available for orders with the following status values:
# Unshipped, PartiallyShipped, Shipped and InvoiceUnconfirmed"
ADDRESS_STATUSES = frozenset({"Unshipped", "PartiallyShipped", "Shipped", "InvoiceUnconfirmed"})


def order_v0(order: dict[str, Any], elements: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    mp = MARKETPLACES_BY_ID[order["marketplace_id"]]
    purchased = parse_iso(order["purchase_date"])
    shipped = sum(i["qty_shipped"] for i in order["items"])
    ordered = sum(i["qty"] for i in order["items"])
    addr = order["address"]
    body: dict[str, Any] = {
        "AmazonOrderId": order["id"],
        "PurchaseDate": order["purchase_date"],
        "LastUpdateDate": order["last_update"],
        "OrderStatus": order["status"],
        "FulfillmentChannel": order["channel"],
        "SalesChannel": mp.name,
        "ShipServiceLevel": order["ship_level"],
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": 0 if order["status"] == "Canceled" else ordered - shipped,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": order["marketplace_id"],
        "ShipmentServiceLevelCategory": order["ship_level"],
        "OrderType": "StandardOrder",
        "EarliestShipDate": iso(purchased),
        "LatestShipDate": iso(purchased + timedelta(days=2)),
        "EarliestDeliveryDate": iso(purchased + timedelta(days=2)),
        "LatestDeliveryDate": iso(purchased + timedelta(days=5)),
        "IsBusinessOrder": order["is_business"],
        "IsPrime": order["is_prime"],
        "IsPremiumOrder": False,
        "IsGlobalExpressEnabled": False,
        "IsReplacementOrder": False,
        "IsSoldByAB": False,
        "IsISPU": False,
        "IsAccessPointOrder": False,
        "HasRegulatedItems": False,
        "BuyerInfo": {"BuyerEmail": order["buyer_email"], "BuyerName": addr["Name"]}
        if "buyerInfo" in elements else {},
    }
    if order["status"] in ADDRESS_STATUSES:
        body["ShippingAddress"] = dict(addr) if "shippingAddress" in elements else {
            k: addr[k] for k in ("City", "StateOrRegion", "PostalCode", "CountryCode")}
    if order["status"] != "Canceled":
        body["OrderTotal"] = _money(_order_total(order), order["currency"])
    return body


def order_item_v0(order: dict[str, Any], it: dict[str, Any]) -> dict[str, Any]:
    cat = CATALOG_BY_SKU[it["sku"]]
    cur = order["currency"]
    body: dict[str, Any] = {
        "ASIN": cat.asin, "SellerSKU": it["sku"], "OrderItemId": it["order_item_id"], "Title": cat.title,
        "QuantityOrdered": it["qty"], "QuantityShipped": it["qty_shipped"],
        "ProductInfo": {"NumberOfItems": "1"},
        "ItemPrice": _money(it["item_price"], cur), "ItemTax": _money(it["item_tax"], cur),
        "ShippingPrice": _money(it["shipping"], cur), "ShippingTax": _money(it["shipping_tax"], cur),
        "ShippingDiscount": _money("0", cur), "ShippingDiscountTax": _money("0", cur),
        "PromotionDiscount": _money(it["promo"], cur), "PromotionDiscountTax": _money("0", cur),
        "IsGift": "true" if Decimal(it["gift_wrap"]) else "false",
        "ConditionId": "New", "ConditionSubtypeId": "New", "IsTransparency": False, "SerialNumberRequired": False,
    }
    if it["promo_id"]:
        body["PromotionIds"] = [it["promo_id"]]
    if Decimal(it["item_tax"]) or Decimal(it["shipping_tax"]):
        body["TaxCollection"] = {"Model": "MarketplaceFacilitator", "ResponsibleParty": "Amazon Services, Inc."}
    if Decimal(it["gift_wrap"]):
        body["BuyerInfo"] = {"GiftWrapPrice": _money(it["gift_wrap"], cur),
                             "GiftWrapTax": _money(it["gift_wrap_tax"], cur), "GiftWrapLevel": "Classic"}
    if order["status"] == "Canceled":
        body["ItemPrice"] = _money("0", cur)
        body["ItemTax"] = _money("0", cur)
    return body


def _window(params: Any, now: datetime, after_key: str, before_key: str) -> tuple[datetime | None, datetime | None]:
    try:
        after = parse_iso(params[after_key]) if params.get(after_key) else None
        before = parse_iso(params[before_key]) if params.get(before_key) else None
    except ValueError as exc:
        raise bad_request(f"{after_key} and {before_key} must be ISO 8601 date-times.") from exc
    if before is not None and before > now - MIN_AGE:
        raise bad_request(f"Date {before_key} must be no later than 2 minutes before the time the request was"
                          " submitted.")
    if after is not None and after > now - MIN_AGE:
        raise bad_request(f"Date {after_key} must be no later than 2 minutes before the time the request was"
                          " submitted.")
    if after is not None and before is not None and after > before:
        raise bad_request(f"{after_key} must be before {before_key}.")
    return after, before


def _get_order(world: Any, order_id: str, region: str | None = None) -> dict[str, Any]:
    order = world.state["orders"].get(order_id)
    if order is None or not regions.in_region(order["marketplace_id"], region):  # another region's host has it
        raise not_found(f"Invalid order ID: {order_id}")
    return order


def _page_size(raw: str | None, default: int = 100) -> int:
    try:
        size = int(raw) if raw else default
    except ValueError as exc:
        raise bad_request("MaxResultsPerPage must be an integer.") from exc
    if not 1 <= size <= 100:
        raise bad_request("MaxResultsPerPage must be between 1 and 100.")
    return size


def _select(world: Any, query: dict[str, Any]) -> list[dict[str, Any]]:
    field = "last_update" if query["by"] == "update" else "purchase_date"
    after, before = parse_iso(query["after"]), parse_iso(query["before"])
    out = []
    for order in world.state["orders"].values():
        if query["mps"] and order["marketplace_id"] not in query["mps"]:
            continue
        if query["ids"] and order["id"] not in query["ids"]:
            continue
        if query["statuses"] and order["status"] not in query["statuses"]:
            continue
        if query["channels"] and order["channel"] not in query["channels"]:
            continue
        when = parse_iso(order[field])
        if after <= when <= before:
            out.append(order)
    out.sort(key=lambda o: (o[field], o["id"]))
    return out


@router.get("/orders/v0/orders")
def get_orders(request: Request) -> Any:
    sandbox = guard(request, "getOrders")
    world = sandbox.world
    params = request.query_params
    now = world.clock()
    if params.get("NextToken"):
        query = decode_token(params["NextToken"])
        if query is None or query.get("op") != "getOrders":
            raise bad_request("Invalid NextToken.")
    else:
        mps = csv_param(params.get("MarketplaceIds"))
        if not mps:
            raise bad_request("Missing required parameter: MarketplaceIds.")
        ids = csv_param(params.get("AmazonOrderIds"))
        if params.get("CreatedAfter") and params.get("LastUpdatedAfter"):
            raise bad_request("Only one of CreatedAfter and LastUpdatedAfter can be specified.")
        if not ids and not params.get("CreatedAfter") and not params.get("LastUpdatedAfter"):
            raise bad_request("Either CreatedAfter or LastUpdatedAfter must be specified.")
        by_update = bool(params.get("LastUpdatedAfter"))
        if by_update and params.get("CreatedBefore"):
            raise bad_request("CreatedBefore cannot be specified with LastUpdatedAfter.")
        if not by_update and params.get("LastUpdatedBefore"):
            raise bad_request("LastUpdatedBefore cannot be specified with CreatedAfter.")
        after_key, before_key = ("LastUpdatedAfter", "LastUpdatedBefore") if by_update else ("CreatedAfter",
                                                                                            "CreatedBefore")
        after, before = _window(params, now, after_key, before_key)
        statuses = csv_param(params.get("OrderStatuses"))
        bad = [s for s in statuses if s not in V0_STATUSES]
        if bad:
            raise bad_request(f"Invalid OrderStatuses: {', '.join(bad)}.")
        query = {"op": "getOrders", "by": "update" if by_update else "created", "mps": mps, "ids": ids,
                 "statuses": statuses, "channels": csv_param(params.get("FulfillmentChannels")),
                 "after": iso(after) if after else "2000-01-01T00:00:00Z", "before": iso(before or now - MIN_AGE),
                 "size": _page_size(params.get("MaxResultsPerPage")), "offset": 0}
    with world.lock:
        matched = _select(world, query)
        offset, size = query["offset"], query["size"]
        elements = _data_elements(request)
        payload: dict[str, Any] = {"Orders": [order_v0(o, elements) for o in matched[offset:offset + size]]}
    if offset + size < len(matched):
        payload["NextToken"] = encode_token({**query, "offset": offset + size})
    payload["LastUpdatedBefore" if query["by"] == "update" else "CreatedBefore"] = query["before"]
    return json_response({"payload": payload})


@router.get("/orders/v0/orders/{order_id}")
def get_order(request: Request, order_id: str) -> Any:
    sandbox = guard(request, "getOrder")
    with sandbox.world.lock:
        order = _get_order(sandbox.world, order_id, regions.of_request(request))
        return json_response({"payload": order_v0(order, _data_elements(request))})


@router.get("/orders/v0/orders/{order_id}/orderItems")
def get_order_items(request: Request, order_id: str) -> Any:
    sandbox = guard(request, "getOrderItems")
    with sandbox.world.lock:
        order = _get_order(sandbox.world, order_id, regions.of_request(request))
        items = [order_item_v0(order, it) for it in order["items"]]
    return json_response({"payload": {"OrderItems": items, "AmazonOrderId": order_id}})


@router.get("/orders/v0/orders/{order_id}/address")
def get_order_address(request: Request, order_id: str) -> Any:
    sandbox = guard(request, "getOrderAddress")
    with sandbox.world.lock:
        order = _get_order(sandbox.world, order_id, regions.of_request(request))
        addr = order["address"]
        shipping = dict(addr) if _rdt_granted(request) else {
            k: addr[k] for k in ("City", "StateOrRegion", "PostalCode", "CountryCode")}
    return json_response({"payload": {"AmazonOrderId": order_id, "ShippingAddress": shipping}})


@router.get("/orders/v0/orders/{order_id}/buyerInfo")
def get_order_buyer_info(request: Request, order_id: str) -> Any:
    sandbox = guard(request, "getOrderBuyerInfo")
    with sandbox.world.lock:
        order = _get_order(sandbox.world, order_id, regions.of_request(request))
        payload: dict[str, Any] = {"AmazonOrderId": order_id}
        if _rdt_granted(request):
            payload.update({"BuyerEmail": order["buyer_email"], "BuyerName": order["address"]["Name"]})
    return json_response({"payload": payload})


@router.post("/orders/v0/orders/{order_id}/shipmentConfirmation")
def confirm_shipment(request: Request, order_id: str, body: Any = Body(None)) -> Any:
    sandbox = guard(request, "confirmShipment")
    world = sandbox.world
    body = body if isinstance(body, dict) else {}
    package = body.get("packageDetail")
    if not isinstance(package, dict) or not body.get("marketplaceId"):
        raise bad_request("packageDetail and marketplaceId are required.")
    missing = [k for k in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate", "orderItems")
               if not package.get(k)]
    if missing:
        raise bad_request(f"packageDetail is missing: {', '.join(missing)}.")
    with world.lock:
        order = _get_order(world, order_id, regions.of_request(request))
        if order["marketplace_id"] != body["marketplaceId"]:
            raise bad_request("marketplaceId does not match the order.")
        if order["channel"] != "MFN":
            raise bad_request("Shipments of Amazon-fulfilled orders cannot be confirmed by the seller.")
        if order["status"] not in ("Unshipped", "PartiallyShipped"):
            raise ApiError(400, "InvalidInput", f"Order {order_id} is {order['status']}; only Unshipped or"
                                                " PartiallyShipped orders can be confirmed.")
        known = {i["order_item_id"]: i for i in order["items"]}
        items = []
        for entry in package["orderItems"]:
            item_id, qty = entry.get("orderItemId"), entry.get("quantity")
            if item_id not in known or not isinstance(qty, int) or qty < 1:
                raise bad_request(f"Invalid orderItemId or quantity: {item_id}.")
            items.append((item_id, qty))
        try:
            ship_date = parse_iso(package["shipDate"])
        except ValueError as exc:
            raise bad_request("shipDate must be an ISO 8601 date-time.") from exc
        world.confirm_shipment(order, package.get("carrierName") or package["carrierCode"],
                               package["trackingNumber"], ship_date, items)
        world.flush()
    from fastapi import Response

    return Response(status_code=204)


# ------------------------------------------------------------------------------ 2026-01-01
def _m(amount: Decimal | str, currency: str) -> dict[str, str]:
    return {"amount": str(Decimal(amount).quantize(Decimal("0.01"))), "currencyCode": currency}


def order_2026(order: dict[str, Any], included: set[str], with_pii: bool = False) -> dict[str, Any]:
    mp = MARKETPLACES_BY_ID[order["marketplace_id"]]
    cur = order["currency"]
    status = STATUS_2026.get(order["status"], "PENDING")
    items = []
    for it in order["items"]:
        cat = CATALOG_BY_SKU[it["sku"]]
        item: dict[str, Any] = {
            "orderItemId": it["order_item_id"], "quantityOrdered": it["qty"],
            "product": {"asin": cat.asin, "title": cat.title, "sellerSku": it["sku"],
                        "condition": {"conditionType": "New"}, "price": {"unitPrice": _m(it["unit_price"], cur)}},
        }
        if "PROCEEDS" in included:
            parts = [("ITEM", Decimal(it["item_price"])), ("SHIPPING", Decimal(it["shipping"])),
                     ("GIFT_WRAP", Decimal(it["gift_wrap"])), ("TAX", Decimal(it["item_tax"]) +
                                                              Decimal(it["shipping_tax"]) +
                                                              Decimal(it["gift_wrap_tax"])),
                     ("DISCOUNT", -Decimal(it["promo"]))]
            item["proceeds"] = {"proceedsTotal": _m(sum(v for _, v in parts), cur),
                                "breakdowns": [{"type": t, "subtotal": _m(v, cur)} for t, v in parts]}
        if "PROMOTION" in included and it["promo_id"]:
            item["promotion"] = {"breakdowns": [{"promotionId": it["promo_id"]}]}
        if "FULFILLMENT" in included:
            item["fulfillment"] = {"quantityFulfilled": it["qty_shipped"],
                                   "quantityUnfulfilled": it["qty"] - it["qty_shipped"]}
        items.append(item)
    body: dict[str, Any] = {
        "orderId": order["id"], "createdTime": order["purchase_date"], "lastUpdatedTime": order["last_update"],
        "programs": ["PRIME"] if order["is_prime"] else [],
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": mp.marketplace_id, "marketplaceName": mp.name},
        "orderItems": items,
    }
    if "BUYER" in included:  # buyer PII needs a restricted data token, as with Amazon
        body["buyer"] = {"buyerName": order["address"]["Name"], "buyerEmail": order["buyer_email"]} if with_pii \
            else {}
    if "RECIPIENT" in included:
        a = order["address"]
        address = {"city": a["City"], "stateOrRegion": a["StateOrRegion"], "postalCode": a["PostalCode"],
                   "countryCode": a["CountryCode"], "addressType": "RESIDENTIAL"}
        if with_pii:
            address.update({"name": a["Name"], "addressLine1": a["AddressLine1"], "phone": a["Phone"]})
        body["recipient"] = {"deliveryAddress": address}
    if "PROCEEDS" in included:
        body["proceeds"] = {"grandTotal": _m(_order_total(order), cur)}
    if "FULFILLMENT" in included:
        body["fulfillment"] = {"fulfillmentStatus": status,
                               "fulfilledBy": "AMAZON" if order["channel"] == "AFN" else "MERCHANT",
                               "fulfillmentServiceLevel": order["ship_level"].upper()}
    if "PACKAGES" in included and order.get("shipment"):
        ship = order["shipment"]
        body["packages"] = [{"packageReferenceId": ship["shipment_id"], "createdTime": ship["date"],
                             "packageStatus": {"status": "SHIPPED"}, "carrier": ship["carrier"],
                             "shipTime": ship["date"], "trackingNumber": ship["tracking"],
                             "packageItems": [{"orderItemId": it["order_item_id"], "quantity": it["qty_shipped"]}
                                              for it in order["items"] if it["qty_shipped"]]}]
    return body


INCLUDED = {"BUYER", "RECIPIENT", "PROCEEDS", "EXPENSE", "PROMOTION", "CANCELLATION", "FULFILLMENT", "PACKAGES",
            "TAX", "PAYMENT", "FULFILLMENT_ORDERS"}


def _included(params: Any) -> set[str]:
    values = set(csv_param(params.get("includedData")))
    bad = values - INCLUDED
    if bad:
        raise bad_request(f"Invalid includedData: {', '.join(sorted(bad))}.")
    return values


@router.get("/orders/2026-01-01/orders")
def search_orders(request: Request) -> Any:
    sandbox = guard(request, "searchOrders")
    world = sandbox.world
    params = request.query_params
    now = world.clock()
    if params.get("paginationToken"):
        query = decode_token(params["paginationToken"])
        if query is None or query.get("op") != "searchOrders":
            raise bad_request("Invalid paginationToken.")
    else:
        if params.get("createdAfter") and params.get("lastUpdatedAfter"):
            raise bad_request("Only one of createdAfter and lastUpdatedAfter can be specified.")
        if not params.get("createdAfter") and not params.get("lastUpdatedAfter"):
            raise bad_request("Either createdAfter or lastUpdatedAfter must be specified.")
        by_update = bool(params.get("lastUpdatedAfter"))
        keys = ("lastUpdatedAfter", "lastUpdatedBefore") if by_update else ("createdAfter", "createdBefore")
        after, before = _window(params, now, *keys)
        reverse = {v: k for k, v in STATUS_2026.items()}
        statuses = [reverse.get(s, s) for s in csv_param(params.get("fulfillmentStatuses"))]
        channels = [{"AMAZON": "AFN", "MERCHANT": "MFN"}.get(c, c) for c in csv_param(params.get("fulfilledBy"))]
        try:
            size = int(params.get("maxResultsPerPage") or 100)
        except ValueError as exc:
            raise bad_request("maxResultsPerPage must be an integer.") from exc
        if not 1 <= size <= 100:
            raise bad_request("maxResultsPerPage must be between 1 and 100.")
        query = {"op": "searchOrders", "by": "update" if by_update else "created",
                 "mps": csv_param(params.get("marketplaceIds")), "ids": [], "statuses": statuses,
                 "channels": channels, "after": iso(after) if after else "2000-01-01T00:00:00Z",
                 "before": iso(before or now - MIN_AGE), "size": size, "offset": 0,
                 "included": sorted(_included(params))}
    with world.lock:
        region = regions.of_request(request)
        matched = [o for o in _select(world, query) if regions.in_region(o["marketplace_id"], region)]
        offset, size = query["offset"], query["size"]
        pii = _rdt_granted(request)
        page = [order_2026(o, set(query["included"]), pii) for o in matched[offset:offset + size]]
    body: dict[str, Any] = {"orders": page}
    if offset + size < len(matched):
        body["pagination"] = {"nextToken": encode_token({**query, "offset": offset + size})}
    body["lastUpdatedBefore" if query["by"] == "update" else "createdBefore"] = query["before"]
    return json_response(body)


@router.get("/orders/2026-01-01/orders/{order_id}")
def get_order_2026(request: Request, order_id: str) -> Any:
    sandbox = guard(request, "getOrder20260101")
    included = _included(request.query_params)
    with sandbox.world.lock:
        order = _get_order(sandbox.world, order_id, regions.of_request(request))
        return json_response({"order": order_2026(order, included, _rdt_granted(request))})
