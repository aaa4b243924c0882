"""SP-API access on python-amazon-sp-api: client construction, one shared rate limiter per seller and
operation, and retries within a budget (sage_amazon.retrying: tenacity, the one retry model).

python-amazon-sp-api has no endpoint argument, no retry and turns a 429 or 5xx without a JSON error body
into a normal empty response. So every client built here gets:

- a duck-typed marketplace carrying the configured endpoint, and an LWA token client pointing at the
  configured token URL (the recipe of design/amazon-sp-api.md 1.4);
- a transport wrapper that sends the right Host header, raises `SpApiRetryable` on any 429 or 5xx
  (whatever the body), and reports `x-amzn-RateLimit-Limit` to the operation's limiter.

`SpApi.call(operation, ...)` waits for a token of the (seller, operation) bucket, calls, and on a
throttle, server error or transport failure backs off (exponential, jittered) and tries again until the
retry budget is spent (SAGE_AMAZON_RETRY_BUDGET_SECONDS; each call times out after
SAGE_AMAZON_CALL_TIMEOUT_SECONDS); then `SpApiUnavailable` (a TransientError) names SP_API_ENDPOINT or
SP_API_LWA_ENDPOINT. A throttle also empties the bucket so every caller sharing it slows down, not just
the one that was refused. A refused login (LWA invalid_client / invalid_grant, 401/403 after one token
refresh) is `SpApiAuthError` (a PermanentError): never retried.

No dagster here: the Dagster resource (resources/sp_api.py) only builds `SpApiSettings`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from sage_amazon.errors import PermanentError, TransientError
from sage_amazon.retrying import RetryPolicy, System, retry_call

log = logging.getLogger(__name__)

# Documented default usage plans (rate per second, burst), design/amazon-sp-api.md 2.1. The
# x-amzn-RateLimit-Limit header of each response replaces the rate once it is seen.
DEFAULT_LIMITS: dict[str, tuple[float, int]] = {
    "searchOrders": (0.0056, 20),
    "getOrder2026": (0.5, 30),
    "getOrders": (0.0167, 20),
    "getOrder": (0.5, 30),
    "getOrderItems": (0.5, 30),
    "getOrderAddress": (0.5, 30),
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReports": (0.0222, 10),
    "getReportDocument": (0.0167, 15),
    "getInventorySummaries": (2.0, 2),
    "getListingsItem": (5.0, 10),
    "patchListingsItem": (5.0, 5),
    "putListingsItem": (5.0, 10),
    "getDefinitionsProductType": (5.0, 10),
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
    "getFulfillmentPreview": (2.0, 30),  # Fulfillment Outbound 2020-07-01 (Multi-Channel Fulfillment)
    "createFulfillmentOrder": (2.0, 30),
    "getFulfillmentOrder": (2.0, 30),
    "listAllFulfillmentOrders": (2.0, 30),
    "cancelFulfillmentOrder": (2.0, 30),
}
FALLBACK_LIMIT: tuple[float, int] = (0.5, 10)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class SpApiError(Exception):
    """An SP-API call failed for good (bad request, forbidden, retries exhausted)."""

    def __init__(self, message: str, *, status: int | None = None, operation: str = "") -> None:
        super().__init__(f"{operation}: {message}" if operation else message)
        self.status = status
        self.operation = operation


class SpApiRetryable(SpApiError):
    """429 or 5xx: retried within the budget by `SpApi.call`."""

    def __init__(self, status: int, message: str = "", headers: Any = None) -> None:
        super().__init__(message or f"HTTP {status}", status=status)
        self.headers = headers or {}
        self.lwa = False  # the LWA token request failed, not the SP-API call


class SpApiUnavailable(SpApiError, TransientError):
    """SP-API (or LWA) still throttled, failing or unreachable when the retry budget was spent."""


class SpApiAuthError(SpApiError, PermanentError):
    """LWA or SP-API refused the seller's credentials: nothing works until they are fixed."""


# ---------------------------------------------------------------------------------------- limiter


