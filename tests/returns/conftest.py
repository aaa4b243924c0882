"""Fixtures for the returns flow: the Amazon sandbox in-process with 30 days of history (clock anchored, stopped), a
temp warehouse, and a way to materialize the flow's assets for a range of days (one run, as a backfill does)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.returns import FLOW
from sage_amazon.sandbox.amazon import credentials
from tests.regional import regional_accounts

MARKETPLACES = "ATVPDKIKX0DER,A1F83G8C2ARO7P,A1PA6795UKMFR9"
ANCHOR = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # the seller's clock (Amazon sandbox)
HISTORY_DAYS = 30
FIRST_DAY = (ANCHOR - timedelta(days=HISTORY_DAYS)).date()
LAST_DAY = ANCHOR.date() - timedelta(days=1)  # whole days before the anchor (listTransactions wants 2 minutes)


def flow_defs() -> tuple[list, list]:
    """The returns flow as the code location builds it, plus the orders flow's raw orders it ties returns to."""
    from assets.orders.definitions import defs as orders
    from assets.reference.definitions import defs as reference
    from assets.returns.definitions import defs

    flow = defs()
    extract = [a for a in orders().assets if dg.AssetKey("amazon_orders") in a.keys]  # the order extraction only
    return [*flow.assets, *extract, *reference().assets], list(flow.asset_checks or [])


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> None:
    from sp_api.auth import access_token_client

    access_token_client.cache.clear()
    access_token_client.grantless_cache.clear()


@pytest.fixture(autouse=True)
def _client_at_sandbox_speed() -> Iterator[None]:
    """The sandbox's clock runs 50 times Amazon's: the client's token buckets run 25 times faster."""
    from sage_amazon.amazon import client

    scale = client.LIMITERS.scale
    client.LIMITERS.scale = 25.0
    client.LIMITERS.clear()
    yield
    client.LIMITERS.scale = scale
    client.LIMITERS.clear()


@pytest.fixture(scope="session")
def amazon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import time

    from sage_amazon.sandbox.amazon.server import running_sandbox

    started = time.monotonic()

    def clock() -> datetime:  # the anchor, then moving on in real time (reports take 0.4 s to build at scale 50)
        return ANCHOR + timedelta(seconds=time.monotonic() - started)

    with running_sandbox(tmp_path_factory.mktemp("amazon"), seed=42, time_scale=50, sqs_endpoint=None,
                         history_days=HISTORY_DAYS, now=ANCHOR, clock=clock) as sb, \
            regional_accounts(sb, tmp_path_factory.mktemp("accounts")) as accounts_file:
        sb.accounts_file = accounts_file  # NA and EU accounts, each on its region's host
        yield sb


def sp_api_resource(amazon: Any) -> Any:
    from resources.sp_api import SpApiResource

    return SpApiResource(endpoint=amazon.base_url, lwa_endpoint=amazon.lwa_url,
                         refresh_token=credentials.SP_API_REFRESH_TOKEN, lwa_app_id=credentials.LWA_APP_ID,
                         lwa_client_secret=credentials.LWA_CLIENT_SECRET, marketplaces=MARKETPLACES,
                         accounts_file=amazon.accounts_file,
                         max_attempts=3, timeout_seconds=10, limiter_dir="memory", report_poll_seconds=0.05)


@pytest.fixture
def env(amazon: Any, tmp_path: Path) -> dict[str, Any]:
    from resources.warehouse import WarehouseResource

    return {"sp_api": sp_api_resource(amazon), "sage": _no_sage(),
            "warehouse": WarehouseResource(path=str(tmp_path / "warehouse.duckdb"), lock_timeout_seconds=30)}


def _no_sage() -> Any:
    """A Sage resource never opened (the Amazon-only tests select no Sage asset)."""
    from resources.sage import SageResource

    return SageResource(target="sage500", sage500_db_url="")


