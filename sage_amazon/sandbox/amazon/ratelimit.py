"""Per-operation token buckets with Amazon's documented default rates and bursts.

`time_scale` multiplies the refill rate (tests and the demo run Amazon's clock faster); the
x-amzn-RateLimit-Limit header always reports Amazon's real rate, as the real API does.
"""

from __future__ import annotations

import threading
import time

# operation -> (rate per second, burst), from each operation's usage plan in Amazon's models
RATE_LIMITS: dict[str, tuple[float, int]] = {
    "getOrders": (0.0167, 20), "getOrder": (0.5, 30), "getOrderItems": (0.5, 30), "getOrderAddress": (0.5, 30),
    "getOrderBuyerInfo": (0.5, 30), "confirmShipment": (2.0, 10),
    "searchOrders": (0.0056, 20), "getOrder20260101": (0.5, 30),
    "createReport": (0.0167, 15), "getReport": (2.0, 15), "getReports": (0.0222, 10), "cancelReport": (0.0222, 10),
    "getReportDocument": (0.0167, 15),
    "getInventorySummaries": (2.0, 2),
    "listFinancialEventGroups": (0.5, 30), "listFinancialEvents": (0.5, 30),
    "listFinancialEventsByGroupId": (0.5, 30), "listFinancialEventsByOrderId": (0.5, 30),
    "listTransactions": (0.5, 10),
    "createFulfillmentOrder": (2.0, 30), "getFulfillmentOrder": (2.0, 30), "listAllFulfillmentOrders": (2.0, 30),
    "cancelFulfillmentOrder": (2.0, 30), "getFulfillmentPreview": (2.0, 30),
    "createFeedDocument": (0.5, 15), "createFeed": (0.0083, 15), "getFeed": (2.0, 15), "getFeeds": (0.0222, 10),
    "getFeedDocument": (0.0222, 10), "cancelFeed": (2.0, 15),
    "getListingsItem": (5.0, 10), "putListingsItem": (5.0, 10), "patchListingsItem": (5.0, 5),
    "deleteListingsItem": (5.0, 5),
    "getDefinitionsProductType": (5.0, 10), "searchDefinitionsProductTypes": (5.0, 10),
    "createRestrictedDataToken": (1.0, 10),
    "createDestination": (1.0, 5), "getDestinations": (1.0, 5), "getDestination": (1.0, 5),
    "deleteDestination": (1.0, 5), "createSubscription": (1.0, 5), "getSubscription": (1.0, 5),
    "getSubscriptionById": (1.0, 5), "deleteSubscriptionById": (1.0, 5),
}


class TokenBuckets:
    def __init__(self, time_scale: float = 1.0, limits: dict[str, tuple[float, int]] | None = None) -> None:
        self.time_scale = time_scale
        self.limits = limits or RATE_LIMITS
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def rate(self, operation: str) -> float:
        return self.limits.get(operation, (1.0, 5))[0]

    def take(self, operation: str, scope: str | None = None) -> bool:
        """Consume one token; False when the bucket is empty (the caller answers 429).

        scope: a region's own budget (Amazon's usage plans are per selling partner and region)."""
        rate, burst = self.limits.get(operation, (1.0, 5))
        now = time.monotonic()
        key = f"{scope}:{operation}" if scope else operation
        with self._lock:
            tokens, last = self._state.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * rate * self.time_scale)
            if tokens < 1.0:
                self._state[key] = (tokens, now)
                return False
            self._state[key] = (tokens - 1.0, now)
            return True


# Which answers carry x-amzn-RateLimit-Limit: exactly the responses whose `headers` declare it in
# Amazon's models (shared/spapi-models/models/*): 2xx, 400 and 404 for most operations; never 401,
# 403, 409, 413 or 429 (a client backing off on a 429 cannot read the rate from it on Amazon).
_DEFAULT_HEADER_STATUSES = frozenset({200, 201, 202, 204, 400, 404})
_HEADER_STATUSES: dict[str, frozenset[int]] = {
    # listingsItems_2021-08-01.json: put/patch/delete declare it on 200 and 400 only
    "putListingsItem": frozenset({200, 400}), "patchListingsItem": frozenset({200, 400}),
    "deleteListingsItem": frozenset({200, 400}),
    # tokens_2021-03-01.json: every answer but 401 and 403
    "createRestrictedDataToken": frozenset({200, 400, 404, 415, 429, 500, 503}),
}


def sends_rate_header(operation: str, status: int) -> bool:
    """True when Amazon's model declares x-amzn-RateLimit-Limit on this operation's `status` answer."""
    return status in _HEADER_STATUSES.get(operation, _DEFAULT_HEADER_STATUSES)