class TokenBucket:
    """A token bucket: `rate` tokens per second, at most `burst` stored. Thread-safe.

    `acquire()` blocks until a token is available. `set_rate()` follows the x-amzn-RateLimit-Limit
    header. `drain()` empties the bucket (after a 429: Amazon says we are over budget).
    """

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()
        self.waited = 0.0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def acquire(self) -> float:
        """Take one token, sleeping as long as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    self.waited += waited
                    return waited
                delay = (1.0 - self._tokens) / self.rate
            self._sleep(delay)
            waited += delay

    def set_rate(self, rate: float) -> None:
        if rate > 0:
            with self._lock:
                self._refill()
                self.rate = float(rate)

    def drain(self) -> None:
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, 0.0)

    @property
    def tokens(self) -> float:
        with self._lock:
            self._refill()
            return self._tokens


class FileTokenBucket:
    """The same token bucket, its state in a small JSON file under a file lock, so that every process of
    a seller (sensor runs, backfills, the CLI) draws from one budget. Wall-clock based."""

    def __init__(self, path: Path, rate: float, burst: int, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.path = path
        self.burst = int(burst)
        self._default_rate = float(rate)
        self._clock = clock
        self._sleep = sleep
        self._thread_lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, float]]:
        from filelock import FileLock

        with self._thread_lock, FileLock(str(self.path) + ".lock", timeout=60):
            try:
                state = json.loads(self.path.read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):
                state = {"tokens": float(self.burst), "stamp": self._clock(), "rate": self._default_rate}
            now = self._clock()
            state["tokens"] = min(float(self.burst),
                                  state["tokens"] + max(0.0, now - state["stamp"]) * state["rate"])
            state["stamp"] = now
            yield state
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state), encoding="utf-8")
            tmp.replace(self.path)

    @property
    def rate(self) -> float:
        with self._state() as state:
            return state["rate"]

    @property
    def tokens(self) -> float:
        with self._state() as state:
            return state["tokens"]

    def acquire(self) -> float:
        waited = 0.0
        while True:
            with self._state() as state:
                if state["tokens"] >= 1.0:
                    state["tokens"] -= 1.0
                    return waited
                delay = (1.0 - state["tokens"]) / state["rate"]
            self._sleep(delay)
            waited += delay

    def set_rate(self, rate: float) -> None:
        if rate > 0:
            with self._state() as state:
                state["rate"] = float(rate)

    def drain(self) -> None:
        with self._state() as state:
            state["tokens"] = min(state["tokens"], 0.0)


class RateLimiters:
    """One bucket per (seller, operation), shared by every client and thread of the process; with
    `state_dir`, shared by every process of the machine too (FileTokenBucket)."""

    def __init__(self, *, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 limits: dict[str, tuple[float, int]] | None = None, scale: float = 1.0,
                 state_dir: Path | str | None = None) -> None:
        self._buckets: dict[tuple[str, str], TokenBucket | FileTokenBucket] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        # > 1 only against a sandbox whose clock runs faster than Amazon's (its header keeps real rates)
        self.scale = scale
        self.state_dir = Path(state_dir) if state_dir else None

    def get(self, seller: str, operation: str) -> TokenBucket | FileTokenBucket:
        key = (seller, operation)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                rate, burst = self.limits.get(operation, FALLBACK_LIMIT)
                if self.state_dir is not None:
                    bucket = FileTokenBucket(self.state_dir / f"{seller}-{operation}.json", rate * self.scale, burst,
                                             clock=self._clock or time.time, sleep=self._sleep)
                else:
                    bucket = TokenBucket(rate * self.scale, burst, clock=self._clock or time.monotonic,
                                         sleep=self._sleep)
                self._buckets[key] = bucket
            return bucket

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


def _configured_scale() -> float:
    from sage_amazon import config

    return config.rate_scale()


LIMITERS = RateLimiters(scale=_configured_scale())  # the process-wide registry (in memory)
_SHARED: dict[str, RateLimiters] = {}


def shared_limiters(state_dir: Path | str) -> RateLimiters:
    """The registry whose buckets live under `state_dir`, shared by every process using it."""
    key = str(Path(state_dir).resolve())
    with LIMITERS._lock:
        if key not in _SHARED:
            _SHARED[key] = RateLimiters(state_dir=key, scale=_configured_scale())
        return _SHARED[key]


# ---------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class SpApiSettings:
    endpoint: str
    lwa_endpoint: str
    refresh_token: str = field(repr=False)
    lwa_app_id: str
    lwa_client_secret: str = field(repr=False)
    marketplaces: tuple[str, ...]
    timeout: float | None = None  # seconds per call; None: the retry policy's (SAGE_AMAZON_CALL_TIMEOUT_SECONDS)

    @property
    def seller_key(self) -> str:
        """A stable, non-secret key for the seller authorisation (limiter and token cache key)."""
        return hashlib.sha256(self.refresh_token.encode()).hexdigest()[:12]

    @classmethod
    def from_config(cls) -> SpApiSettings:
        from sage_amazon import config

        settings = config.load()
        return cls(
            endpoint=settings.sp_api_endpoint,
            lwa_endpoint=settings.lwa_endpoint,
            refresh_token=config.get("SP_API_REFRESH_TOKEN"),
            lwa_app_id=config.get("LWA_APP_ID"),
            lwa_client_secret=config.get("LWA_CLIENT_SECRET"),
            marketplaces=settings.marketplaces,
        )


_REGION_BY_MARKETPLACE = {
    "ATVPDKIKX0DER": "us-east-1", "A2EUQ1WTGCTBG2": "us-east-1", "A1AM78C64UM0Y8": "us-east-1",
    "A2Q3Y263D00KWC": "us-east-1",
}


class _Transport:
    """Wraps the library's httpx transport: Host header, 429/5xx detection, rate-limit header."""

    def __init__(self, inner: Any, host: str, on_headers: Callable[[Any], None]) -> None:
        self._inner = inner
        self._host = host
        self._on_headers = on_headers

    def request(self, method: str, url: str, *, headers: dict | None = None, **kwargs: Any) -> Any:
        headers = {**(headers or {}), "host": self._host}
        res = self._inner.request(method, url, headers=headers, **kwargs)
        self._on_headers(res.headers)
        if res.status_code in RETRYABLE_STATUS:
            raise SpApiRetryable(res.status_code, _error_message(res), res.headers)
        return res

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner.stream(*args, **kwargs)

    def close(self) -> None:
        self._inner.close()


