"""Orders that change after the fact: pending, cancelled before or after posting, shipped; and the
structural failures that must block the load."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from sage_amazon.sandbox.amazon.wire import iso
from tests.orders.conftest import days_back, expected_outcome
from tests.orders.conftest import today as utc_today

MAPPINGS = ["sku_map", "marketplace_map", "order_status_map", "carrier_map", "order_currencies", "sage_item_codes"]


def _set_status(env, oid, status, hold_pending=False):
    world = env.amazon.world
    with world.lock:
        order = world.state["orders"][oid]
        order["status"] = status
        now = world.clock()  # the seller's clock
        order["last_update"] = iso(now)
        if hold_pending:
            order["plan"]["unshipped_at"] = iso(now + timedelta(days=30))
        world.save("orders", oid)
        world.flush()
    return order


def _live_mappable(env):
    while True:
        order = env.amazon.add_order("ATVPDKIKX0DER")
        if not {it["sku"] for it in order["items"]} & {"NW-FILTER-SQ", "NW-CHAIR-FLD"}:
            return order


def _load_meta(result):
    event = next(m for m in result.get_asset_materialization_events() if m.asset_key.path[-1] == "sage_sales_orders")
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.mark.slow
def test_shipments_update_and_a_late_cancellation_closes_the_sage_order(order_env):
    env, x3 = order_env, order_env.x3
    first, last = days_back(4), days_back(2)
    assert env.materialize(first, last).success
    posted, _ = expected_outcome(env, first, last)

    # FBA shipments reached their Sage orders: delivered quantities, carrier, tracking
    shipped = [o for o in env.amazon.world.orders_sorted() if o["id"] in posted and o["channel"] == "AFN"
               and o.get("shipment") and first.isoformat() <= o["shipment"]["date"][:10] <= last.isoformat()]
    assert shipped
    for order in shipped[:5]:
        head = x3.rows("SORDER", CUSORDREF=order["id"])[0]
        assert order["shipment"]["tracking"] in (head["YTRKNUM_0"] or "")
        assert head["BPTNUM_0"]
        lines = x3.rows("SORDERQ", SOHNUM=head["SOHNUM_0"])
        assert sorted(Decimal(str(r["DLVQTY_0"])) for r in lines) == sorted(Decimal(it["qty"]) for it in order["items"])

    # three days later Amazon cancels a posted order: the ORDER_CHANGE run closes it in Sage
    victim = sorted(posted)[0]
    order = _set_status(env, victim, "Canceled")
    day = date.fromisoformat(order["purchase_date"][:10])
    result = env.materialize_orders(day, [victim])
    assert result.success and _load_meta(result)["closed"] == 1
    heads = x3.rows("SORDER", CUSORDREF=victim)
    assert len(heads) == 1 and heads[0]["ORDSTA_0"] == 2
    # and again: nothing more happens
    assert _load_meta(env.materialize_orders(day, [victim]))["closed"] == 0
    assert len(x3.rows("SORDER", CUSORDREF=victim)) == 1


@pytest.mark.slow
def test_pending_waits_then_posts_and_cancelled_before_posting_is_never_posted(order_env):
    env, x3 = order_env, order_env.x3
    assert env.materialize(utc_today(), utc_today(), selection=MAPPINGS, include_checks=False).success
    waiting, doomed = _live_mappable(env), _live_mappable(env)
    _set_status(env, waiting["id"], "Pending", hold_pending=True)
    _set_status(env, doomed["id"], "Pending", hold_pending=True)
    today = date.fromisoformat(waiting["purchase_date"][:10])
    meta = _load_meta(env.materialize_orders(today, [waiting["id"], doomed["id"]]))
    assert meta["skipped_waiting_for_amazon"] == 2 and meta["posted"] == 0
    assert x3.count_orders(waiting["id"]) == 0

    _set_status(env, waiting["id"], "Unshipped")
    _set_status(env, doomed["id"], "Canceled")
    meta = _load_meta(env.materialize_orders(today, [waiting["id"], doomed["id"]]))
    assert meta["posted"] == 1 and meta["skipped_cancelled_before_posting"] == 1
    assert x3.count_orders(waiting["id"]) == 1
    assert x3.count_orders(doomed["id"]) == 0


@pytest.mark.slow
def test_schema_drift_or_an_unexpectedly_empty_day_blocks_the_load(order_env, monkeypatch):
    import sage_amazon.amazon.orders.orders_api as amazon  # where searchOrders collects its orders

    env, x3 = order_env, order_env.x3
    assert env.materialize(days_back(3), days_back(2)).success
    before = len(x3.rows("SORDER"))
    raw_before = env.query("SELECT count(*) FROM raw.amazon_orders")[0][0]

    original = amazon._collect_2026

    def drifted(orders, extract):  # Amazon renamed orderItems
        return original([{("lineItems" if k == "orderItems" else k): v for k, v in o.items()} for o in orders], extract)

    monkeypatch.setattr(amazon, "_collect_2026", drifted)
    result = env.materialize(days_back(1), days_back(1), raise_on_error=False)
    assert not result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["no_schema_drift"] is False
    assert not [m for m in result.get_asset_materialization_events() if m.asset_key.path[-1] == "sage_sales_orders"]
    assert len(x3.rows("SORDER")) == before
    assert env.query("SELECT count(*) FROM raw.amazon_orders")[0][0] == raw_before

    monkeypatch.setattr(amazon, "_collect_2026", lambda orders, extract: None)  # Amazon answers: no orders
    result = env.materialize(days_back(1), days_back(1), raise_on_error=False)
    assert not result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["not_empty_when_expected"] is False
    assert len(x3.rows("SORDER")) == before
