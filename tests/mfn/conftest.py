"""Fixtures: the Amazon sandbox in-process on a free port (clock stopped, so no order ships by itself), a fresh
Sage 500 sandbox database per test (PostgreSQL 127.0.0.1:5432 or SAGE500_TEST_SERVER_URL; skipped when absent,
failed under CI=true), Dagster resources pointing at both, and python-amazon-sp-api to read Amazon back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sage_amazon.sandbox.amazon import credentials
from tests import postgres as pg_server
from tests.regional import regional_accounts

SERVER_URL = pg_server.SERVER_URL
MARKETPLACES = "ATVPDKIKX0DER,A1F83G8C2ARO7P,A1PA6795UKMFR9"
REGION = {"ATVPDKIKX0DER": "us-east-1", "A1F83G8C2ARO7P": "eu-west-1", "A1PA6795UKMFR9": "eu-west-1"}
# The seller's clock stands here, whatever the machine's date: the tests need MFN orders still Unshipped in
# each marketplace (at this anchor 3 US, 3 UK, 2 DE; how many there are depends on the day).
ANCHOR = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def postgres() -> None:
    pg_server.require()


@pytest.fixture
def sage500_db(postgres: None) -> Iterator[Any]:
    from sage_amazon.sandbox.sage500 import sandbox_database

    with sandbox_database(SERVER_URL) as db:
        yield db


@pytest.fixture
def target(sage500_db: Any) -> Iterator[Any]:
    from sage_amazon.sage.sage500 import Sage500Target

    connector = Sage500Target(sage500_db.url, company_id=sage500_db.company_id)
    yield connector
    connector.engine.dispose()


class ConfirmCounter:
    """Counts the confirmations the Amazon sandbox applied (wraps its world's confirm_shipment)."""

    def __init__(self, world: Any) -> None:
        self.calls: list[tuple[str, str, str]] = []
        original = world.confirm_shipment

        def counted(order: dict[str, Any], carrier: str, tracking: str, *args: Any, **kwargs: Any) -> None:
            self.calls.append((order["id"], carrier, tracking))
            return original(order, carrier, tracking, *args, **kwargs)

        world.confirm_shipment = counted

    def for_order(self, order_id: str) -> list[tuple[str, str, str]]:
        return [c for c in self.calls if c[0] == order_id]


@pytest.fixture(scope="module")
def amazon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from sage_amazon.sandbox.amazon.server import running_sandbox

    with running_sandbox(tmp_path_factory.mktemp("amazon"), seed=42, time_scale=50, sqs_endpoint=None,
                         ticking=False, history_days=10, now=ANCHOR, clock=lambda: ANCHOR) as sb, \
            regional_accounts(sb, tmp_path_factory.mktemp("accounts")) as accounts_file:
        sb.confirmations = ConfirmCounter(sb.world)
        sb.accounts_file = accounts_file  # NA and EU accounts, each on its region's host
        yield sb


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> None:
    # python-amazon-sp-api caches access tokens per refresh token in module globals; each sandbox issues its own
    from sp_api.auth import access_token_client

    access_token_client.cache.clear()
    access_token_client.grantless_cache.clear()


def orders_v0(amazon: Any, marketplace_id: str = "ATVPDKIKX0DER") -> Any:
    """A python-amazon-sp-api Orders v0 client on the sandbox host of the marketplace's region, with that region's
    refresh token (only endpoint and LWA endpoint differ from Amazon)."""
    from sp_api.api import OrdersV0
    from sp_api.auth import AccessTokenClient

    region = "NA" if REGION[marketplace_id] == "us-east-1" else "EU"
    base_url = amazon.region_urls[region]

    token_client = type("SandboxTokenClient", (AccessTokenClient,), {
        "scheme": "http://", "host": base_url.split("://", 1)[1], "path": "/auth/o2/token"})
    marketplace = SimpleNamespace(endpoint=base_url, marketplace_id=marketplace_id, region=REGION[marketplace_id])
    creds = {"refresh_token": credentials.REGION_REFRESH_TOKENS[region], "lwa_app_id": credentials.LWA_APP_ID,
             "lwa_client_secret": credentials.LWA_CLIENT_SECRET}
    return OrdersV0(marketplace, credentials=creds, auth_token_client_class=token_client)


@pytest.fixture
def amazon_resources(amazon: Any, tmp_path: Path) -> dict[str, Any]:
    """sp_api on the Amazon sandbox and a temporary warehouse (no Sage)."""
    from resources.sp_api import SpApiResource
    from resources.warehouse import WarehouseResource

    return {
        "sp_api": SpApiResource(endpoint=amazon.base_url, lwa_endpoint=amazon.lwa_url,
                                refresh_token=credentials.SP_API_REFRESH_TOKEN, lwa_app_id=credentials.LWA_APP_ID,
                                lwa_client_secret=credentials.LWA_CLIENT_SECRET, marketplaces=MARKETPLACES,
                                max_attempts=3, timeout_seconds=10, accounts_file=amazon.accounts_file),
        "warehouse": WarehouseResource(path=str(tmp_path / "warehouse.duckdb"), lock_timeout_seconds=30),
    }


@pytest.fixture
def resources(amazon_resources: dict[str, Any], sage500_db: Any) -> dict[str, Any]:
    from resources.sage import SageResource

    return {**amazon_resources, "sage": SageResource(target="sage500", sage500_db_url=sage500_db.url)}
