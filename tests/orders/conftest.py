"""Fixtures for the order flow: the Amazon sandbox, the X3 sandbox, a temp warehouse, and a way to run
just the order assets (the whole project's definitions also hold other flows still being built)."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from tests.regional import regional_accounts

_CACHE: dict[str, tuple[list, list]] = {}


def order_assets() -> tuple[list, list]:
    """The assets and checks of the flows these tests exercise (orders, shipments and the reference tables
    they read), as the code location builds them (groups, SQL models by their `-- flow:` header)."""
    if "defs" in _CACHE:
        return _CACHE["defs"]
    from assets.orders.definitions import defs as orders
    from assets.reference.definitions import defs as reference
    from assets.shipments.definitions import defs as shipments

    flows = [orders(), shipments(), reference()]
    _CACHE["defs"] = ([a for f in flows for a in f.assets], [c for f in flows for c in f.asset_checks])
    return _CACHE["defs"]


@dataclass
class Env:
    amazon: Any  # sandbox.amazon.server.Sandbox
    x3: Any  # sandbox.x3.RunningX3 (or None)
    data_dir: Path
    resources: dict[str, Any]
    instance: dg.DagsterInstance

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse" / "sage_amazon.duckdb"

    def con(self):
        import duckdb

        return duckdb.connect(str(self.warehouse_path), read_only=True)

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        con = self.con()
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def materialize(self, first: date, last: date, *, selection: list[str] | dg.AssetSelection | None = None,
                    include_checks: bool = True, run_config: dict | None = None, raise_on_error: bool = True):
        assets, checks = order_assets()
        tags = {"dagster/asset_partition_range_start": first.isoformat(),
                "dagster/asset_partition_range_end": last.isoformat()}
        return dg.materialize(
            [*assets, *(checks if include_checks else [])], resources=self.resources, instance=self.instance,
            tags=tags, selection=selection, run_config=run_config, raise_on_error=raise_on_error)


    def materialize_orders(self, day: date, order_ids: list[str]):
        """What an ORDER_CHANGE run does: just these orders, through to Sage."""
        from sensors.orders import ORDER_CHANGE_SELECTION

        assets, checks = order_assets()
        config = {"order_ids": list(order_ids)}
        return dg.materialize(
            [*assets, *checks], resources=self.resources, instance=self.instance, partition_key=day.isoformat(),
            selection=ORDER_CHANGE_SELECTION,
            run_config={"ops": {"amazon_orders": {"config": config}, "sage_sales_orders": {"config": config}}})


def today() -> date:
    # clock-ok: the UTC day of the machine clock, which the ticking sandbox and the product under test (partitions,
    # order windows) both run on; `make test-dates` runs these tests under the five machine clocks
    return datetime.now(UTC).date()  # clock-ok


@pytest.fixture()
def fresh_limiters():
    from sage_amazon.amazon.client import LIMITERS

    LIMITERS.clear()
    yield
    LIMITERS.clear()


def _resources(amazon, x3, data_dir: Path) -> dict[str, Any]:
    from resources.sage import SageResource
    from resources.sp_api import SpApiResource
    from resources.warehouse import WarehouseResource

    env = amazon.env  # the NA account; with amazon.accounts_file (regional_accounts) NA and EU on their hosts
    resources: dict[str, Any] = {
        "sp_api": SpApiResource(endpoint=env["SP_API_ENDPOINT"], lwa_endpoint=env["SP_API_LWA_ENDPOINT"],
                                refresh_token=env["SP_API_REFRESH_TOKEN"], lwa_app_id=env["LWA_APP_ID"],
                                lwa_client_secret=env["LWA_CLIENT_SECRET"], marketplaces=env["SP_API_MARKETPLACES"],
                                report_poll_seconds=0.2, max_attempts=10,
                                accounts_file=getattr(amazon, "accounts_file", "")),
        "warehouse": WarehouseResource(path=str(data_dir / "warehouse" / "sage_amazon.duckdb")),
    }
    if x3 is not None:
        resources["sage"] = SageResource(target="x3", x3_url=x3.url, x3_user=x3.user, x3_password=x3.password,
                                         x3_pool=x3.pool, x3_folder=x3.folder, x3_pool_size=4)
    else:
        resources["sage"] = SageResource(target="x3")
    return resources


@pytest.fixture()
def order_env(tmp_path, monkeypatch, fresh_limiters) -> Iterator[Env]:
    """Amazon sandbox with 6 days of history (its clock ticks: reports complete), X3 sandbox, temp data dir."""
    from sage_amazon.sandbox.amazon.server import running_sandbox
    from sage_amazon.sandbox.x3 import running_x3

    data_dir = tmp_path / "data"
    monkeypatch.setenv("SAGE_AMAZON_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SAGE_AMAZON_TARGET", "x3")
    monkeypatch.delenv("SAGE_AMAZON_MAPPING_DIR", raising=False)
    with running_sandbox(tmp_path, history_days=6, time_scale=20.0) as amazon, running_x3(tmp_path) as x3, \
            dg.instance_for_test() as instance, regional_accounts(amazon, tmp_path) as accounts_file:
        amazon.accounts_file = accounts_file  # US on the NA host, UK and DE on the EU host
        yield Env(amazon, x3, data_dir, _resources(amazon, x3, data_dir), instance)


def days_back(n: int) -> date:
    return today() - timedelta(days=n)


@pytest.fixture()
def sqs_env(tmp_path, monkeypatch, fresh_limiters) -> Iterator[Env]:
    """Like order_env, plus a local SQS (moto) receiving the sandbox's notifications (resource orders_queue)."""
    from resources.notifications import SqsResource
    from sage_amazon.amazon.queues import flow_queue_url
    from sage_amazon.sandbox.amazon.server import free_port, running_sandbox
    from sage_amazon.sandbox.sqs import SqsServer
    from sage_amazon.sandbox.x3 import running_x3

    data_dir = tmp_path / "data"
    monkeypatch.setenv("SAGE_AMAZON_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SAGE_AMAZON_TARGET", "x3")
    monkeypatch.delenv("SAGE_AMAZON_MAPPING_DIR", raising=False)
    server = SqsServer(port=free_port())
    queue_url = server.start()
    try:
        with running_sandbox(tmp_path, history_days=2, time_scale=20.0, sqs_endpoint=server.endpoint) as amazon, \
                running_x3(tmp_path) as x3, dg.instance_for_test() as instance, \
                regional_accounts(amazon, tmp_path) as accounts_file:
            amazon.accounts_file = accounts_file
            resources = _resources(amazon, x3, data_dir)
            resources["orders_queue"] = SqsResource(queue_url=flow_queue_url(queue_url, "orders"))
            _connect(amazon.env, queue_url)  # Amazon sends nothing before the product's own setup
            yield Env(amazon, x3, data_dir, resources, instance)
    finally:
        server.stop()


