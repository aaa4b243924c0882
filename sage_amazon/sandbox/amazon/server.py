"""The Amazon sandbox as an ASGI app, and helpers to run it.

    from sage_amazon.sandbox.amazon.server import running_sandbox

    with running_sandbox(tmp_path, seed=42, time_scale=50, order_rate=0) as sb:
        sb.base_url            # http://127.0.0.1:<free port>  (SP_API_ENDPOINT): the NA host
        sb.lwa_url             # .../auth/o2/token            (SP_API_LWA_ENDPOINT)
        sb.env                 # every environment variable a pipeline needs for the NA account
        sb.region_urls         # {"NA": base_url, "EU": ..., "FE": ...}: one host per region, as Amazon's
        sb.accounts_env(path)  # writes an accounts file (one account per region) and returns its environment
        sb.requests            # Counter of (region, operation) each host admitted; sb.refused: per region
        sb.truths()            # ground truth of every published settlement (truth.SettlementTruth);
                               # also GET {base_url}/_sandbox/settlements as JSON (out-of-process tests)
        sb.add_order("ATVPDKIKX0DER")   # a buyer orders now (announced by ORDER_CHANGE); returns the order
        sb.tick()              # apply everything due now (orders ship, reports finish, settlements close)
        sb.world               # the seller's state, under sb.world.lock

`running_sandbox` starts uvicorn in a thread on a free loopback port and always stops it, even if the
body raises. `start_server(data_dir, host=, port=, seed=, ...)` does the same without a with-block (for
`sandbox up`) and returns a handle with `.stop()`; `create_app(data_dir, seed, ...)` gives the ASGI app. Pass sqs_endpoint="http://127.0.0.1:<port>" to deliver notifications (see sandbox/sqs.py).
"""


import contextlib
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sage_amazon.sandbox.amazon import credentials
from sage_amazon.sandbox.amazon.faults import Faults
from sage_amazon.sandbox.amazon.ratelimit import TokenBuckets, sends_rate_header
from sage_amazon.sandbox.amazon.world import World, WorldOptions

TICK_SECONDS = 0.25


