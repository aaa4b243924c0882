"""Fulfillment Outbound 2020-07-01 (Multi-Channel Fulfillment): create, get, list, cancel.

Orders move Received -> Planning -> Processing -> Complete (with a shipment and tracking) over
(time-scaled) seconds; stock is reserved at creation and leaves FBA inventory on completion."""

from __future__ import annotations

import hashlib
from datetime import timedelta
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
REQUIRED = ("sellerFulfillmentOrderId", "displayableOrderId", "displayableOrderDate", "displayableOrderComment",
            "shippingSpeedCategory", "destinationAddress", "items")


def advance(sandbox: Any) -> None:
    world = sandbox.world
    now = world.clock()
    scale = max(world.options.time_scale, 1e-9)
    for fo in world.state["fulfillment_orders"].values():
        if fo["status"] in ("Cancelled", "Complete"):
            continue
        received = parse_iso(fo["receivedDate"])
        sequence = ["Received"] + [status for status, _ in STEPS]
        target = "Received"
        for status, seconds in STEPS:
            if now >= received + timedelta(seconds=seconds / scale):
                target = status
        if sequence.index(target) > sequence.index(fo["status"]):
            fo["status"] = target
            fo["statusUpdatedDate"] = iso(now)
        if fo["status"] == "Complete" and not fo.get("shipment"):
            fo["shipment"] = {"id": "T" + fo["sellerFulfillmentOrderId"][-8:].upper().rjust(8, "0"),
                              "date": iso(now), "tracking": "TBA" + hashlib.sha1(fo["sellerFulfillmentOrderId"].encode()).hexdigest()[:12].upper()}
            for item in fo["items"]:
                world._move_stock(fo["marketplaceId"], item["sellerSku"], now, reserved=-int(item["quantity"]))
        world.save("fulfillment_orders", fo["sellerFulfillmentOrderId"])


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
        now = world.clock()
        for item in items:
            world._move_stock(mp, item["sellerSku"], now, fulfillable=-item["quantity"], reserved=item["quantity"])
        fo = {k: body.get(k) for k in REQUIRED + ("fulfillmentAction", "fulfillmentPolicy", "notificationEmails")}
        fo.update({"marketplaceId": mp, "receivedDate": iso(now), "statusUpdatedDate": iso(now),
                   "status": "Received", "fulfillmentPolicy": body.get("fulfillmentPolicy") or "FillOrKill",
                   "items": [{"sellerSku": i["sellerSku"], "sellerFulfillmentOrderItemId":
                              i["sellerFulfillmentOrderItemId"], "quantity": i["quantity"]} for i in items]})
        world.put("fulfillment_orders", fo["sellerFulfillmentOrderId"], fo)
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
        world.flush()
    return json_response({})
