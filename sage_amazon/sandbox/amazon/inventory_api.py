"""FBA Inventory v1: getInventorySummaries (granularity Marketplace, details, sellerSkus, nextToken)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from sage_amazon.sandbox.amazon.guard import guard, json_response
from sage_amazon.sandbox.amazon.wire import bad_request, csv_param, decode_token, encode_token
from sage_amazon.sandbox.seller_catalog import CATALOG

router = APIRouter()


def summary(world: Any, mp: str, sku: str, details: bool) -> dict[str, Any]:
    cat = next(c for c in CATALOG if c.sku == sku)
    inv = world.state["inventory"][f"{mp}|{sku}"]
    inbound = sum(s["qty"] for s in inv["inbound"])
    body: dict[str, Any] = {
        "asin": cat.asin, "fnSku": cat.fnsku, "sellerSku": sku, "condition": "NewItem",
        "lastUpdatedTime": inv["updated"], "productName": cat.title,
        "totalQuantity": inv["fulfillable"] + inv["reserved"] + inv["unfulfillable"] + inv["researching"] + inbound,
        "stores": [],
    }
    if details:
        body["inventoryDetails"] = {
            "fulfillableQuantity": inv["fulfillable"], "inboundWorkingQuantity": 0,
            "inboundShippedQuantity": inbound, "inboundReceivingQuantity": 0,
            "reservedQuantity": {"totalReservedQuantity": inv["reserved"],
                                 "pendingCustomerOrderQuantity": inv["reserved"],
                                 "pendingTransshipmentQuantity": 0, "fcProcessingQuantity": 0},
            "researchingQuantity": {"totalResearchingQuantity": inv["researching"], "researchingQuantityBreakdown": []},
            "unfulfillableQuantity": {"totalUnfulfillableQuantity": inv["unfulfillable"],
                                      "customerDamagedQuantity": inv["unfulfillable"], "warehouseDamagedQuantity": 0,
                                      "distributorDamagedQuantity": 0, "carrierDamagedQuantity": 0,
                                      "defectiveQuantity": 0, "expiredQuantity": 0},
        }
    return body


@router.get("/fba/inventory/v1/summaries")
def get_inventory_summaries(request: Request) -> Any:
    sandbox = guard(request, "getInventorySummaries")
    world = sandbox.world
    params = request.query_params
    if params.get("granularityType") != "Marketplace":
        raise bad_request("granularityType must be Marketplace.")
    mp = params.get("granularityId")
    if mp not in world.options.marketplace_ids:
        raise bad_request(f"Invalid granularityId: {mp}.")
    skus = csv_param(params.get("sellerSkus"))
    if len(skus) > 50:
        raise bad_request("sellerSkus accepts at most 50 SKUs.")
    details = params.get("details", "false").lower() == "true"
    offset = 0
    if params.get("nextToken"):
        token = decode_token(params["nextToken"])
        if token is None or token.get("mp") != mp:
            raise bad_request("Invalid nextToken.")
        offset = token["offset"]
    with world.lock:
        wanted = [c.sku for c in CATALOG if c.fba and (not skus or c.sku in skus)]
        size = sandbox.inventory_page_size
        page = [summary(world, mp, sku, details) for sku in wanted[offset:offset + size]]
    body: dict[str, Any] = {"payload": {"granularity": {"granularityType": "Marketplace", "granularityId": mp},
                                        "inventorySummaries": page}}
    if offset + size < len(wanted):
        body["pagination"] = {"nextToken": encode_token({"mp": mp, "offset": offset + size})}
    return json_response(body)
