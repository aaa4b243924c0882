"""Product Type Definitions 2020-09-01: searchDefinitionsProductTypes, getDefinitionsProductType, the JSON
schema each definition links to, and the validation of listings submissions against it (putListingsItem,
patchListingsItem, JSON_LISTINGS_FEED messages), with Amazon's issue shape: code, message, severity,
attributeNames, categories.

A few product types are served (PRODUCT, TENT, SLEEPING_BAG, BACKPACK). Their schemas are written here, in
the shape of Amazon's product type schemas (JSON Schema with one array-of-objects property per attribute),
small: the attributes an outdoor-goods seller lists with. Amazon's real schemas are far larger.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request

from sage_amazon.sandbox.amazon.guard import guard, json_response
from sage_amazon.sandbox.amazon.wire import ApiError, csv_param

router = APIRouter()
VERSION = "U2ZJ3hS7M2vEh8KBp3yQ"  # the productTypeVersion every type is served at (an opaque id on Amazon)
SCHEMA_PATH = "/_sandbox/product-type-schemas"  # the schema link (a presigned S3 URL on Amazon)
META_SCHEMA = "https://schemas.amazon.com/selling-partners/definitions/product-types/meta-schema/v1"

CONDITIONS = ["new_new", "new_open_box", "used_like_new", "used_very_good", "used_good", "used_acceptable",
              "collectible_like_new", "refurbished_refurbished"]
IDENTIFIER_TYPES = ["ean", "upc", "gtin", "isbn"]
IDENTIFIER_DIGITS = {"ean": (8, 13), "upc": (12,), "gtin": (14,), "isbn": (10, 13)}


def _text(title: str, max_length: int = 200) -> dict[str, Any]:
    return {"title": title, "type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["value"], "additionalProperties": False, "properties": {
            "value": {"type": "string", "minLength": 1, "maxLength": max_length},
            "language_tag": {"type": "string"}, "marketplace_id": {"type": "string"}}}}


def _enum(title: str, values: list[str]) -> dict[str, Any]:
    return {"title": title, "type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["value"], "additionalProperties": False, "properties": {
            "value": {"type": "string", "enum": values}, "marketplace_id": {"type": "string"}}}}


BASE_PROPERTIES: dict[str, Any] = {
    "item_name": _text("Item Name", 200),
    "brand": _text("Brand Name", 100),
    "product_description": _text("Product Description", 2000),
    "bullet_point": _text("Bullet Point", 500),
    "condition_type": _enum("Condition", CONDITIONS),
    "externally_assigned_product_identifier": {
        "title": "External Product ID", "type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["type", "value"], "additionalProperties": False, "properties": {
                "type": {"type": "string", "enum": IDENTIFIER_TYPES}, "value": {"type": "string"},
                "marketplace_id": {"type": "string"}}}},
    "merchant_suggested_asin": _text("Merchant Suggested ASIN", 10),
    "purchasable_offer": {
        "title": "Purchasable Offer", "type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["currency", "our_price"], "properties": {
                "currency": {"type": "string"}, "marketplace_id": {"type": "string"},
                "audience": {"type": "string"},
                "our_price": {"type": "array", "items": {"type": "object", "required": ["schedule"], "properties": {
                    "schedule": {"type": "array", "items": {"type": "object", "required": ["value_with_tax"],
                                                            "properties": {"value_with_tax": {
                                                                "type": "number", "exclusiveMinimum": 0}}}}}}}}}},
    "fulfillment_availability": {
        "title": "Fulfillment Channel", "type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["fulfillment_channel_code"], "properties": {
                "fulfillment_channel_code": {"type": "string"}, "quantity": {"type": "integer", "minimum": 0},
                "lead_time_to_ship_max_days": {"type": "integer"}}}},
    "item_package_weight": {"title": "Package Weight", "type": "array", "items": {
        "type": "object", "required": ["value", "unit"], "properties": {
            "value": {"type": "number", "exclusiveMinimum": 0},
            "unit": {"type": "string", "enum": ["grams", "kilograms", "ounces", "pounds"]}}}},
}
# Required to list (requirements LISTING): product facts and sales terms. [UNCONFIRMED] Amazon's real lists are
# longer and differ per type; these are the ones every type shares in the seller's categories.
BASE_REQUIRED = ["item_name", "brand", "externally_assigned_product_identifier", "condition_type"]
PRODUCT_TYPES: dict[str, dict[str, Any]] = {
    "PRODUCT": {"displayName": "Product", "required": BASE_REQUIRED, "extra": {}},
    "TENT": {"displayName": "Tent", "required": [*BASE_REQUIRED, "item_package_weight"],
             "extra": {"occupancy": {"title": "Occupancy", "type": "array", "items": {
                 "type": "object", "required": ["value"], "properties": {"value": {"type": "integer"}}}}}},
    "SLEEPING_BAG": {"displayName": "Sleeping Bag", "required": BASE_REQUIRED, "extra": {}},
    "BACKPACK": {"displayName": "Backpack", "required": BASE_REQUIRED, "extra": {}},
}
PROPERTY_GROUPS = {
    "offer": {"title": "Offer", "description": "Sales terms of the offer",
              "propertyNames": ["condition_type", "purchasable_offer", "fulfillment_availability"]},
    "product_identity": {"title": "Product Identity", "description": "What identifies the product",
                         "propertyNames": ["item_name", "brand", "externally_assigned_product_identifier",
                                           "merchant_suggested_asin"]},
    "product_details": {"title": "Product Details", "description": "What the product is",
                        "propertyNames": ["product_description", "bullet_point", "item_package_weight"]},
}


def schema(product_type: str) -> dict[str, Any]:
    spec = PRODUCT_TYPES[product_type]
    return {"$schema": META_SCHEMA,
            "$id": f"https://schemas.amazon.com/selling-partners/definitions/product-types/schema/v1/{product_type}",
            "title": f"Amazon Product Type Definition: {product_type}", "type": "object",
            "required": list(spec["required"]), "properties": {**BASE_PROPERTIES, **spec["extra"]}}


def _checksum(doc: Any) -> str:
    import base64

    return base64.b64encode(hashlib.md5(json.dumps(doc, sort_keys=True).encode()).digest()).decode()


# ------------------------------------------------------------------------------------------ validation


def _issue(code: str, message: str, names: list[str], category: str) -> dict[str, Any]:
    return {"code": code, "message": message, "severity": "ERROR", "attributeNames": names,
            "categories": [category]}


def _check_value(name: str, spec: dict[str, Any], value: Any, path: str) -> str | None:
    """The first problem of `value` against `spec` (a small JSON Schema subset), as a message."""
    kind = spec.get("type")
    if kind == "array":
        if not isinstance(value, list) or len(value) < spec.get("minItems", 0):
            return f"'{path}' must be a non-empty array."
        for index, entry in enumerate(value):
            problem = _check_value(name, spec.get("items", {}), entry, f"{path}[{index}]")
            if problem:
                return problem
        return None
    if kind == "object":
        if not isinstance(value, dict):
            return f"'{path}' must be an object."
        for key in spec.get("required", []):
            if key not in value or value[key] in (None, ""):
                return f"'{path}.{key}' is required but not supplied."
        props = spec.get("properties", {})
        for key, entry in value.items():
            if key in props:
                problem = _check_value(name, props[key], entry, f"{path}.{key}")
                if problem:
                    return problem
            elif spec.get("additionalProperties") is False:
                return f"'{path}.{key}' is not a valid property."
        return None
    if kind == "string":
        if not isinstance(value, str):
            return f"'{path}' must be a string."
        if "enum" in spec and value not in spec["enum"]:
            return f"'{path}' has the value '{value}', which is not one of {', '.join(spec['enum'])}."
        if len(value) < spec.get("minLength", 0) or len(value) > spec.get("maxLength", 10**9):
            return f"'{path}' must be between {spec.get('minLength', 0)} and {spec.get('maxLength')} characters."
        return None
    if kind in ("number", "integer"):
        try:
            number = Decimal(str(value))
        except (InvalidOperation, ValueError):
            return f"'{path}' must be a number."
        if isinstance(value, bool) or (kind == "integer" and number != number.to_integral_value()):
            return f"'{path}' must be an integer."
        if "exclusiveMinimum" in spec and number <= spec["exclusiveMinimum"]:
            return f"'{path}' must be greater than {spec['exclusiveMinimum']}."
        if "minimum" in spec and number < spec["minimum"]:
            return f"'{path}' must be at least {spec['minimum']}."
    return None


def _identifier_problem(value: list[Any]) -> str | None:
    for entry in value:
        kind, digits = entry.get("type"), str(entry.get("value", ""))
        if not digits.isdigit() or len(digits) not in IDENTIFIER_DIGITS.get(kind, ()):
            return (f"The value '{digits}' provided for '{kind}' is not valid: an {kind.upper()} has "
                    f"{' or '.join(str(n) for n in IDENTIFIER_DIGITS.get(kind, ()))} digits.")
    return None


def validate(product_type: str, attributes: dict[str, Any], *, enforce_required: bool = True) -> list[dict[str, Any]]:
    """Amazon's issues for a submission of `attributes` as `product_type` (empty when valid).

    `enforce_required`: a full submission (putListingsItem, feed UPDATE) must carry every required attribute;
    a patch is checked attribute by attribute (Amazon's requirementsEnforced NOT_ENFORCED)."""
    if product_type not in PRODUCT_TYPES:
        # [UNCONFIRMED] the code Amazon gives an unknown product type
        return [_issue("4000001", f"The product type '{product_type}' is not valid for this marketplace.", [],
                       "INVALID_ATTRIBUTE")]
    doc = schema(product_type)
    issues = []
    if enforce_required:
        for name in doc["required"]:
            if attributes.get(name) in (None, [], ""):
                # Amazon's code and wording for a required attribute left out (90220)
                issues.append(_issue("90220", f"'{name}' is required but not supplied.", [name],
                                     "MISSING_ATTRIBUTE"))
    for name, value in attributes.items():
        spec = doc["properties"].get(name)
        if spec is None:
            # [UNCONFIRMED] the code Amazon gives an attribute its product type does not define
            issues.append(_issue("90244", f"'{name}' is not a valid attribute for product type {product_type}.",
                                 [name], "INVALID_ATTRIBUTE"))
            continue
        problem = _check_value(name, spec, value, name)
        if problem is None and name == "externally_assigned_product_identifier":
            problem = _identifier_problem(value)
        if problem:
            category = "INVALID_PRICE" if name == "purchasable_offer" else "INVALID_ATTRIBUTE"
            issues.append(_issue("8541" if name == "externally_assigned_product_identifier" else "90003",
                                 problem, [name], category))  # [UNCONFIRMED] codes other than 90220
    return issues


# ------------------------------------------------------------------------------------------ the API


def _one_marketplace(request: Request) -> str:
    mps = csv_param(request.query_params.get("marketplaceIds"))
    world = request.app.state.sandbox.world
    if len(mps) != 1 or mps[0] not in world.options.marketplace_ids:
        raise ApiError(400, "InvalidInput", "marketplaceIds must name exactly one marketplace of this seller.")
    return mps[0]


@router.get("/definitions/2020-09-01/productTypes")
def search_definitions_product_types(request: Request) -> Any:
    guard(request, "searchDefinitionsProductTypes")
    mp = _one_marketplace(request)
    words = [w.lower() for w in csv_param(request.query_params.get("keywords"))]
    name = (request.query_params.get("itemName") or "").lower()
    found = []
    for product_type, spec in PRODUCT_TYPES.items():
        text = f"{product_type} {spec['displayName']}".lower().replace("_", " ")
        if (not words or any(w in text for w in words)) and (not name or any(
                part in name for part in spec["displayName"].lower().split())):
            found.append({"name": product_type, "displayName": spec["displayName"], "marketplaceIds": [mp]})
    return json_response({"productTypes": found, "productTypeVersion": VERSION})


@router.get("/definitions/2020-09-01/productTypes/{product_type}")
def get_definitions_product_type(request: Request, product_type: str) -> Any:
    guard(request, "getDefinitionsProductType")
    mp = _one_marketplace(request)
    if product_type not in PRODUCT_TYPES:
        raise ApiError(404, "NotFound", f"Product type {product_type} not found.")
    requirements = request.query_params.get("requirements") or "LISTING"
    enforced = request.query_params.get("requirementsEnforced") or "ENFORCED"
    base = str(request.base_url).rstrip("/")
    doc = schema(product_type)
    return json_response({
        "metaSchema": {"link": {"resource": f"{base}{SCHEMA_PATH}/meta-schema.json", "verb": "GET"},
                       "checksum": _checksum(META_SCHEMA)},
        "schema": {"link": {"resource": f"{base}{SCHEMA_PATH}/{product_type}.json", "verb": "GET"},
                   "checksum": _checksum(doc)},
        "requirements": requirements, "requirementsEnforced": enforced,
        "propertyGroups": PROPERTY_GROUPS, "locale": request.query_params.get("locale") or "en_US",
        "marketplaceIds": [mp], "productType": product_type,
        "displayName": PRODUCT_TYPES[product_type]["displayName"],
        "productTypeVersion": {"version": VERSION, "latest": True, "releaseCandidate": False},
    })


@router.get(SCHEMA_PATH + "/{name}.json")
def product_type_schema(name: str) -> Any:
    """The schema document a definition links to (no SP-API token: a presigned URL on Amazon)."""
    if name == "meta-schema":
        return json_response({"$id": META_SCHEMA, "$schema": "https://json-schema.org/draft/2019-09/schema"})
    if name not in PRODUCT_TYPES:
        raise ApiError(404, "NotFound", f"No schema {name}.")
    return json_response(schema(name))