def _error_message(res: Any) -> str:
    try:
        errors = res.json().get("errors") or []
        if errors:
            return f"HTTP {res.status_code} {errors[0].get('code', '')}: {errors[0].get('message', '')}"
    except Exception:  # noqa: BLE001 - any non-JSON body
        pass
    return f"HTTP {res.status_code}"


class SpApi:
    """Rate-limited, retrying access to SP-API for one seller.

    `calls` counts the HTTP calls made per operation (retries included): the benchmark reads it.
    `retry` is the policy (default: from the settings); `sleep` is where retries wait (tests).
    """

    def __init__(self, settings: SpApiSettings, *, limiters: RateLimiters | None = None,
                 retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.retry = retry or RetryPolicy.from_config()
        if settings.timeout is None:
            from dataclasses import replace

            settings = replace(settings, timeout=self.retry.timeout)
        self.settings = settings
        self.limiters = limiters or LIMITERS
        self._sleep = sleep
        self._clients: dict[tuple[str, str, str | None], Any] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self.calls: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.system = System("SP-API", "SP_API_ENDPOINT", settings.endpoint.rstrip("/"))
        self.lwa = System("Login with Amazon", "SP_API_LWA_ENDPOINT", settings.lwa_endpoint)

    # -- construction (design/amazon-sp-api.md 1.4) -------------------------------------------
    def _token_client_class(self) -> type:
        from sp_api.auth import AccessTokenClient

        parts = urlsplit(self.settings.lwa_endpoint)
        return type("ConfiguredTokenClient", (AccessTokenClient,), {
            "scheme": f"{parts.scheme}://", "host": parts.netloc, "path": parts.path or "/auth/o2/token"})

    def client(self, api: str, marketplace_id: str | None = None) -> Any:
        """A python-amazon-sp-api client: api is "orders2026", "ordersV0", "reports", "inventories",
        "listings", "feeds", "finances" (Finances 2024-06-19: listTransactions) or "product_types" (Product Type
        Definitions 2020-09-01)."""
        from sp_api.api import (
            Feeds,
            FinancesV20240619,
            FulfillmentOutbound,
            Inventories,
            ListingsItems,
            OrdersV0,
            OrdersV20260101,
            ProductTypeDefinitions,
            Reports,
        )

        classes = {"orders2026": OrdersV20260101, "ordersV0": OrdersV0, "reports": Reports,
                   "inventories": Inventories, "listings": ListingsItems, "feeds": Feeds,
                   "finances": FinancesV20240619, "product_types": ProductTypeDefinitions,
                   "fulfillment": FulfillmentOutbound}
        marketplace_id = marketplace_id or self.settings.marketplaces[0]
        key = (api, marketplace_id, None)
        with self._lock:
            existing = self._clients.get(key)
            if existing is not None:
                return existing
            marketplace = SimpleNamespace(endpoint=self.settings.endpoint.rstrip("/"),
                                          marketplace_id=marketplace_id,
                                          region=_REGION_BY_MARKETPLACE.get(marketplace_id, "eu-west-1"))
            credentials = {"refresh_token": self.settings.refresh_token,
                           "lwa_app_id": self.settings.lwa_app_id,
                           "lwa_client_secret": self.settings.lwa_client_secret}
            client = classes[api](marketplace, credentials=credentials,
                                  auth_token_client_class=self._token_client_class(),
                                  timeout=self.settings.timeout)
            client._transport = _Transport(client._transport, urlsplit(self.settings.endpoint).netloc,
                                           self._record_headers)
            self._clients[key] = client
            return client

    def _record_headers(self, headers: Any) -> None:
        operation = getattr(self._local, "operation", None)
        value = headers.get("x-amzn-RateLimit-Limit") if headers is not None else None
        if operation and value:
            try:
                self.limiters.get(self.settings.seller_key, operation).set_rate(float(value) * self.limiters.scale)
            except ValueError:
                pass

    # -- calling --------------------------------------------------------------------------------
    def call(self, operation: str, api: str, method: str, *args: Any,
             marketplace_id: str | None = None, **kwargs: Any) -> Any:
        """Call `method` of the `api` client under the (seller, operation) limiter, retrying 429/5xx and
        transport failures within the retry budget."""
        bucket = self.limiters.get(self.settings.seller_key, operation)
        client = self.client(api, marketplace_id)
        refreshed = [False]

        def attempt() -> Any:
            bucket.acquire()
            self.calls[operation] += 1
            self._local.operation = operation
            try:
                return getattr(client, method)(*args, **dict(kwargs))
            except SpApiRetryable as exc:
                exc.operation = operation
                raise
            except Exception as exc:
                error = self._classify(exc, operation)
                if isinstance(error, SpApiAuthError) and getattr(exc, "code", None) in (401, 403) \
                        and not refreshed[0]:
                    # a cached LWA token from another sandbox/run: drop it and get a fresh one once
                    self._forget_token()
                    refreshed[0] = True
                    raise SpApiRetryable(int(exc.code), "access token refused; refreshed") from exc
                if error is None:
                    raise
                raise error from exc
            finally:
                self._local.operation = None

        def before_retry(exc: BaseException) -> None:
            self.retries[operation] += 1
            if getattr(exc, "status", None) == 429:
                bucket.drain()

        def give_up(exc: BaseException, message: str) -> BaseException:
            return SpApiUnavailable(message, status=getattr(exc, "status", None), operation=operation)

        def system(exc: BaseException) -> System:  # the token request failed, or SP-API itself
            return self.lwa if getattr(exc, "lwa", False) else self.system

        return retry_call(attempt, system=system, what=operation, policy=self.retry,
                          retry_on=SpApiRetryable, give_up=give_up, before_retry=before_retry, sleep=self._sleep)

    def _classify(self, exc: Exception, operation: str) -> Exception | None:
        """The library's and the transport's exceptions as ours: retryable, auth (permanent), refusal."""
        import httpx
        from sp_api.auth.exceptions import AuthorizationError
        from sp_api.base.exceptions import SellingApiException

        if isinstance(exc, AuthorizationError):  # the LWA token request failed
            status = int(exc.status_code or 0)
            if status == 429 or status >= 500:
                retryable = SpApiRetryable(status, f"LWA HTTP {status} {exc.error_code or ''}".strip())
                retryable.lwa = True
                return retryable
            return SpApiAuthError(
                f"login refused by LWA at SP_API_LWA_ENDPOINT={self.settings.lwa_endpoint}: "
                f"{exc.error_code} (HTTP {status}); check LWA_APP_ID, LWA_CLIENT_SECRET and SP_API_REFRESH_TOKEN",
                status=status, operation=operation)
        if isinstance(exc, SellingApiException):  # a JSON error body the library turned into an exception
            status = getattr(exc, "code", None)
            if status in RETRYABLE_STATUS:
                return SpApiRetryable(int(status), _library_message(exc))
            if status in (401, 403):
                return SpApiAuthError(f"SP-API at SP_API_ENDPOINT={self.settings.endpoint} refused the seller's "
                                      f"access (HTTP {status}): {_library_message(exc)}",
                                      status=status, operation=operation)
            return SpApiError(_library_message(exc), status=status, operation=operation)
        if isinstance(exc, httpx.TransportError):  # connection refused / reset, timeout
            retryable = SpApiRetryable(0, f"{type(exc).__name__}: not reachable or no answer")
            retryable.lwa = _in_token_request(exc)
            return retryable
        if isinstance(exc, ValueError) and "json" in type(exc).__name__.lower():
            retryable = SpApiRetryable(0, "unreadable answer (not JSON)")
            retryable.lwa = _in_token_request(exc)
            return retryable
        return None

    def _forget_token(self) -> None:
        from sp_api.auth import access_token_client

        access_token_client.cache.clear()

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                try:
                    client.close()
                except Exception:  # noqa: BLE001
                    pass
            self._clients.clear()


def _in_token_request(exc: BaseException) -> bool:
    """Did the failure happen while asking LWA for an access token (python-amazon-sp-api's sp_api.auth)?"""
    tb = exc.__traceback__
    while tb is not None:
        if "sp_api/auth" in tb.tb_frame.f_code.co_filename.replace("\\", "/"):
            return True
        tb = tb.tb_next
    return False


def _library_message(exc: Any) -> str:
    error = getattr(exc, "error", None)
    if isinstance(error, list) and error:
        first = error[0]
        return f"{first.get('code', '')}: {first.get('message', '')}"
    return str(exc)
