"""Login with Amazon: POST /auth/o2/token, and checking the x-amz-access-token of API calls."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from sage_amazon.sandbox.amazon import credentials
from sage_amazon.sandbox.amazon.wire import ApiError, iso, parse_iso

ACCESS_TOKEN_TTL = 3600
RDT_TTL = 3600
# The operations notifications.json calls grantless ("The `createDestination` operation is grantless"):
# they need a client_credentials token of scope sellingpartnerapi::notifications; a seller's token
# (refresh_token grant) is refused, as on Amazon.
GRANTLESS_ONLY = {"createDestination", "getDestinations", "getDestination", "deleteDestination",
                  "sendTestNotification"}
# getSubscriptionById / deleteSubscriptionById are grantless too, but python-amazon-sp-api calls them with the
# seller's token and Amazon's answer to that is not documented: both tokens are accepted there.
GRANTLESS_OPERATIONS = GRANTLESS_ONLY | {"getSubscriptionById", "deleteSubscriptionById"}
GRANTLESS_SCOPE = "sellingpartnerapi::notifications"


def lwa_error(status: int, error: str, description: str) -> tuple[int, dict[str, str]]:
    return status, {"error_description": description, "error": error}


def issue_token(world: Any, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """The LWA token endpoint. Returns (status, JSON body) exactly as LWA shapes them."""
    grant = form.get("grant_type", "")
    if grant not in ("refresh_token", "client_credentials"):
        return lwa_error(400, "unsupported_grant_type", "The authorization grant type is not supported by the"
                                                        " authorization server")
    if form.get("client_id") != credentials.LWA_APP_ID or form.get("client_secret") != credentials.LWA_CLIENT_SECRET:
        return lwa_error(401, "invalid_client", "Client authentication failed")
    now = world.clock()
    if grant == "refresh_token":
        refresh = form.get("refresh_token")
        regions = {t: r for r, t in credentials.REGION_REFRESH_TOKENS.items()}
        if refresh != credentials.SP_API_REFRESH_TOKEN and refresh not in regions:
            return lwa_error(400, "invalid_grant", "The request has an invalid grant parameter : refresh_token")
        token = "Atza|" + secrets.token_urlsafe(48)
        doc = {"kind": "seller", "expires": iso(now + timedelta(seconds=ACCESS_TOKEN_TTL)),
               "region": regions.get(refresh, credentials.MAIN_REGION)}  # the authorisation's region
        body = {"access_token": token, "refresh_token": refresh, "token_type": "bearer",
                "expires_in": ACCESS_TOKEN_TTL}
    else:
        scope = form.get("scope", "")
        if scope not in ("sellingpartnerapi::notifications", "sellingpartnerapi::client_credential:rotation"):
            return lwa_error(400, "invalid_scope", "The request has an invalid parameter : scope")
        token = "Atc|" + secrets.token_urlsafe(48)
        doc = {"kind": "grantless", "scope": scope, "expires": iso(now + timedelta(seconds=ACCESS_TOKEN_TTL))}
        body = {"access_token": token, "scope": scope, "token_type": "bearer", "expires_in": ACCESS_TOKEN_TTL}
    with world.lock:
        _prune(world, now)
        world.put("tokens", token, doc)
        world.flush()
    return 200, body


def _prune(world: Any, now: Any) -> None:
    expired = [t for t, d in world.state["tokens"].items() if parse_iso(d["expires"]) <= now]
    for token in expired:
        del world.state["tokens"][token]
        world.save("tokens", token)


def issue_rdt(world: Any, resources: list[dict[str, Any]], region: str | None = None) -> str:
    token = "Atz.sprdt|" + secrets.token_urlsafe(48)
    now = world.clock()
    world.put("tokens", token, {"kind": "rdt", "resources": resources, "region": region,
                                "expires": iso(now + timedelta(seconds=RDT_TTL))})
    return token


def path_pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(path)) + "$")


UNAUTHORIZED = ApiError(403, "Unauthorized", "Access to requested resource is denied.", "")


def authorize(world: Any, token: str | None, operation: str, method: str, path: str) -> dict[str, Any]:
    """Check an API call's token; returns the token document. Raises 403 Unauthorized."""
    if not token:
        raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                       "The access token you provided is revoked, malformed or invalid.")
    doc = world.state["tokens"].get(token)
    if doc is None or parse_iso(doc["expires"]) <= world.clock():
        raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                       "The access token you provided has expired." if doc else
                       "The access token you provided is revoked, malformed or invalid.")
    if doc["kind"] == "grantless" and operation not in GRANTLESS_OPERATIONS:
        raise UNAUTHORIZED
    if operation in GRANTLESS_ONLY and (doc["kind"] != "grantless" or doc.get("scope") != GRANTLESS_SCOPE):
        raise UNAUTHORIZED
    if doc["kind"] == "rdt" and not any(r.get("method", "GET").upper() == method.upper()
                                        and path_pattern(r.get("path", "")).match(path)
                                        for r in doc["resources"]):
        raise UNAUTHORIZED
    return doc
