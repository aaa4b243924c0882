"""Fulfillment Outbound 2020-07-01 (Multi-Channel Fulfillment) calls, through SpApi.call (rate limits, retries).

Each call names the order's marketplace, so a regional client sends it to that marketplace's account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sage_amazon.amazon.client import SpApiError

API = "fulfillment"


def _payload(response: Any) -> dict[str, Any]:
    payload = getattr(response, "payload", None)
    return payload if isinstance(payload, dict) else {}


def preview(api: Any, marketplace: str, address: dict[str, Any], items: list[dict[str, Any]],
            speed: str) -> dict[str, Any]:
    """The preview for `speed` (isFulfillable, estimatedFees, shipments, unfulfillable reasons)."""
    payload = _payload(api.call("getFulfillmentPreview", API, "get_fulfillment_preview", marketplace_id=marketplace,
                                marketplaceId=marketplace, address=address, shippingSpeedCategories=[speed],
                                items=[{k: i[k] for k in ("sellerSku", "sellerFulfillmentOrderItemId", "quantity")}
                                       for i in items]))
    previews = payload.get("fulfillmentPreviews") or []
    return next((p for p in previews if p.get("shippingSpeedCategory") == speed), previews[0] if previews else {})


def create(api: Any, marketplace: str, body: dict[str, Any]) -> None:
    api.call("createFulfillmentOrder", API, "create_fulfillment_order", marketplace_id=marketplace,
             marketplaceId=marketplace, **body)


def get(api: Any, marketplace: str, sfoid: str) -> dict[str, Any] | None:
    """getFulfillmentOrder's payload, None when Amazon knows no such order (404)."""
    try:
        return _payload(api.call("getFulfillmentOrder", API, "get_fulfillment_order", sfoid,
                                 marketplace_id=marketplace))
    except SpApiError as exc:
        if exc.status == 404:
            return None
        raise


def cancel(api: Any, marketplace: str, sfoid: str) -> None:
    api.call("cancelFulfillmentOrder", API, "cancel_fulfillment_order", sfoid, marketplace_id=marketplace)


def list_since(api: Any, marketplace: str, since: str) -> Iterator[dict[str, Any]]:
    """listAllFulfillmentOrders: every order whose status changed at or after `since` (ISO 8601), every page."""
    token = None
    while True:
        params = {"nextToken": token} if token else {"queryStartDate": since}
        payload = _payload(api.call("listAllFulfillmentOrders", API, "list_all_fulfillment_orders",
                                    marketplace_id=marketplace, **params))
        yield from payload.get("fulfillmentOrders") or []
        token = payload.get("nextToken")
        if not token:
            return
