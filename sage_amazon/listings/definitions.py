"""What Amazon requires of a product type (Product Type Definitions API 2020-09-01, getDefinitionsProductType).

A definition links to a JSON schema (schema.link.resource, a presigned URL: fetched without SP-API
credentials); its `required` list and `properties` are what a listing of that type must and may carry
(requirements LISTING: product facts and sales terms). The flow uses them to show, before anything is
submitted, which required attributes the mapping leaves out for an item, and to refuse an item whose
product type Amazon does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sage_amazon.amazon.client import SpApiError
from sage_amazon.errors import TransientError


@dataclass(frozen=True)
class Definition:
    product_type: str
    marketplace_id: str
    version: str
    required: tuple[str, ...]
    properties: frozenset[str]


class UnknownProductType(Exception):
    """Amazon has no definition of this product type in the marketplace (the message says which)."""


def fetch(api: Any, seller_id: str, product_type: str, marketplace_id: str, *, timeout: float = 60.0) -> Definition:
    import httpx

    try:
        res = api.call("getDefinitionsProductType", "product_types", "get_definitions_product_type", product_type,
                       marketplace_id=marketplace_id, marketplaceIds=marketplace_id, sellerId=seller_id,
                       requirements="LISTING", requirementsEnforced="ENFORCED", locale="en_US")
    except SpApiError as exc:
        if getattr(exc, "status", None) == 404:
            raise UnknownProductType(f"Amazon has no product type {product_type} in {marketplace_id}") from exc
        raise
    doc = res.payload if isinstance(res.payload, dict) else {}
    link = ((doc.get("schema") or {}).get("link") or {}).get("resource")
    schema: dict[str, Any] = {}
    if link:
        try:
            answer = httpx.get(link, timeout=timeout)
            answer.raise_for_status()
            schema = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise TransientError(f"the {product_type} schema could not be read: {type(exc).__name__}: {exc}") \
                from exc
    version = (doc.get("productTypeVersion") or {}).get("version", "")
    return Definition(product_type, marketplace_id, str(version), tuple(schema.get("required") or ()),
                      frozenset((schema.get("properties") or {}).keys()))
