"""Listings Items 2021-08-01: getListingsItem, putListingsItem, patchListingsItem; also the target of
JSON_LISTINGS_FEED messages."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Body, Request

from sage_amazon.sandbox.amazon import product_types_api
from sage_amazon.sandbox.amazon.guard import guard, json_response
from sage_amazon.sandbox.amazon.wire import ApiError, csv_param, iso
from sage_amazon.sandbox.seller_catalog import CATALOG_BY_SKU, MARKETPLACES_BY_ID, SELLER_ID

router = APIRouter()


# The Listings Items API answers its own error codes (BAD_REQUEST, NOT_FOUND), not the InvalidInput /
# NotFound of the older APIs (Amazon's listings responses; issue 13 item 10).
def bad_request(message: str) -> ApiError:
    return ApiError(400, "BAD_REQUEST", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", message)
INCLUDED = {"summaries", "attributes", "issues", "offers", "fulfillmentAvailability", "procurement",
            "relationships", "productTypes"}


def apply_attributes(listing: dict[str, Any], attributes: dict[str, Any]) -> None:
    """Keep the fields the sandbox understands in step with the attributes: price and MFN quantity."""
    for entry in attributes.get("fulfillment_availability") or []:
        if isinstance(entry, dict) and "quantity" in entry:
            listing["quantity"] = int(entry["quantity"])
    for entry in attributes.get("purchasable_offer") or []:
        for schedule in (entry or {}).get("our_price") or []:
            for price in (schedule or {}).get("schedule") or []:
                if "value_with_tax" in price:
                    listing["price"] = str(price["value_with_tax"])
                elif "value" in price:
                    listing["price"] = str(price["value"])


def apply_patches(listing: dict[str, Any], patches: list[dict[str, Any]]) -> None:
    for patch in patches:
        name = str(patch.get("path", "")).removeprefix("/attributes/")
        if patch.get("op") == "delete":
            listing["attributes"].pop(name, None)
        else:
            listing["attributes"][name] = patch.get("value")
            apply_attributes(listing, {name: patch.get("value")})


def validate_patches(patches: Any) -> None:
    if not isinstance(patches, list) or not patches:
        raise bad_request("patches must be a non-empty list.")
    for index, patch in enumerate(patches):
        if not isinstance(patch, dict):
            raise bad_request(f"patches[{index}] must be an object with op, path and value.")
        if patch.get("op") not in ("add", "replace", "merge", "delete"):
            raise bad_request(f"patches[{index}].op must be one of add, replace, merge, delete.")
        if not str(patch.get("path", "")).startswith("/attributes/"):
            raise bad_request(f"patches[{index}].path must start with /attributes/.")


def _item_name(listing: dict[str, Any], cat: Any) -> str:
    names = (listing.get("attributes") or {}).get("item_name") or []
    if names and isinstance(names[0], dict) and names[0].get("value"):
        return str(names[0]["value"])
    return cat.title if cat else listing["sku"]


def item_body(listing: dict[str, Any], included: set[str]) -> dict[str, Any]:
    mp = listing["marketplace_id"]
    cat = CATALOG_BY_SKU.get(listing["sku"])
    body: dict[str, Any] = {"sku": listing["sku"]}
    if "summaries" in included:
        summary = {"marketplaceId": mp, "productType": listing["product_type"], "conditionType": "new_new",
                   "status": listing["status"], "itemName": _item_name(listing, cat),
                   "createdDate": listing["created"], "lastUpdatedDate": listing["updated"]}
        if cat:
            summary.update({"asin": cat.asin, "fnSku": cat.fnsku})
        body["summaries"] = [summary]
    if "attributes" in included:
        body["attributes"] = listing["attributes"]
    if "issues" in included:
        body["issues"] = []
    if "offers" in included:
        body["offers"] = [{"marketplaceId": mp, "offerType": "B2C",
                           "price": {"currencyCode": MARKETPLACES_BY_ID[mp].currency, "amount": listing["price"]}}]
    if "fulfillmentAvailability" in included:
        if cat is not None and cat.fba:
            body["fulfillmentAvailability"] = [{"fulfillmentChannelCode": "AMAZON_NA" if mp == "ATVPDKIKX0DER"
                                                else "AMAZON_EU"}]
        else:
            body["fulfillmentAvailability"] = [{"fulfillmentChannelCode": "DEFAULT",
                                                "quantity": listing.get("quantity") or 0}]
    return body


def _context(request: Request, seller_id: str) -> tuple[str, set[str]]:
    if seller_id != SELLER_ID:
        raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                       "The seller ID does not match the authorized seller.")
    mps = csv_param(request.query_params.get("marketplaceIds"))
    world = request.app.state.sandbox.world
    if len(mps) != 1 or mps[0] not in world.options.marketplace_ids:
        raise bad_request("marketplaceIds must name exactly one marketplace of this seller.")
    included = set(csv_param(request.query_params.get("includedData"))) or {"summaries"}
    if included - INCLUDED:
        raise bad_request(f"Invalid includedData: {', '.join(sorted(included - INCLUDED))}.")
    return mps[0], included


def _submission(sku: str, status: str = "ACCEPTED", issues: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"sku": sku, "status": status, "submissionId": uuid.uuid4().hex, "issues": issues or []}


def patched_attributes(patches: list[dict[str, Any]]) -> dict[str, Any]:
    """The attribute values a patch sets (deletes carry none), checked against the product type."""
    return {str(p.get("path", "")).removeprefix("/attributes/"): p.get("value")
            for p in patches if p.get("op") != "delete"}


def issues_of_patches(product_type: str, patches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return product_types_api.validate(product_type, patched_attributes(patches), enforce_required=False)


@router.get("/listings/2021-08-01/items/{seller_id}/{sku}")
def get_listings_item(request: Request, seller_id: str, sku: str) -> Any:
    sandbox = guard(request, "getListingsItem")
    mp, included = _context(request, seller_id)
    with sandbox.world.lock:
        listing = sandbox.world.state["listings"].get(f"{mp}|{sku}")
        if listing is None:
            raise not_found(f"SKU {sku} not found in marketplace {mp}.")
        return json_response(item_body(listing, included))


@router.put("/listings/2021-08-01/items/{seller_id}/{sku}")
def put_listings_item(request: Request, seller_id: str, sku: str, body: Any = Body(None)) -> Any:
    sandbox = guard(request, "putListingsItem")
    mp, _ = _context(request, seller_id)
    body = body if isinstance(body, dict) else {}
    if not body.get("productType") or not isinstance(body.get("attributes"), dict):
        raise bad_request("productType and attributes are required.")
    # validated against the product type's definition, as Amazon does: an INVALID submission changes nothing
    issues = product_types_api.validate(body["productType"], body["attributes"])
    if issues:
        return json_response(_submission(sku, "INVALID", issues))
    if request.query_params.get("mode") == "VALIDATION_PREVIEW":
        return json_response(_submission(sku, "VALID"))
    world = sandbox.world
    with world.lock:
        now = iso(world.clock())
        cat = CATALOG_BY_SKU.get(sku)
        listing = world.state["listings"].get(f"{mp}|{sku}") or {
            "marketplace_id": mp, "sku": sku, "status": ["BUYABLE", "DISCOVERABLE"],
            "price": str(cat.price(mp)) if cat else "0.00", "quantity": None, "created": now}
        listing.update({"product_type": body["productType"], "attributes": body["attributes"], "updated": now})
        apply_attributes(listing, body["attributes"])
        world.put("listings", f"{mp}|{sku}", listing)
        world.flush()
    return json_response(_submission(sku))


@router.patch("/listings/2021-08-01/items/{seller_id}/{sku}")
def patch_listings_item(request: Request, seller_id: str, sku: str, body: Any = Body(None)) -> Any:
    sandbox = guard(request, "patchListingsItem")
    mp, _ = _context(request, seller_id)
    body = body if isinstance(body, dict) else {}
    if not body.get("productType"):
        raise bad_request("productType is required.")
    validate_patches(body.get("patches"))
    world = sandbox.world
    with world.lock:
        listing = world.state["listings"].get(f"{mp}|{sku}")
        if listing is None:
            raise not_found(f"SKU {sku} not found in marketplace {mp}.")
        issues = issues_of_patches(body["productType"], body["patches"])
        if issues:
            return json_response(_submission(sku, "INVALID", issues))
        if request.query_params.get("mode") == "VALIDATION_PREVIEW":
            return json_response(_submission(sku, "VALID"))
        apply_patches(listing, body["patches"])
        listing["updated"] = iso(world.clock())
        world.save("listings", f"{mp}|{sku}")
        world.flush()
    return json_response(_submission(sku))
