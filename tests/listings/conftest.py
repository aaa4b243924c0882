"""Fixtures for the listings flow: a fresh Amazon sandbox (in-process, clock anchored) with its NA and EU hosts, a
fresh X3 sandbox or Sage 500 database per test (Sage prices are changed by the tests), a temp warehouse, and a way
to run the flow's assets as the code location builds them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from tests.inventory.conftest import (  # noqa: F401 - fixtures shared with the inventory flow's tests
    _client_at_sandbox_speed,
    _fresh_token_cache,
    postgres,
    sage500_db,
    sp_api_resource,
)
from tests.regional import regional_accounts

ANCHOR = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # the seller's clock (Amazon sandbox)
SELLER = "A2SAGESANDBOX01"
US, UK = "ATVPDKIKX0DER", "A1F83G8C2ARO7P"
FLOW_ASSETS = ["sage_listing_items", "amazon_listings"]


@pytest.fixture
def amazon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from sage_amazon.sandbox.amazon.server import running_sandbox

    with running_sandbox(tmp_path_factory.mktemp("amazon"), seed=42, time_scale=50, sqs_endpoint=None,
                         ticking=False, history_days=1, now=ANCHOR, clock=lambda: ANCHOR) as sb, \
            regional_accounts(sb, tmp_path_factory.mktemp("accounts")) as accounts_file:
        sb.accounts_file = accounts_file  # NA and EU accounts, each on its region's host
        yield sb


@pytest.fixture(params=["x3", "sage500"])
def env(request: pytest.FixtureRequest, amazon: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Resources for the flow on one ERP (each test runs on both), plus `sage_db`: the ERP's database engine."""
    from resources.sage import SageResource
    from resources.warehouse import WarehouseResource

    warehouse = WarehouseResource(path=str(tmp_path / "warehouse.duckdb"), lock_timeout_seconds=30)
    if request.param == "x3":
        from sage_amazon.sandbox.x3 import running_x3

        with running_x3(tmp_path) as x3:
            sage = SageResource(target="x3", x3_url=x3.url, x3_user=x3.user, x3_password=x3.password,
                                x3_pool=x3.pool, x3_folder=x3.folder)
            yield {"sp_api": sp_api_resource(amazon), "sage": sage, "warehouse": warehouse,
                   "target": "x3", "sage_db": x3.engine, "amazon": amazon}
    else:
        db = request.getfixturevalue("sage500_db")
        sage = SageResource(target="sage500", sage500_db_url=db.url)
        yield {"sp_api": sp_api_resource(amazon), "sage": sage, "warehouse": warehouse,
               "target": "sage500", "sage_db": db.engine, "amazon": amazon}


def run_flow(env: dict[str, Any], approve: list[str] | None = None,
             tags: dict[str, str] | None = None) -> dg.ExecuteInProcessResult:
    from assets.listings.definitions import defs

    d = defs()
    resources = {k: env[k] for k in ("sp_api", "sage", "warehouse")}
    run_config = {"ops": {"amazon_listings": {"config": {"approve_price_drops": approve}}}} if approve else None
    return dg.materialize([*d.assets, *d.asset_checks], resources=resources, run_config=run_config, tags=tags,
                          instance=dg.DagsterInstance.ephemeral())


def metadata(result: dg.ExecuteInProcessResult, asset: str = "amazon_listings") -> dict[str, Any]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset]
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def check(result: dg.ExecuteInProcessResult, name: str) -> Any:
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def served(env: dict[str, Any]) -> dict[str, int]:
    """What the Amazon sandbox's hosts admitted, per operation (all regions), read from outside."""
    answer = httpx.get(f"{env['amazon'].base_url}/_sandbox/requests", timeout=60).json()
    out: dict[str, int] = {}
    for ops in answer["admitted"].values():
        for op, n in ops.items():
            out[op] = out.get(op, 0) + n
    return out


def listing(env: dict[str, Any], sku: str, marketplace: str) -> dict[str, Any] | None:
    """The listing as Amazon serves it (getListingsItem: summaries, attributes, offers, fulfillment)."""
    from sage_amazon.amazon.client import SpApiError

    api = env["sp_api"].get_client()
    try:
        res = api.call("getListingsItem", "listings", "get_listings_item", SELLER, sku, marketplace_id=marketplace,
                       marketplaceIds=marketplace, includedData="summaries,attributes,offers,fulfillmentAvailability")
        return res.payload
    except SpApiError as exc:
        if getattr(exc, "status", None) == 404:
            return None
        raise
    finally:
        api.close()


def query(env: dict[str, Any], sql: str, params: list | None = None) -> list[tuple]:
    with env["warehouse"].read() as con:
        return con.execute(sql, params or []).fetchall()
