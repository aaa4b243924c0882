"""Amazon's selling regions: each is its own host (sellingpartnerapi-na / -eu / -fe), its own seller
authorisation (refresh token) and its own marketplaces.

A regional app (create_app(region="EU")) behaves as that host: an access token obtained with another
region's refresh token is refused, and a request naming a marketplace of another region is answered 403
Unauthorized "The marketplaces you provided are not valid for region." (amzn/selling-partner-api-models
issue #5126 shows that answer). Resources of another region (orders, reports, financial events) are
not there. The legacy app (region None) serves every region from one host, as the sandbox always did.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sage_amazon.sandbox.amazon.wire import ApiError, csv_param

# Amazon's marketplace ids per region (developer-docs "Marketplace IDs" / "SP-API endpoints")
REGION_MARKETPLACES: dict[str, frozenset[str]] = {
    "NA": frozenset({"ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8", "A2Q3Y263D00KWC"}),
    "EU": frozenset({"A1F83G8C2ARO7P", "A1PA6795UKMFR9", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4", "A1RKKUPIHCS9HS",
                     "A1805IZSGTT6HS", "AMEN7PMS3EDWL", "A1C3SOZRARQ6R3", "A2NODRKZP88ZB9", "A33AVAJ2PDY3EV",
                     "A17E79C6D8DWNP", "A2VIGQ35RCS4UG", "ARBP9OOSHTCHU", "A21TJRUUN4KGV", "AE08WJ6YKNBMC",
                     "A28R8C7NBKEWEA"}),
    "FE": frozenset({"A1VC38T7YXB528", "A39IBJ37TRP1C6", "A19VAU5U5O7RUS"}),
}
AWS_REGION = {"NA": "us-east-1", "EU": "eu-west-1", "FE": "us-west-2"}
QUERY_KEYS = ("MarketplaceIds", "marketplaceIds", "MarketplaceId", "marketplaceId", "marketplace_ids")
BODY_KEYS = ("marketplaceIds", "MarketplaceIds", "marketplaceId", "MarketplaceId")
NOT_VALID = "The marketplaces you provided are not valid for region."
_log = logging.getLogger("sage_amazon.sandbox.regions")  # a refusal is one line in the sandbox's log


def region_of(marketplace_id: str) -> str | None:
    return next((r for r, ids in REGION_MARKETPLACES.items() if marketplace_id in ids), None)


def in_region(marketplace_id: str, region: str | None) -> bool:
    """True on the legacy host (region None) or when the marketplace belongs to the region."""
    return region is None or marketplace_id in REGION_MARKETPLACES[region]


def _named_marketplaces(request: Any) -> list[str]:
    named: list[str] = []
    params = request.query_params
    for key in QUERY_KEYS:
        for value in params.getlist(key):
            named += csv_param(value)
    if params.get("granularityType") == "Marketplace" and params.get("granularityId"):
        named.append(params["granularityId"])
    raw = getattr(request, "_body", None)  # FastAPI has read it for the handler's Body parameter
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict):
            for key in BODY_KEYS:
                value = body.get(key)
                named += [str(v) for v in value] if isinstance(value, list) else [str(value)] if value else []
    return named


def check(request: Any, token_doc: dict[str, Any], region: str | None) -> None:
    """On a regional host: the token's authorisation and every named marketplace must be of this region."""
    if region is None:
        return
    if token_doc.get("kind") in ("seller", "rdt") and token_doc.get("region") != region:
        _log.warning("cross-region request refused on %s: %s %s with a token of region %s", region,
                     request.method, request.url.path, token_doc.get("region"))
        raise ApiError(403, "Unauthorized", "Access to requested resource is denied.", "")
    foreign = [m for m in _named_marketplaces(request) if not in_region(m, region)]
    if foreign:
        _log.warning("cross-region request refused on %s: %s %s names %s", region, request.method,
                     request.url.path, ",".join(foreign))
        raise ApiError(403, "Unauthorized", "Access to requested resource is denied.", NOT_VALID)


def of_request(request: Any) -> str | None:
    """The region of the host that received the request (None: the legacy all-regions host)."""
    return getattr(request.app.state, "region", None)