@dataclass
class Sandbox:
    """A running seller: world state, rate limits, faults, notification delivery and its base URL."""

    world: World
    base_url: str
    faults: Faults = field(default_factory=Faults)
    sqs_endpoint: str | None = None
    inventory_page_size: int = 50
    region_urls: dict[str, str] = field(default_factory=dict)  # "NA"/"EU"/"FE" -> its own host (regions.py)
    buckets: TokenBuckets = field(init=False)
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (region, operation) admitted
    refused: Counter[str] = field(default_factory=Counter)  # cross-region requests refused, per host region
    notifier: Any = field(init=False)

    def __post_init__(self) -> None:
        from sage_amazon.sandbox.amazon import reports_api
        from sage_amazon.sandbox.amazon.notifications import Notifier

        self.buckets = TokenBuckets(self.world.options.time_scale)
        # historical settlements get their reports without notifications; later ones notify
        with self.world.lock:
            published = {r.get("settlementId") for r in self.world.state["reports"].values()}
            self.world.notify_enabled = False
            for settlement in sorted(self.world.state["settlements"].values(), key=lambda s: s["end"]):
                if settlement["settlement_id"] not in published:
                    reports_api.on_settlement_closed(self, settlement)
            self.world.notify_enabled = True
            self.world.flush()
        self.notifier = Notifier(self.world, self.sqs_endpoint, self.faults)
        self.world.listeners.append(self._on_world_event)
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def _on_world_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "SETTLEMENT_CLOSED":
            from sage_amazon.sandbox.amazon import reports_api

            reports_api.on_settlement_closed(self, data["settlement"])

    @property
    def lwa_url(self) -> str:
        return f"{self.base_url}/auth/o2/token"

    @property
    def env(self) -> dict[str, str]:
        """The main port's account: the NA host, the NA refresh token, the seller's NA marketplaces."""
        from sage_amazon.sandbox.amazon.regions import REGION_MARKETPLACES

        env = dict(credentials.SANDBOX_CREDENTIALS)
        env.update({"SP_API_ENDPOINT": self.base_url, "SP_API_LWA_ENDPOINT": self.lwa_url,
                    "SP_API_MARKETPLACES": ",".join(m for m in self.world.options.marketplace_ids
                                                    if m in REGION_MARKETPLACES[credentials.MAIN_REGION])})
        if self.sqs_endpoint:
            env["SQS_QUEUE_URL"] = (f"{self.sqs_endpoint.rstrip('/')}/{credentials.SQS_ACCOUNT_ID}/"
                                    f"{credentials.DEFAULT_QUEUE_NAME}")
        return env

    def region_env(self, region: str) -> dict[str, str]:
        """The environment of one region's authorisation: its host, its refresh token, its marketplaces."""
        from sage_amazon.sandbox.amazon.regions import REGION_MARKETPLACES

        env = self.env
        url = self.region_urls[region]
        env.update({"SP_API_ENDPOINT": url, "SP_API_LWA_ENDPOINT": f"{url}/auth/o2/token",
                    "SP_API_REFRESH_TOKEN": credentials.REGION_REFRESH_TOKENS[region],
                    "SP_API_MARKETPLACES": ",".join(m for m in self.world.options.marketplace_ids
                                                    if m in REGION_MARKETPLACES[region])})
        return env

    def accounts_env(self, path: Path) -> dict[str, str]:
        """Write an accounts file at `path` for this seller (one account per region it sells in, each on its
        region's host) and return the environment that uses it (SAGE_AMAZON_ACCOUNTS_FILE, each region's
        refresh token in SP_API_REFRESH_TOKEN_<REGION>), what `sandbox up` exports."""
        from sage_amazon.sandbox.supervisor import regional_env

        return regional_env(self.env, self.region_urls, Path(path), self.world.options.marketplace_ids)

    def tick(self) -> None:
        from sage_amazon.sandbox.amazon import feeds_api, fulfillment_api, reports_api

        with self.world.lock:
            self.world.tick()
            reports_api.advance(self)
            feeds_api.advance(self)
            fulfillment_api.advance(self)
            self.world.flush()

    def add_order(self, marketplace_id: str | None = None) -> dict[str, Any]:
        return self.world.add_live_order(marketplace_id)

    def truths(self) -> list[Any]:
        from sage_amazon.sandbox.amazon.truth import settlement_truths

        return settlement_truths(self.world)

    def start(self) -> None:
        self.notifier.start()
        self._ticker = threading.Thread(target=self._run, name="sandbox-amazon-clock", daemon=True)
        self._ticker.start()

    def _run(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            try:
                self.tick()
            except Exception:  # keep the clock alive; the error is visible in the server log
                import logging

                logging.getLogger(__name__).exception("sandbox tick failed")

    def stop(self) -> None:
        self._stop.set()
        if self._ticker:
            self._ticker.join(timeout=5)
        self.notifier.stop()
        if self.sqs_endpoint:
            self.notifier.deliver_pending()  # last chance for what is still in the outbox
        self.world.close()


def create_sandbox(data_dir: Path, *, seed: int = 42, base_url: str, history_days: int = 90,
                   now: datetime | None = None, order_rate: float = 1.0, time_scale: float = 1.0,
                   sqs_endpoint: str | None = None, faults: Faults | None = None,
                   inventory_page_size: int = 50, clock: Callable[[], datetime] | None = None) -> Sandbox:
    """clock: the seller's clock (default: the real UTC clock); tests pass one to anchor Amazon's time."""
    world = World(Path(data_dir), WorldOptions(seed=seed, history_days=history_days, now=now,
                                               order_rate=order_rate, time_scale=time_scale),
                  **({"clock": clock} if clock is not None else {}))
    return Sandbox(world, base_url.rstrip("/"), faults or Faults(), sqs_endpoint, inventory_page_size)


def create_app(data_dir: Path | None = None, seed: int = 42, *, sandbox: Sandbox | None = None,
               base_url: str = "http://127.0.0.1:8100", region: str = credentials.MAIN_REGION, **options: Any) -> Any:
    """The FastAPI app. Either pass a Sandbox, or data_dir/seed/options to build one.

    region "NA" (default: the main port) / "EU" / "FE": the app is that region's host (regions.py)."""
    from fastapi import FastAPI, Request, Response
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from sage_amazon.sandbox.amazon import (
        feeds_api,
        finances_api,
        fulfillment_api,
        inventory_api,
        listings_api,
        lwa,
        notifications_api,
        orders_api,
        product_types_api,
        reports_api,
        tokens_api,
        transactions_api,
    )
    from sage_amazon.sandbox.amazon.guard import json_response
    from sage_amazon.sandbox.amazon.wire import ApiError, error_body

    if sandbox is None:
        if data_dir is None:
            raise ValueError("create_app needs data_dir or sandbox")
        sandbox = create_sandbox(Path(data_dir), seed=seed, base_url=base_url, **options)
    app = FastAPI(title="sage-amazon SP-API sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = sandbox
    app.state.region = region

    @app.middleware("http")
    async def amazon_headers(request: Request, call_next: Any) -> Any:
        request_id = str(uuid.uuid4())
        response = await call_next(request)
        response.headers["x-amzn-RequestId"] = request_id
        rate = getattr(request.state, "rate", None)
        operation = getattr(request.state, "operation", None)
        if rate is not None and operation and sends_rate_header(operation, response.status_code):
            response.headers["x-amzn-RateLimit-Limit"] = str(rate)
        return response

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Any:
        response = json_response(error_body(exc.code, exc.message, exc.details), exc.status)
        if exc.error_type:
            response.headers["x-amzn-ErrorType"] = exc.error_type
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Any:
        return json_response(error_body("InvalidInput", "The request is not valid JSON."), 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if exc.status_code in (404, 405):
            # a path (or method) no SP-API operation has: Amazon's gateway answers 403, not 404
            response = json_response(error_body("MissingAuthenticationToken",
                                                "Access to requested resource is denied.", None), 403)
            response.headers["x-amzn-ErrorType"] = "MissingAuthenticationTokenException"
            return response
        return json_response(error_body("InternalFailure", str(exc.detail)), exc.status_code)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Any:
        return json_response(error_body("InternalFailure", "We encountered an internal error."), 500)

    @app.post("/auth/o2/token")
    async def token(request: Request) -> Any:
        from urllib.parse import parse_qsl

        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        status, body = lwa.issue_token(sandbox.world, form)
        return json_response(body, status)

    @app.get("/_documents/{document_id}")
    def download(request: Request, document_id: str) -> Any:
        from sage_amazon.sandbox.amazon import documents

        q = request.query_params
        with sandbox.world.lock:
            problem = documents.check_url(sandbox.world, document_id, "GET", q.get("X-Amz-Date", ""),
                                          q.get("X-Amz-Signature", ""))
            meta = sandbox.world.state["documents"].get(document_id)
        if problem or meta is None:
            message = "Request has expired" if problem == "AccessDenied" else "Access Denied"
            return Response(documents.s3_error(problem or "NoSuchKey", message), 403,
                            media_type="application/xml")
        data = documents.document_path(sandbox.world, document_id).read_bytes()
        return Response(data, 200, media_type="text/plain; charset=UTF-8")

    @app.put("/_uploads/{document_id}")
    async def upload(request: Request, document_id: str) -> Any:
        from sage_amazon.sandbox.amazon import documents

        q = request.query_params
        data = await request.body()
        with sandbox.world.lock:
            problem = documents.check_url(sandbox.world, document_id, "PUT", q.get("X-Amz-Date", ""),
                                          q.get("X-Amz-Signature", ""))
            meta = sandbox.world.state["feed_documents"].get(document_id)
            if problem or meta is None:
                return Response(documents.s3_error(problem or "NoSuchKey", "Access Denied"), 403,
                                media_type="application/xml")
            documents.document_path(sandbox.world, document_id).write_bytes(data)
            meta["uploaded"] = True
            sandbox.world.save("feed_documents", document_id)
            sandbox.world.flush()
        return Response(b"", 200)

    @app.post("/_sandbox/orders")
    def sandbox_order(request: Request) -> Any:
        """Test hook (not an Amazon API): place an order now."""
        mp = request.query_params.get("marketplaceId")
        order = sandbox.add_order(mp)
        return json_response({"amazonOrderId": order["id"], "marketplaceId": order["marketplace_id"]})

    @app.get("/_sandbox/requests")
    def sandbox_requests() -> Any:
        """Test hook (not an Amazon API): what each region's hosts admitted (per operation) and refused."""
        with sandbox.world.lock:
            admitted: dict[str, dict[str, int]] = {}
            for (r, operation), n in sorted(sandbox.requests.items()):
                admitted.setdefault(r, {})[operation] = n
            return json_response({"admitted": admitted, "refused": dict(sandbox.refused)})

    @app.get("/_sandbox/settlements")
    def sandbox_truth() -> Any:
        """Test hook (not an Amazon API): the ground truth of every published settlement."""
        from sage_amazon.sandbox.amazon.truth import truth_as_json

        return json_response({"settlements": [truth_as_json(t) for t in sandbox.truths()]})

    for module in (orders_api, reports_api, inventory_api, finances_api, fulfillment_api, feeds_api, listings_api,
                   notifications_api, tokens_api, transactions_api, product_types_api):
        app.include_router(module.router)
    drop = _DropConnections(app, sandbox)
    drop.state = app.state  # uvicorn and tests reach app.state through the wrapper
    return drop


class _DropConnections:
    """ASGI wrapper: cuts a share of API connections after the status line (a dropped connection)."""

    def __init__(self, app: Any, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        faults = self.sandbox.faults
        if scope["type"] == "http" and not scope["path"].startswith(("/_", "/auth")) and faults.roll(faults.drop_rate):
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
            await send({"type": "http.response.body", "body": b'{"payload":', "more_body": True})
            raise ConnectionResetError("sandbox fault: connection dropped")
        await self.app(scope, receive, send)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class _Server:
    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"sandbox-amazon-{port}", daemon=True)

    def start(self, timeout: float = 15.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Amazon sandbox did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class RunningSandbox:
    """A sandbox served by uvicorn in a background thread (what `sandbox up` needs); call stop()."""

    sandbox: Sandbox
    server: Any
    regional: list[Any] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.sandbox.base_url

    def stop(self) -> None:
        for server in self.regional:
            server.stop()
        self.server.stop()
        self.sandbox.stop()


def _start_regional(sandbox: Sandbox, host: str, ports: dict[str, int]) -> list[Any]:
    """More hosts of the seller, one per region named in `ports`; their URLs land in sandbox.region_urls."""
    servers = []
    try:
        for region, port in ports.items():
            server = _Server(create_app(sandbox=sandbox, region=region), host, port)
            server.start()
            servers.append(server)
            sandbox.region_urls[region] = f"http://{host}:{port}"
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def start_server(data_dir: Path, *, host: str = credentials.DEFAULT_HOST, port: int = credentials.DEFAULT_PORT,
                 seed: int = 42, region_ports: dict[str, int] | None = None, **options: Any) -> RunningSandbox:
    """Start the sandbox on host:port in background threads, state in data_dir exactly.

    host:port is the NA host; region_ports {"NA": 8101, "EU": 8102, "FE": 8103}: one more host per region.
    options as create_sandbox: history_days, order_rate, time_scale, sqs_endpoint, faults, inventory_page_size.
    """
    sandbox = create_sandbox(Path(data_dir), seed=seed, base_url=f"http://{host}:{port}", **options)
    sandbox.region_urls[credentials.MAIN_REGION] = sandbox.base_url
    server = _Server(create_app(sandbox=sandbox), host, port)
    try:
        server.start()
        regional = _start_regional(sandbox, host, region_ports or {})
    except BaseException:
        server.stop()
        sandbox.stop()
        raise
    sandbox.start()
    return RunningSandbox(sandbox, server, regional)


@contextlib.contextmanager
def running_sandbox(tmp_path: Path, seed: int = 42, *, host: str = "127.0.0.1", port: int | None = None,
                    ticking: bool = True, regions: bool = True, **options: Any) -> Iterator[Sandbox]:
    """Run the sandbox on a free port for the duration of the block (see the module docstring).

    The port is the NA host; regions (default) adds the EU and FE hosts on free ports (sb.region_urls),
    regions=False leaves NA only.
    options: history_days, now, order_rate (default 0 here: no surprise orders), time_scale,
    sqs_endpoint, faults (Faults), inventory_page_size, clock (the seller's clock, to anchor time). ticking=False leaves the clock to sb.tick().
    """
    options.setdefault("order_rate", 0.0)
    port = port or free_port(host)
    sandbox = create_sandbox(Path(tmp_path) / "sandbox-amazon", seed=seed, base_url=f"http://{host}:{port}",
                             **options)
    sandbox.region_urls[credentials.MAIN_REGION] = sandbox.base_url
    server = _Server(create_app(sandbox=sandbox), host, port)
    regional: list[Any] = []
    try:
        server.start()
        if regions:  # sb.region_urls / sb.region_env("EU"): one host per region, strict as Amazon's
            regional = _start_regional(sandbox, host, {r: free_port(host) for r in ("EU", "FE")})
        if ticking:
            sandbox.start()
        else:
            sandbox.notifier.start()
        yield sandbox
    finally:
        for regional_server in regional:
            regional_server.stop()
        server.stop()
        sandbox.stop()
