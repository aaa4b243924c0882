"""Amazon's selling regions: each is its own host (sellingpartnerapi-na / -eu / -fe), its own seller
authorisation (refresh token) and its own marketplaces.

Every app is one region's host, as every Amazon host is: the main port (SP_API_ENDPOINT, 8100) is the NA host
(sellingpartnerapi-na, the region of the default US marketplace) and `sandbox up` / `running_sandbox` add EU and
FE hosts on their own ports (create_app(region="EU")). On each host an access token obtained with another
region's refresh token is refused, and a request naming a marketplace of another region, alone or among its
own, is answered 403 Unauthorized "The marketplaces you provided are not valid for region."
(amzn/selling-partner-api-models issue #5126 shows that answer). Resources of another region (orders, reports,
financial events) are not there. There is no all-regions host: Amazon has none.

Each host counts what it served and what it refused per region (`Sandbox.requests`, `Sandbox.refused`, also
GET /_sandbox/requests), so a test can prove a client sent no cross-region request.
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
    """True when the marketplace belongs to the region (region None: any region, for in-process callers)."""
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
        _refused(request, region)
        _log.warning("cross-region request refused on %s: %s %s with a token of region %s", region,
                     request.method, request.url.path, token_doc.get("region"))
        raise ApiError(403, "Unauthorized", "Access to requested resource is denied.", "")
    # a marketplace Amazon assigns to another region (an unknown id is the operation's own 400, or ignored)
    foreign = [m for m in _named_marketplaces(request) if region_of(m) not in (None, region)]
    if foreign:
        _refused(request, region)
        _log.warning("cross-region request refused on %s: %s %s names %s", region, request.method,
                     request.url.path, ",".join(foreign))
        raise ApiError(403, "Unauthorized", "Access to requested resource is denied.", NOT_VALID)


def _refused(request: Any, region: str) -> None:
    sandbox = request.app.state.sandbox
    with sandbox.world.lock:
        sandbox.refused[region] += 1


def of_request(request: Any) -> str | None:
    """The region of the host that received the request."""
    return getattr(request.app.state, "region", None)
