"""Bounded waits against the Amazon sandbox's faults: Amazon failing every call gives up after the retry budget with
one line naming SP_API_ENDPOINT (a log line per wait before that); a wrong LWA client secret is a permanent error
naming SP_API_LWA_ENDPOINT, never retried, and the secret appears nowhere."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from sage_amazon.amazon.client import RateLimiters, SpApi, SpApiAuthError, SpApiSettings, SpApiUnavailable
from sage_amazon.errors import PermanentError, TransientError
from sage_amazon.retrying import RetryPolicy
from sage_amazon.sandbox.amazon import credentials

SMALL = RetryPolicy(budget=0.6, timeout=5.0, initial=0.05, max_wait=0.1)


@pytest.fixture(scope="module")
def amazon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from sage_amazon.sandbox.amazon.server import running_sandbox

    with running_sandbox(tmp_path_factory.mktemp("amazon-waits"), seed=42, sqs_endpoint=None, ticking=False,
                         history_days=2) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> None:
    from sp_api.auth import access_token_client

    access_token_client.cache.clear()


def api_for(amazon: Any, secret: str = credentials.LWA_CLIENT_SECRET) -> SpApi:
    settings = SpApiSettings(endpoint=amazon.base_url, lwa_endpoint=amazon.lwa_url,
                             refresh_token=credentials.SP_API_REFRESH_TOKEN, lwa_app_id=credentials.LWA_APP_ID,
                             lwa_client_secret=secret, marketplaces=("ATVPDKIKX0DER",))
    return SpApi(settings, limiters=RateLimiters(scale=1000), retry=SMALL)


def waits(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "sage_amazon.waits" and r.levelno == logging.WARNING]


def test_amazon_failing_every_call_gives_up_after_the_budget_naming_SP_API_ENDPOINT(amazon, caplog):
    api = api_for(amazon)
    api.call("getOrders", "ordersV0", "get_orders", CreatedAfter="2026-01-01T00:00:00Z")  # a token first
    caplog.set_level(logging.WARNING, logger="sage_amazon.waits")
    amazon.faults.error_rate = 1.0
    try:
        with pytest.raises(SpApiUnavailable) as info:
            api.call("getOrders", "ordersV0", "get_orders", CreatedAfter="2026-01-01T00:00:00Z")
    finally:
        amazon.faults.error_rate = 0.0
        api.close()
    assert isinstance(info.value, TransientError)
    message = str(info.value)
    assert f"SP-API at SP_API_ENDPOINT={amazon.base_url} still unavailable after" in message and "\n" not in message
    lines = waits(caplog)
    assert len(lines) >= 2 and all(line.startswith(f"waiting for SP-API at SP_API_ENDPOINT={amazon.base_url}: ")
                                   for line in lines)
    assert api.calls["getOrders"] == 1 + len(lines) + 1  # the first call, then one try per wait and the last


def test_a_wrong_lwa_secret_is_permanent_names_the_lwa_endpoint_and_is_not_retried(amazon, caplog):
    secret = "amzn1.oa2-cs.v1.this-is-not-the-secret-0042"
    api = api_for(amazon, secret=secret)
    caplog.set_level(logging.WARNING, logger="sage_amazon.waits")
    with pytest.raises(SpApiAuthError) as info:
        api.call("getOrders", "ordersV0", "get_orders", CreatedAfter="2026-01-01T00:00:00Z")
    api.close()
    assert isinstance(info.value, PermanentError) and not isinstance(info.value, TransientError)
    message = str(info.value)
    assert f"login refused by LWA at SP_API_LWA_ENDPOINT={amazon.lwa_url}" in message
    assert "LWA_CLIENT_SECRET" in message and secret not in message
    assert waits(caplog) == [] and api.calls["getOrders"] == 1


def test_an_unreachable_lwa_endpoint_is_named(amazon):
    import socket

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    lwa = f"http://127.0.0.1:{port}/auth/o2/token"
    settings = SpApiSettings(endpoint=amazon.base_url, lwa_endpoint=lwa, refresh_token=credentials.SP_API_REFRESH_TOKEN,
                             lwa_app_id=credentials.LWA_APP_ID, lwa_client_secret=credentials.LWA_CLIENT_SECRET,
                             marketplaces=("ATVPDKIKX0DER",))
    api = SpApi(settings, limiters=RateLimiters(scale=1000), retry=SMALL)
    with pytest.raises(SpApiUnavailable, match=f"Login with Amazon at SP_API_LWA_ENDPOINT={lwa} still unavailable"):
        api.call("getOrders", "ordersV0", "get_orders", CreatedAfter="2026-01-01T00:00:00Z")
    api.close()
