"""Fixtures for the inventory flow: the Amazon sandbox in-process (clock anchored, stopped), the X3 sandbox on a free
port, a fresh Sage 500 sandbox database (PostgreSQL; skipped when absent, failed under CI=true), a temp warehouse,
and a way to materialize the flow's assets for today's UTC partition."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from sage_amazon.sandbox.amazon import credentials
from tests import postgres as pg_server
from tests.regional import regional_accounts

MARKETPLACES = "ATVPDKIKX0DER,A1F83G8C2ARO7P,A1PA6795UKMFR9"
ANCHOR = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # the seller's clock (Amazon sandbox)


REFERENCE = ["sku_map", "marketplace_map", "order_status_map", "carrier_map", "order_currencies"]  # one multi-asset
FBA_PATH = [*REFERENCE, "fba_site_map", "amazon_fba_inventory", "sage_stock", "stg_fba_inventory_by_site",
            "fba_discrepancy", "sage_fba_adjustments"]


def flow_defs() -> tuple[list, list]:
    """The inventory flow as the code location builds it, plus the reference flow's mapping tables it reads."""
    from assets.inventory.definitions import defs
    from assets.reference.definitions import defs as reference

    flows = [defs(), reference()]
    return [a for d in flows for a in d.assets], [c for d in flows for c in (d.asset_checks or [])]


def today() -> str:
    # the partition of "now": Amazon and Sage only serve current stock, so the flow writes today's partition
    return datetime.now(UTC).date().isoformat()  # clock-ok: the product writes the machine's UTC day


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> None:
    from sp_api.auth import access_token_client

    access_token_client.cache.clear()
    access_token_client.grantless_cache.clear()


@pytest.fixture(autouse=True)
def _client_at_sandbox_speed() -> Iterator[None]:
    """The sandbox's clock runs 50 times Amazon's (time_scale=50): the client's token buckets run 25 times
    faster (what SP_API_RATE_SCALE does for a whole process), staying under the sandbox's limits."""
    from sage_amazon.amazon import client

    scale = client.LIMITERS.scale
    client.LIMITERS.scale = 25.0
    client.LIMITERS.clear()
    yield
    client.LIMITERS.scale = scale
    client.LIMITERS.clear()


@pytest.fixture(scope="module")
def amazon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from sage_amazon.sandbox.amazon.server import running_sandbox

    with running_sandbox(tmp_path_factory.mktemp("amazon"), seed=42, time_scale=50, sqs_endpoint=None,
                         ticking=False, history_days=3, now=ANCHOR, clock=lambda: ANCHOR,
                         inventory_page_size=4) as sb, \
            regional_accounts(sb, tmp_path_factory.mktemp("accounts")) as accounts_file:
        sb.accounts_file = accounts_file  # NA and EU accounts, each on its region's host
        yield sb


@pytest.fixture(scope="module")
def x3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from sage_amazon.sandbox.x3 import running_x3

    with running_x3(tmp_path_factory.mktemp("x3")) as handle:
        yield handle


@pytest.fixture(scope="session")
def postgres() -> None:
    pg_server.require()


@pytest.fixture
def sage500_db(postgres: None) -> Iterator[Any]:
    from sage_amazon.sandbox.sage500 import sandbox_database

    with sandbox_database(pg_server.SERVER_URL) as db:
        yield db


def sp_api_resource(amazon: Any) -> Any:
    from resources.sp_api import SpApiResource

    return SpApiResource(endpoint=amazon.base_url, lwa_endpoint=amazon.lwa_url,
                         refresh_token=credentials.SP_API_REFRESH_TOKEN, lwa_app_id=credentials.LWA_APP_ID,
                         lwa_client_secret=credentials.LWA_CLIENT_SECRET, marketplaces=MARKETPLACES,
                         accounts_file=amazon.accounts_file,
                         max_attempts=3, timeout_seconds=10, limiter_dir="memory")


@pytest.fixture(params=["x3", "sage500"])
def env(request: pytest.FixtureRequest, amazon: Any, tmp_path: Path) -> dict[str, Any]:
    """Resources for the flow on one ERP (each test runs on both)."""
    from resources.sage import SageResource
    from resources.warehouse import WarehouseResource

    if request.param == "x3":
        x3 = request.getfixturevalue("x3")
        sage = SageResource(target="x3", x3_url=x3.url, x3_user=x3.user, x3_password=x3.password, x3_pool=x3.pool,
                            x3_folder=x3.folder)
    else:
        db = request.getfixturevalue("sage500_db")
        sage = SageResource(target="sage500", sage500_db_url=db.url)
    return {"sp_api": sp_api_resource(amazon), "sage": sage,
            "warehouse": WarehouseResource(path=str(tmp_path / "warehouse.duckdb"), lock_timeout_seconds=30)}


def materialize(resources: dict[str, Any], names: list[str], partition: str | None = None,
                run_config: dict | None = None, raise_on_error: bool = True,
                first: str | None = None) -> dg.ExecuteInProcessResult:
    """One day's partition (today's by default), or the range `first`..that day in one run (a backfill's)."""
    assets, checks = flow_defs()
    selection = dg.AssetSelection.assets(*names) | dg.AssetSelection.checks_for_assets(*names)
    last = partition or today()
    where = {"tags": {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}} \
        if first else {"partition_key": last}
    return dg.materialize([*assets, *checks], selection=selection, resources=resources, run_config=run_config,
                          raise_on_error=raise_on_error, instance=dg.DagsterInstance.ephemeral(), **where)


def query(resources: dict[str, Any], sql: str, params: list | None = None) -> list[tuple]:
    with resources["warehouse"].read() as con:
        return con.execute(sql, params or []).fetchall()
