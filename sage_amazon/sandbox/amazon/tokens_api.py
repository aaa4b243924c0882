"""Tokens 2021-03-01: createRestrictedDataToken (the RDT unlocks buyer PII in Orders)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request

from sage_amazon.sandbox.amazon import lwa
from sage_amazon.sandbox.amazon.guard import guard, json_response
from sage_amazon.sandbox.amazon.wire import bad_request

router = APIRouter()
# tokens_2021-03-01.json RestrictedResource.dataElements: "Possible values include: buyerInfo,
# shippingAddress, buyerTaxInformation"
DATA_ELEMENTS = frozenset({"buyerInfo", "shippingAddress", "buyerTaxInformation"})
RESTRICTED_PREFIXES = ("/orders/v0/orders", "/orders/2026-01-01/orders", "/mfn/v0/shipments",
                       "/fba/outbound/2020-07-01/fulfillmentOrders")


@router.post("/tokens/2021-03-01/restrictedDataToken")
def create_restricted_data_token(request: Request, body: Any = Body(None)) -> Any:
    sandbox = guard(request, "createRestrictedDataToken")
    body = body if isinstance(body, dict) else {}
    resources = body.get("restrictedResources")
    if not isinstance(resources, list) or not resources:
        raise bad_request("restrictedResources is required.")
    for index, res in enumerate(resources):
        if not isinstance(res, dict) or res.get("method") not in ("GET", "PUT", "POST", "DELETE"):
            raise bad_request(f"restrictedResources[{index}].method must be one of GET, PUT, POST, DELETE.")
        if not str(res.get("path", "")).startswith(RESTRICTED_PREFIXES):
            raise bad_request(f"restrictedResources[{index}].path is not a restricted operation's path.")
        elements = res.get("dataElements")
        if elements is not None and (not isinstance(elements, list) or set(map(str, elements)) - DATA_ELEMENTS):
            raise bad_request(f"restrictedResources[{index}].dataElements may only contain "
                              f"{', '.join(sorted(DATA_ELEMENTS))}.")
    with sandbox.world.lock:
        token = lwa.issue_rdt(sandbox.world, resources, request.state.token_doc.get("region"))
        sandbox.world.flush()
    return json_response({"restrictedDataToken": token, "expiresIn": lwa.RDT_TTL})