REFERENCE = ["sku_map", "marketplace_map", "order_status_map", "carrier_map", "order_currencies"]  # one multi-asset


@pytest.fixture(scope="session")
def x3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from sage_amazon.sandbox.x3 import running_x3

    with running_x3(tmp_path_factory.mktemp("x3")) as handle:
        yield handle


@pytest.fixture(scope="session")
def postgres() -> None:
    from tests import postgres as pg_server

    pg_server.require()


@pytest.fixture
def sage500_db(postgres: None) -> Iterator[Any]:
    from sage_amazon.sandbox.sage500 import sandbox_database
    from tests import postgres as pg_server

    with sandbox_database(pg_server.SERVER_URL) as db:
        yield db


# the returns flow and the orders it reads, without its Sage steps (kind sage): what lands from Amazon
LANDED = dg.AssetSelection.groups(FLOW).upstream() - dg.AssetSelection.kind("sage")


@pytest.fixture(scope="session")
def landed(amazon: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with the range's orders, returns and refunds landed once per session (Amazon only): the Sage
    tests start from a copy of it."""
    from resources.warehouse import WarehouseResource

    path = tmp_path_factory.mktemp("landed") / "warehouse.duckdb"
    resources = {"sp_api": sp_api_resource(amazon), "sage": _no_sage(),
                 "warehouse": WarehouseResource(path=str(path), lock_timeout_seconds=30)}
    materialize(resources, LANDED)
    return path


@pytest.fixture
def landed_env(env: dict[str, Any], landed: Path) -> dict[str, Any]:
    """Amazon-only resources on a copy of the landed warehouse."""
    import shutil

    shutil.copy(landed, env["warehouse"].path)
    return env


@pytest.fixture(params=["x3", "sage500"])
def erp_env(request: pytest.FixtureRequest, env: dict[str, Any], landed: Path) -> dict[str, Any]:
    """The flow's resources with a Sage target (each test using it runs on both ERPs), on a copy of the landed
    warehouse."""
    import shutil

    from resources.sage import SageResource

    shutil.copy(landed, env["warehouse"].path)

    if request.param == "x3":
        x3 = request.getfixturevalue("x3")
        sage = SageResource(target="x3", x3_url=x3.url, x3_user=x3.user, x3_password=x3.password, x3_pool=x3.pool,
                            x3_folder=x3.folder)
    else:
        db = request.getfixturevalue("sage500_db")
        sage = SageResource(target="sage500", sage500_db_url=db.url)
    return {**env, "sage": sage}


def materialize(resources: dict[str, Any], names: list[str] | dg.AssetSelection, first: date = FIRST_DAY,
                last: date = LAST_DAY, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    """The selected assets (names or a selection) with their checks, over the range's days."""
    assets, checks = flow_defs()
    selection = names if isinstance(names, dg.AssetSelection) else dg.AssetSelection.assets(*names)
    tags = {"dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat()}
    return dg.materialize([*assets, *checks], selection=selection, resources=resources, tags=tags,
                          raise_on_error=raise_on_error, instance=dg.DagsterInstance.ephemeral())


def query(resources: dict[str, Any], sql: str, params: list | None = None) -> list[tuple]:
    with resources["warehouse"].read() as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture(params=["x3", "sage500"])
def target(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Sage target on each ERP's sandbox (tests using it run on both); X3's carries its sandbox handle
    (`.sandbox`) so a test can read X3's tables the way X3 holds them."""
    if request.param == "x3":
        from sage_amazon.sage.x3 import X3Target

        x3 = request.getfixturevalue("x3")
        tgt = X3Target.from_settings(x3.url, x3.user, x3.password, x3.pool, x3.folder)
        tgt.sandbox = x3
    else:
        from sage_amazon.sage.sage500 import Sage500Target

        tgt = Sage500Target(request.getfixturevalue("sage500_db").url)
    try:
        yield tgt
    finally:
        getattr(tgt, "close", lambda: None)()
