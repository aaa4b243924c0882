"""`amazon connect` waits out a throttle or a passing 5xx through the connectors' one retry model
(sage_amazon.retrying), then says in one line which call failed; a refusal is never retried."""

from __future__ import annotations

import logging

import pytest
from sp_api.base.exceptions import SellingApiException

from sage_amazon.amazon import subscriptions
from sage_amazon.retrying import RetryPolicy


class Flaky:
    """Fails with `status` for the first `failures` calls, then answers."""

    def __init__(self, status: int, failures: int) -> None:
        self.status, self.failures, self.calls = status, failures, 0

    def __call__(self, kind: str) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            exc = SellingApiException([{"code": "QuotaExceeded", "message": "slow down"}], headers={})
            exc.code = self.status
            raise exc
        return f"subscribed {kind}"


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(subscriptions, "CONNECT_RETRY", RetryPolicy(budget=30, initial=0.01, max_wait=0.02,
                                                                    max_attempts=6))


def test_a_throttled_call_is_retried_and_answers(caplog):
    fn = Flaky(429, failures=3)
    with caplog.at_level(logging.WARNING, logger="sage_amazon.waits"):
        assert subscriptions._call("createSubscription ORDER_CHANGE", fn, "ORDER_CHANGE") == "subscribed ORDER_CHANGE"
    assert fn.calls == 4
    assert sum("waiting for SP-API Notifications" in r.getMessage() for r in caplog.records) == 3


def test_a_lasting_5xx_ends_in_one_line_naming_the_call():
    fn = Flaky(503, failures=100)
    with pytest.raises(subscriptions.ConnectError) as failed:
        subscriptions._call("getDestinations (grantless)", fn, "x")
    assert fn.calls == 6
    assert str(failed.value) == "getDestinations (grantless) failed: HTTP 503 QuotaExceeded: slow down"


@pytest.mark.parametrize("status", [400, 403])
def test_a_refusal_is_not_retried(status):
    fn = Flaky(status, failures=1)
    with pytest.raises(subscriptions.ConnectError, match=f"HTTP {status}"):
        subscriptions._call("createDestination (grantless)", fn, "x")
    assert fn.calls == 1


def test_a_passthrough_status_is_raised_as_it_is():
    fn = Flaky(409, failures=1)
    with pytest.raises(SellingApiException):
        subscriptions._call("createSubscription ORDER_CHANGE", fn, "x", passthrough=(409,))
    assert fn.calls == 1
