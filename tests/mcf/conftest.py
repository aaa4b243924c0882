"""Fixtures for the mcf flow: a fresh Amazon sandbox per test (clock held by the test: MCF orders move only when the
test moves Amazon's clock and ticks), the X3 sandbox and a fresh Sage 500 sandbox database (PostgreSQL) with the web
shop's orders (as `sandbox up` seeds them), a temp warehouse, and the flow's assets materialized as its job runs
them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from sage_amazon.sandbox.amazon import credentials

ANCHOR = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # the seller's clock (Amazon sandbox)
ASSETS = ["sage_mcf_orders", "amazon_mcf_orders", "sage_mcf_deliveries"]
MUTATIONS = ("getFulfillmentPreview", "createFulfillmentOrder", "cancelFulfillmentOrder")


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> None:
    from sp_api.auth import access_token_client

    access_token_client.cache.clear()
    access_token_client.grantless_cache.clear()


@pytest.fixture(autouse=True)
def _client_at_sandbox_speed() -> Iterator[None]:
    from sage_amazon.amazon import client

    scale = client.LIMITERS.scale
    client.LIMITERS.scale = 25.0
    client.LIMITERS.clear()
    yield
    client.LIMITERS.scale = scale
    client.LIMITERS.clear()


class HeldClock:
    """Amazon's clock, moved only by the test (`advance`, then the sandbox's tick applies what is due)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def amazon(tmp_path: Path) -> Iterator[Any]:
    from sage_amazon.sandbox.amazon.server import running_sandbox

    clock = HeldClock(ANCHOR)
    with running_sandbox(tmp_path / "amazon", seed=42, time_scale=50, history_days=1, now=ANCHOR, clock=clock,
                         ticking=False, regions=False) as sb:
        sb.held_clock = clock
        yield sb


def advance(sb: Any, seconds: float) -> None:
    """Amazon's clock `seconds` later and everything due then applied (MCF orders move on, ship)."""
    sb.held_clock.at += timedelta(seconds=seconds)
    sb.tick()


def mcf_orders(sb: Any) -> dict[str, dict[str, Any]]:
    with sb.world.lock:
        return {k: dict(v) for k, v in sb.world.state["fulfillment_orders"].items()}


def sent(sb: Any) -> dict[str, int]:
    """How many previews, creations and cancellations Amazon admitted."""
    with sb.world.lock:
        return {op: sum(n for (_, o), n in sb.requests.items() if o == op) for op in MUTATIONS}


def sp_api_resource(sb: Any) -> Any:
    from resources.sp_api import SpApiResource

    return SpApiResource(endpoint=sb.base_url, lwa_endpoint=sb.lwa_url, refresh_token=credentials.SP_API_REFRESH_TOKEN,
                         lwa_app_id=credentials.LWA_APP_ID, lwa_client_secret=credentials.LWA_CLIENT_SECRET,
                         marketplaces="ATVPDKIKX0DER", max_attempts=3, timeout_seconds=30, limiter_dir="memory")


@pytest.fixture(scope="session")
def x3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from sage_amazon.sandbox.x3 import running_x3

    with running_x3(tmp_path_factory.mktemp("x3"), web_orders=True) as handle:
        yield handle


@pytest.fixture
def fresh_x3(tmp_path: Path) -> Iterator[Any]:
    """An X3 sandbox of its own (the flow changes the seeded web orders)."""
    from sage_amazon.sandbox.x3 import running_x3

    with running_x3(tmp_path / "x3", web_orders=True) as handle:
        yield handle


@pytest.fixture
def sage500_db() -> Iterator[Any]:
    from sage_amazon.sandbox.sage500 import sandbox_database
    from tests import postgres as pg_server

    pg_server.require()
    with sandbox_database(pg_server.SERVER_URL, web_orders=True) as db:
        yield db


@pytest.fixture(params=["x3", "sage500"])
def erp(request: pytest.FixtureRequest, amazon: Any, tmp_path: Path) -> dict[str, Any]:
    """The flow's resources on one ERP (each test using it runs on both) and a target to look at Sage with."""
    from resources.sage import SageResource
    from resources.warehouse import WarehouseResource

    if request.param == "x3":
        handle = request.getfixturevalue("fresh_x3")
        sage = SageResource(target="x3", x3_url=handle.url, x3_user=handle.user, x3_password=handle.password,
                            x3_pool=handle.pool, x3_folder=handle.folder)
    else:
        sage = SageResource(target="sage500", sage500_db_url=request.getfixturevalue("sage500_db").url)
    target = sage.get_target()
    request.addfinalizer(lambda: getattr(target, "close", lambda: None)())
    return {"resources": {"sp_api": sp_api_resource(amazon), "sage": sage,
                          "warehouse": WarehouseResource(path=str(tmp_path / "warehouse.duckdb"),
                                                         lock_timeout_seconds=60)},
            "target": target, "name": request.param}


def flow_defs() -> tuple[list, list]:
    from assets.mcf.definitions import defs

    flow = defs()
    return list(flow.assets), list(flow.asset_checks or [])


def materialize(resources: dict[str, Any], names: list[str] = ASSETS, tags: dict[str, str] | None = None
                ) -> dg.ExecuteInProcessResult:
    assets, checks = flow_defs()
    selection = dg.AssetSelection.assets(*names) | dg.AssetSelection.checks_for_assets(*names)
    return dg.materialize([*assets, *checks], selection=selection, resources=resources, tags=tags or {},
                          instance=dg.DagsterInstance.ephemeral())


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == asset]
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def query(resources: dict[str, Any], sql: str, params: list | None = None) -> list[tuple]:
    with resources["warehouse"].read() as con:
        return con.execute(sql, params or []).fetchall()