def _connect(env: dict[str, str], queue_url: str) -> None:
    from sage_amazon.amazon.client import SpApiSettings
    from sage_amazon.amazon.subscriptions import connect

    connect(SpApiSettings(endpoint=env["SP_API_ENDPOINT"], lwa_endpoint=env["SP_API_LWA_ENDPOINT"],
                          refresh_token=env["SP_API_REFRESH_TOKEN"], lwa_app_id=env["LWA_APP_ID"],
                          lwa_client_secret=env["LWA_CLIENT_SECRET"],
                          marketplaces=tuple(env["SP_API_MARKETPLACES"].split(","))), queue_url)


POSTABLE = {"Unshipped", "PartiallyShipped", "Shipped"}


def expected_outcome(env: Env, first: date, last: date) -> tuple[set[str], dict[str, list[str]]]:
    """From the sandbox's own state: the orders of the period that must be Sage orders, and the ones
    that must be dead letters (with their unmapped SKUs) on X3."""
    from sage_amazon.sandbox.x3.seed import item_code

    posted, dead = set(), {}
    for order in env.amazon.world.orders_sorted():
        if not first.isoformat() <= order["purchase_date"][:10] <= last.isoformat():
            continue
        if order["status"] not in POSTABLE:
            continue
        unmapped = sorted({it["sku"] for it in order["items"] if item_code(it["sku"]) is None})
        if unmapped:
            dead[order["id"]] = unmapped
        else:
            posted.add(order["id"])
    return posted, dead


def assert_sage_state(env: Env, first: date, last: date) -> None:
    """Every expected order is exactly one X3 order; nothing else is; the rest are open dead letters."""
    from collections import Counter

    posted, dead = expected_outcome(env, first, last)
    refs = Counter(r["CUSORDREF_0"] for r in env.x3.rows("SORDER"))
    assert set(refs) == posted
    assert all(n == 1 for n in refs.values()), [k for k, n in refs.items() if n > 1]
    letters = dict(env.query("SELECT record_key, reason FROM ops.dead_letters WHERE flow='orders' AND status='open'"))
    assert letters == {oid: "unmapped SKU: " + ", ".join(skus) for oid, skus in dead.items()}
    ledger = dict(env.query("SELECT record_key, status FROM ops.posting_ledger WHERE flow='orders' AND status='posted'"))
    assert set(ledger) == posted
