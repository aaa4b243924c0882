"""Extraction against the Amazon sandbox: the three paths agree, partitions replace, never duplicate."""

from datetime import UTC, datetime, timedelta

import pytest

from sage_amazon.amazon import orders as amazon
from sage_amazon.amazon.accounts import RegionalSpApi, load
from sage_amazon.amazon.client import RateLimiters, SpApi
from sage_amazon.mapping.orders import marketplace_by_channel
from tests.orders.conftest import days_back


def _api(env):
    """The seller's NA (US) and EU (UK, DE) accounts, each on its region's sandbox host."""
    limiters = RateLimiters(scale=20.0)
    return RegionalSpApi([(a, SpApi(a.settings, limiters=limiters)) for a in load(env.amazon.accounts_file)])


def _lines(extract):
    """Lines of the orders not cancelled (v0 zeroes the prices of a cancelled order, as Amazon does)."""
    cancelled = {o["amazon_order_id"] for o in extract.orders if o["order_status"] == "CANCELLED"}
    return sorted((i["amazon_order_id"], i["sku"], i["quantity"], i["item_price"], i["promotion_discount"])
                  for i in extract.items if i["amazon_order_id"] not in cancelled)


@pytest.mark.slow
def test_search_orders_v0_and_the_report_return_the_same_orders_and_lines(order_env):
    api = _api(order_env)
    first, last = days_back(5), days_back(2)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    search = amazon.search_orders(api, start, end, page_size=25)
    assert search.calls >= 3, "several pages: they must all be followed"
    v0 = amazon.get_orders_v0(api, start, end)
    report = amazon.orders_from_report(api, first, last, marketplace_by_channel(), poll_seconds=0.2)
    world = {o["id"] for o in order_env.amazon.world.orders_sorted()
             if first.isoformat() <= o["purchase_date"][:10] <= last.isoformat()}
    assert {o["amazon_order_id"] for o in search.orders} == world
    assert {o["amazon_order_id"] for o in v0.orders} == world
    assert {o["amazon_order_id"] for o in report.orders} == world
    assert _lines(search) == _lines(v0) == _lines(report)
    statuses = {o["amazon_order_id"]: o["order_status"] for o in search.orders}
    assert statuses == {o["amazon_order_id"]: o["order_status"] for o in report.orders}
    # one report per region (create, polls, document: NA's and EU's) vs one call per order
    assert v0.calls > len(world) > 3 * report.calls


@pytest.mark.slow
def test_rematerializing_a_partition_replaces_it_and_v0_lands_the_same_rows(order_env):
    from resources.sp_api import SpApiResource

    env = order_env
    day = days_back(2)
    selection = ["amazon_orders", "amazon_order_items"]
    for _ in range(2):
        assert env.materialize(day, day, selection=selection).success
    expected = {o["id"] for o in env.amazon.world.orders_sorted() if o["purchase_date"][:10] == day.isoformat()}
    rows = env.query("SELECT amazon_order_id, source FROM raw.amazon_orders")
    assert sorted(r[0] for r in rows) == sorted(expected) and {r[1] for r in rows} == {"orders_2026"}
    items = env.query("SELECT count(*), count(DISTINCT (amazon_order_id, order_item_id)) FROM raw.amazon_order_items")[0]
    assert items[0] == items[1]

    env.resources["sp_api"] = SpApiResource(**{**env.resources["sp_api"].model_dump(), "api_version": "v0"})
    assert env.materialize(day, day, selection=selection).success
    rows = env.query("SELECT amazon_order_id, source FROM raw.amazon_orders")
    assert sorted(r[0] for r in rows) == sorted(expected) and {r[1] for r in rows} == {"orders_v0"}
    assert env.query("SELECT count(*) FROM raw.amazon_order_items")[0][0] == items[0]
