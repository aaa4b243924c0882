"""Fulfillment Outbound 2020-07-01 (Multi-Channel Fulfillment): preview, create, get, list, cancel.

Orders move Received -> Planning -> Processing -> Complete (with a shipment and tracking) over
(time-scaled) seconds; stock is reserved at creation and leaves FBA inventory on completion. Each status change
is announced by a FULFILLMENT_ORDER_STATUS notification. As Amazon: a preview says whether (and why not) an order
can ship (orderUnfulfillableReasons, itemUnfulfillableReasons); creating an order Amazon cannot ship (unknown SKU,
not enough fulfillable stock, an address it cannot deliver to) is refused with 400 InvalidInput; a
sellerFulfillmentOrderId is unique (a second create with it is refused); an order can be cancelled only while
Received or Planning. [UNCONFIRMED] reason codes other than the model's examples (DeliverySLAUnavailable,
InvalidDestinationAddress): InvalidSKU, InventoryUnavailable."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Body, Request

from sage_amazon.sandbox.amazon.guard import guard, json_response
from sage_amazon.sandbox.amazon.wire import (
    bad_request,
    decode_token,
    encode_token,
    iso,
    not_found,
    parse_iso,
)
from sage_amazon.sandbox.seller_catalog import CATALOG_BY_SKU

router = APIRouter()
STEPS = (("Planning", 5.0), ("Processing", 15.0), ("Complete", 40.0))
FINAL = ("Cancelled", "Complete", "CompletePartialled", "Unfulfillable", "Invalid")
# the destination countries each marketplace's FBA network ships to (domestic MCF) [UNCONFIRMED: cross-border MCF
# exists for some marketplace pairs; the sandbox ships domestically only]
COUNTRIES = {"ATVPDKIKX0DER": ("US",), "A2EUQ1WTGCTBG2": ("CA",), "A1AM78C64UM0Y8": ("MX",),
             "A1F83G8C2ARO7P": ("GB",), "A1PA6795UKMFR9": ("DE",), "A13V1IB3VIYZZH": ("FR",),
             "APJ6JRA9NG5V4": ("IT",), "A1RKKUPIHCS9HS": ("ES",), "A1VC38T7YXB528": ("JP",)}
POSTAL = {"US": r"\d{5}(-\d{4})?", "CA": r"[A-Z]\d[A-Z] ?\d[A-Z]\d", "GB": r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}",
          "DE": r"\d{5}", "FR": r"\d{5}", "IT": r"\d{5}", "ES": r"\d{5}", "MX": r"\d{5}", "JP": r"\d{3}-?\d{4}"}
SPEEDS = {"Standard": (Decimal("3.99"), 2, 5), "Expedited": (Decimal("7.49"), 1, 3), "Priority": (Decimal("11.99"), 0, 1)}
REQUIRED = ("sellerFulfillmentOrderId", "displayableOrderId", "displayableOrderDate", "displayableOrderComment",
            "shippingSpeedCategory", "destinationAddress", "items")


def advance(sandbox: Any) -> None:
    world = sandbox.world
    now = world.clock()
    scale = max(world.options.time_scale, 1e-9)
    for fo in world.state["fulfillment_orders"].values():
        if fo["status"] in FINAL:
            continue
        received = parse_iso(fo["receivedDate"])
        sequence = ["Received"] + [status for status, _ in STEPS]
        target = "Received"
        for status, seconds in STEPS:
            if now >= received + timedelta(seconds=seconds / scale):
                target = status
        if sequence.index(target) <= sequence.index(fo["status"]):
            continue
        fo["status"] = target
        fo["statusUpdatedDate"] = iso(now)
        if fo["status"] == "Complete" and not fo.get("shipment"):
            fo["shipment"] = {"id": "T" + fo["sellerFulfillmentOrderId"][-8:].upper().rjust(8, "0"),
                              "date": iso(now), "tracking": "TBA" + hashlib.sha1(fo["sellerFulfillmentOrderId"].encode()).hexdigest()[:12].upper()}
            for item in fo["items"]:
                world._move_stock(fo["marketplaceId"], item["sellerSku"], now, reserved=-int(item["quantity"]))
        world.save("fulfillment_orders", fo["sellerFulfillmentOrderId"])
        _announce(world, fo, now)


def _announce(world: Any, fo: dict[str, Any], now: Any) -> None:
    """FULFILLMENT_ORDER_STATUS for a status change (sandbox/amazon/notifications.py builds the body)."""
    world.emit("FULFILLMENT_ORDER_STATUS", {"order": _public(fo), "shipment": _detail(fo).get("fulfillmentShipments"),
                                            "at": iso(now)})


def _problems(world: Any, mp: str, address: Any, items: list[Any]) -> tuple[list[str], dict[str, list[str]]]:
    """(order reasons, item id -> item reasons) Amazon would give for shipping these items to this address."""
    reasons: list[str] = []
    if not isinstance(address, dict) or any(not str(address.get(k) or "").strip()
                                            for k in ("name", "addressLine1", "postalCode", "countryCode")):
        reasons.append("InvalidDestinationAddress")
    else:
        country = str(address["countryCode"]).upper()
        pattern = POSTAL.get(country)
        if country not in COUNTRIES.get(mp, ()):
            reasons.append("DeliverySLAUnavailable")
        elif pattern and not re.fullmatch(pattern, str(address["postalCode"]).strip().upper()):
            reasons.append("InvalidDestinationAddress")
    per_item: dict[str, list[str]] = {}
    for item in items:
        sku, qty = item.get("sellerSku"), item.get("quantity")
        inv = world.state["inventory"].get(f"{mp}|{sku}")
        if inv is None or sku not in CATALOG_BY_SKU:
            per_item[str(item.get("sellerFulfillmentOrderItemId"))] = ["InvalidSKU"]
        elif not isinstance(qty, int) or qty < 1 or inv["fulfillable"] < qty:
            per_item[str(item.get("sellerFulfillmentOrderItemId"))] = ["InventoryUnavailable"]
    return reasons, per_item


def _public(fo: dict[str, Any]) -> dict[str, Any]:
    keys = ("sellerFulfillmentOrderId", "marketplaceId", "displayableOrderId", "displayableOrderDate",
            "displayableOrderComment", "shippingSpeedCategory", "destinationAddress", "fulfillmentAction",
            "fulfillmentPolicy", "receivedDate", "statusUpdatedDate", "notificationEmails")
    body = {k: fo[k] for k in keys if fo.get(k) is not None}
    body["fulfillmentOrderStatus"] = fo["status"]
    return body


def _detail(fo: dict[str, Any]) -> dict[str, Any]:
    cancelled = fo["status"] == "Cancelled"
    items = [{"sellerSku": i["sellerSku"], "sellerFulfillmentOrderItemId": i["sellerFulfillmentOrderItemId"],
              "quantity": i["quantity"], "cancelledQuantity": i["quantity"] if cancelled else 0,
              "unfulfillableQuantity": 0, "fulfillmentNetworkSku": CATALOG_BY_SKU[i["sellerSku"]].fnsku}
             for i in fo["items"]]
    body: dict[str, Any] = {"fulfillmentOrder": _public(fo), "fulfillmentOrderItems": items,
                            "returnItems": [], "returnAuthorizations": []}
    if fo.get("shipment"):
        ship = fo["shipment"]
        body["fulfillmentShipments"] = [{
            "amazonShipmentId": ship["id"], "fulfillmentCenterId": "PHX6", "fulfillmentShipmentStatus": "SHIPPED",
            "shippingDate": ship["date"],
            "fulfillmentShipmentItem": [{"sellerSku": i["sellerSku"],
                                         "sellerFulfillmentOrderItemId": i["sellerFulfillmentOrderItemId"],
                                         "quantity": i["quantity"], "packageNumber": 1} for i in fo["items"]],
            "fulfillmentShipmentPackage": [{"packageNumber": 1, "carrierCode": "AMZN_US",
                                            "trackingNumber": ship["tracking"]}]}]
    return body


@router.post("/fba/outbound/2020-07-01/fulfillmentOrders/preview")
def get_fulfillment_preview(request: Request, body: Any = Body(None)) -> Any:
    sandbox = guard(request, "getFulfillmentPreview")
    world = sandbox.world
    body = body if isinstance(body, dict) else {}
    items = body.get("items")
    if not body.get("address") or not isinstance(items, list) or not items:
        raise bad_request("Missing required fields: address, items.")
    if any(not isinstance(i, dict) or not i.get("sellerSku") or not i.get("sellerFulfillmentOrderItemId")
           for i in items):
        raise bad_request("Each item requires sellerSku, sellerFulfillmentOrderItemId and quantity.")
    mp = body.get("marketplaceId") or world.options.marketplace_ids[0]
    speeds = body.get("shippingSpeedCategories") or ["Standard", "Expedited", "Priority"]
    with world.lock:
        reasons, per_item = _problems(world, mp, body["address"], items)
        now = world.clock()
    currency = {"ATVPDKIKX0DER": "USD", "A1F83G8C2ARO7P": "GBP", "A1PA6795UKMFR9": "EUR"}.get(mp, "USD")
    previews = []
    for speed in speeds:
        if speed not in SPEEDS:
            continue
        fee, ship_days, arrive_days = SPEEDS[speed]
        units = sum(int(i.get("quantity") or 0) for i in items)
        fulfillable = not reasons and not per_item
        preview: dict[str, Any] = {
            "shippingSpeedCategory": speed, "isFulfillable": fulfillable, "isCODCapable": False,
            "marketplaceId": mp,
            "estimatedFees": [{"name": "FBAPerUnitFulfillmentFee",
                               "amount": {"currencyCode": currency, "value": str(fee * units)}}],
            "fulfillmentPreviewShipments": [] if not fulfillable else [{
                "earliestShipDate": iso(now + timedelta(days=ship_days)),
                "latestShipDate": iso(now + timedelta(days=ship_days + 1)),
                "earliestArrivalDate": iso(now + timedelta(days=arrive_days)),
                "latestArrivalDate": iso(now + timedelta(days=arrive_days + 2)),
                "fulfillmentPreviewItems": [{"sellerSku": i["sellerSku"], "quantity": i.get("quantity"),
                                             "sellerFulfillmentOrderItemId": i["sellerFulfillmentOrderItemId"]}
                                            for i in items]}],
            "unfulfillablePreviewItems": [{"sellerSku": i["sellerSku"], "quantity": i.get("quantity"),
                                           "sellerFulfillmentOrderItemId": i["sellerFulfillmentOrderItemId"],
                                           "itemUnfulfillableReasons": per_item[str(i["sellerFulfillmentOrderItemId"])]}
                                          for i in items if str(i["sellerFulfillmentOrderItemId"]) in per_item],
        }
        if reasons:
            preview["orderUnfulfillableReasons"] = reasons
        previews.append(preview)
    return json_response({"payload": {"fulfillmentPreviews": previews}})


@router.post("/fba/outbound/2020-07-01/fulfillmentOrders")
def create_fulfillment_order(request: Request, body: Any = Body(None)) -> Any:
    sandbox = guard(request, "createFulfillmentOrder")
    world = sandbox.world
    body = body if isinstance(body, dict) else {}
    missing = [k for k in REQUIRED if not body.get(k)]
    if missing:
        raise bad_request(f"Missing required fields: {', '.join(missing)}.")
    address = body["destinationAddress"]
    if not isinstance(address, dict) or any(not address.get(k) for k in ("name", "addressLine1", "postalCode",
                                                                          "countryCode")):
        raise bad_request("destinationAddress requires name, addressLine1, postalCode and countryCode.")
    if len(str(body["sellerFulfillmentOrderId"])) > 40:
        raise bad_request("sellerFulfillmentOrderId must be at most 40 characters.")
    if body["shippingSpeedCategory"] not in ("Standard", "Expedited", "Priority", "ScheduledDelivery"):
        raise bad_request("Invalid shippingSpeedCategory.")
    mp = body.get("marketplaceId") or world.options.marketplace_ids[0]
    with world.lock:
        if body["sellerFulfillmentOrderId"] in world.state["fulfillment_orders"]:
            raise bad_request(f"Fulfillment order {body['sellerFulfillmentOrderId']} already exists.")
        items = body["items"] if isinstance(body["items"], list) else []
        for item in items:
            sku, qty = item.get("sellerSku"), item.get("quantity")
            inv = world.state["inventory"].get(f"{mp}|{sku}")
            if inv is None or not item.get("sellerFulfillmentOrderItemId") or not isinstance(qty, int) or qty < 1:
                raise bad_request(f"Invalid item: {sku}.")
            if inv["fulfillable"] < qty:
                raise bad_request(f"Insufficient fulfillable inventory for {sku}.")
        reasons, _ = _problems(world, mp, address, items)
        if reasons:
            raise bad_request(f"The destination address cannot be served: {', '.join(reasons)}.")
        now = world.clock()
        for item in items:
            world._move_stock(mp, item["sellerSku"], now, fulfillable=-item["quantity"], reserved=item["quantity"])
        fo = {k: body.get(k) for k in REQUIRED + ("fulfillmentAction", "fulfillmentPolicy", "notificationEmails")}
        fo.update({"marketplaceId": mp, "receivedDate": iso(now), "statusUpdatedDate": iso(now),
                   "status": "Received", "fulfillmentPolicy": body.get("fulfillmentPolicy") or "FillOrKill",
                   "items": [{"sellerSku": i["sellerSku"], "sellerFulfillmentOrderItemId":
                              i["sellerFulfillmentOrderItemId"], "quantity": i["quantity"]} for i in items]})
        world.put("fulfillment_orders", fo["sellerFulfillmentOrderId"], fo)
        _announce(world, fo, now)
        world.flush()
    return json_response({})


@router.get("/fba/outbound/2020-07-01/fulfillmentOrders")
def list_all_fulfillment_orders(request: Request) -> Any:
    sandbox = guard(request, "listAllFulfillmentOrders")
    world = sandbox.world
    params = request.query_params
    if params.get("nextToken"):
        query = decode_token(params["nextToken"])
        if query is None or query.get("op") != "mcf":
            raise bad_request("Invalid nextToken.")
    else:
        try:
            since = parse_iso(params["queryStartDate"]) if params.get("queryStartDate") else \
                world.clock() - timedelta(days=36)
        except ValueError as exc:
            raise bad_request("queryStartDate must be an ISO 8601 date-time.") from exc
        query = {"op": "mcf", "since": iso(since), "offset": 0}
    with world.lock:
        matched = sorted((fo for fo in world.state["fulfillment_orders"].values()
                          if parse_iso(fo["statusUpdatedDate"]) >= parse_iso(query["since"])),
                         key=lambda fo: (fo["receivedDate"], fo["sellerFulfillmentOrderId"]))
        size = 50
        page = [_public(fo) for fo in matched[query["offset"]:query["offset"] + size]]
    payload: dict[str, Any] = {"fulfillmentOrders": page}
    if query["offset"] + size < len(matched):
        payload["nextToken"] = encode_token({**query, "offset": query["offset"] + size})
    return json_response({"payload": payload})


@router.get("/fba/outbound/2020-07-01/fulfillmentOrders/{order_id}")
def get_fulfillment_order(request: Request, order_id: str) -> Any:
    sandbox = guard(request, "getFulfillmentOrder")
    with sandbox.world.lock:
        fo = sandbox.world.state["fulfillment_orders"].get(order_id)
        if fo is None:
            raise not_found(f"Fulfillment order {order_id} not found.")
        return json_response({"payload": _detail(fo)})


@router.put("/fba/outbound/2020-07-01/fulfillmentOrders/{order_id}/cancel")
def cancel_fulfillment_order(request: Request, order_id: str) -> Any:
    sandbox = guard(request, "cancelFulfillmentOrder")
    world = sandbox.world
    with world.lock:
        fo = world.state["fulfillment_orders"].get(order_id)
        if fo is None:
            raise not_found(f"Fulfillment order {order_id} not found.")
        if fo["status"] not in ("Received", "Planning"):
            raise bad_request(f"Fulfillment order {order_id} is {fo['status']} and can no longer be cancelled.")
        now = world.clock()
        fo["status"] = "Cancelled"
        fo["statusUpdatedDate"] = iso(now)
        for item in fo["items"]:
            world._move_stock(fo["marketplaceId"], item["sellerSku"], now, fulfillable=item["quantity"],
                              reserved=-item["quantity"])
        world.save("fulfillment_orders", order_id)
        _announce(world, fo, now)
        world.flush()
    return json_response({})
