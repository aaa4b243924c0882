"""The shared SP-API rate limiter and the retry policy, against a fake clock and a local stub server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sage_amazon.amazon.client import (
    RateLimiters,
    SpApi,
    SpApiError,
    SpApiSettings,
    SpApiUnavailable,
    TokenBucket,
)
from sage_amazon.retrying import RetryPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_bucket_allows_burst_then_paces_at_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        assert bucket.acquire() == 0
    assert clock.now == 0
    for _ in range(4):
        bucket.acquire()
    assert clock.now == pytest.approx(2.0)  # 4 more tokens at 2/s


def test_bucket_follows_rate_limit_header_and_drains_on_throttle():
    clock = FakeClock()
    bucket = TokenBucket(rate=10.0, burst=5, clock=clock, sleep=clock.sleep)
    bucket.set_rate(0.5)
    bucket.drain()
    bucket.acquire()
    assert clock.now == pytest.approx(2.0)  # one token at the header's 0.5/s


def test_limiter_is_shared_per_seller_and_operation():
    limiters = RateLimiters()
    assert limiters.get("s1", "getOrder") is limiters.get("s1", "getOrder")
    assert limiters.get("s1", "getOrder") is not limiters.get("s1", "searchOrders")
    assert limiters.get("s1", "getOrder") is not limiters.get("s2", "getOrder")
    assert limiters.get("s1", "searchOrders").rate == pytest.approx(0.0056)


def test_retry_waits_are_jittered_and_capped():
    from sage_amazon.retrying import System, retry_call

    sleeps: list[float] = []
    policy = RetryPolicy(budget=60.0, initial=1.0, max_wait=8.0, max_attempts=8)

    def always():
        raise TimeoutError("down")

    with pytest.raises(TimeoutError):
        retry_call(always, system=System("X", "X_URL"), what="t", retry_on=TimeoutError, policy=policy,
                   sleep=sleeps.append)
    assert len(sleeps) == 7 and max(sleeps) <= 8.0 + 1.0 and len(set(sleeps)) > 1


class _Stub(BaseHTTPRequestHandler):
    script: list[tuple[int, str]] = []
    seen: list[str] = []

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # LWA
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self._send(200, json.dumps({"access_token": "Atza|t", "token_type": "bearer", "expires_in": 3600,
                                    "refresh_token": "r"}))

    def do_GET(self):
        type(self).seen.append(self.headers.get("host"))
        status, body = type(self).script.pop(0) if type(self).script else (200, '{"orders": []}')
        self._send(status, body, {"x-amzn-RateLimit-Limit": "4.0"})


@pytest.fixture()
def stub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _api(base: str, sleeps: list[float]) -> SpApi:
    from sp_api.auth import access_token_client

    access_token_client.cache.clear()
    settings = SpApiSettings(endpoint=base, lwa_endpoint=f"{base}/auth/o2/token", refresh_token="Atzr|x",
                             lwa_app_id="app", lwa_client_secret="secret", marketplaces=("ATVPDKIKX0DER",))
    return SpApi(settings, limiters=RateLimiters(),
                 retry=RetryPolicy(budget=60.0, timeout=5.0, initial=0.01, max_wait=0.05, max_attempts=4),
                 sleep=sleeps.append)


def test_call_retries_429_with_empty_body_and_5xx_then_succeeds(stub):
    _Stub.script = [(429, ""), (503, '{"errors":[{"code":"ServiceUnavailable","message":"x"}]}'),
                    (200, '{"orders": [{"orderId": "1"}]}')]
    _Stub.seen = []
    sleeps: list[float] = []
    api = _api(stub, sleeps)
    res = api.call("searchOrders", "orders2026", "search_orders", createdAfter="2026-01-01T00:00:00Z")
    assert res.payload["orders"][0]["orderId"] == "1"
    assert api.calls["searchOrders"] == 3 and len(sleeps) == 2
    assert _Stub.seen[0] == stub.split("//")[1]  # Host header fixed for http endpoints
    # the header's rate replaced the documented 0.0056/s
    assert api.limiters.get(api.settings.seller_key, "searchOrders").rate == pytest.approx(4.0)


def test_call_gives_up_after_max_attempts_and_does_not_retry_400(stub):
    sleeps: list[float] = []
    api = _api(stub, sleeps)
    _Stub.script = [(500, "")] * 4
    with pytest.raises(SpApiUnavailable, match=r"SP-API at SP_API_ENDPOINT=.* still unavailable after 4 attempt"):
        api.call("getOrder2026", "orders2026", "get_order", "111-1")
    _Stub.script = [(400, '{"errors":[{"code":"InvalidInput","message":"bad date"}]}')]
    before = api.calls["getOrder2026"]
    with pytest.raises(SpApiError, match="bad date"):
        api.call("getOrder2026", "orders2026", "get_order", "111-1")
    assert api.calls["getOrder2026"] == before + 1


def test_settings_repr_hides_secrets():
    settings = SpApiSettings(endpoint="http://x", lwa_endpoint="http://x/t", refresh_token="Atzr|SECRET",
                             lwa_app_id="app", lwa_client_secret="CLIENTSECRET", marketplaces=("A",))
    assert "SECRET" not in repr(settings)


def test_file_buckets_are_one_budget_for_every_process_of_the_seller(tmp_path):
    clock = FakeClock()
    clock.now = 1000.0
    one = RateLimiters(state_dir=tmp_path, clock=clock, sleep=clock.sleep)  # as if in two processes
    two = RateLimiters(state_dir=tmp_path, clock=clock, sleep=clock.sleep)
    for _ in range(15):  # createReport: burst 15
        one.get("s1", "createReport").acquire()
    assert clock.now == 1000.0
    two.get("s1", "createReport").acquire()  # the other process finds the bucket empty and waits
    assert clock.now == pytest.approx(1000.0 + 1 / 0.0167, rel=1e-3)
    two.get("s1", "createReport").set_rate(1.0)  # a header seen by one process paces the other
    assert one.get("s1", "createReport").rate == 1.0
    one.get("s1", "createReport").drain()
    before = clock.now
    two.get("s1", "createReport").acquire()
    assert clock.now == pytest.approx(before + 1.0)
