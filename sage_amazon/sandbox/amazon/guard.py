"""What every SP-API call goes through: injected faults, token check, rate limit; plus JSON answers."""

from __future__ import annotations

import time
from typing import Any

from sage_amazon.sandbox.amazon import lwa, regions
from sage_amazon.sandbox.amazon.wire import ApiError, dumps


def guard(request: Any, operation: str) -> Any:
    """Admit a call to `operation`; returns the Sandbox. Raises ApiError (403, 429, 500, 503)."""
    sandbox = request.app.state.sandbox
    request.state.operation = operation
    request.state.rate = sandbox.buckets.rate(operation)
    faults = sandbox.faults
    if faults.latency_ms:
        time.sleep(faults.latency_ms / 1000)
    token = request.headers.get("x-amz-access-token")
    with sandbox.world.lock:
        doc = lwa.authorize(sandbox.world, token, operation, request.method, request.url.path)
    request.state.token_doc = doc
    region = getattr(request.app.state, "region", None)
    regions.check(request, doc, region)
    with sandbox.world.lock:
        sandbox.requests[(region or "", operation)] += 1  # admitted by this region's host (regions.py)
    if not sandbox.buckets.take(operation, region):
        raise ApiError(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")
    if faults.roll(faults.error_rate):
        if faults.rng.random() < 0.5:
            raise ApiError(500, "InternalFailure", "We encountered an internal error. Please try again.")
        raise ApiError(503, "ServiceUnavailable", "Service temporarily unavailable. Please try again.")
    return sandbox


def json_response(body: Any, status: int = 200) -> Any:
    from fastapi import Response

    return Response(content=dumps(body), status_code=status, media_type="application/json")


async def json_body(request: Any) -> dict[str, Any]:
    import json

    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "InvalidInput", "The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidInput", "The request body must be a JSON object.")
    return body
