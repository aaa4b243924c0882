"""The order load never holds the warehouse across a call to Sage: a reader gets in while a slow X3 posts; an X3
busy on every call stops the load after the retry budget with one line, leaving the rest unposted and resumable;
a refused login stops it at once. Against the X3 sandbox (real HTTP, its fault injection) and a DuckDB file."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from sage_amazon import deadletters, posting_ledger
from sage_amazon.errors import PermanentError, Unfinished
from sage_amazon.orders import load
from sage_amazon.retrying import RetryPolicy
from sage_amazon.sage.x3 import X3Target
from sage_amazon.sandbox.x3 import running_x3
from sage_amazon.warehouse import Warehouse

SMALL = RetryPolicy(budget=0.6, timeout=5.0, initial=0.05, max_wait=0.1)


@pytest.fixture(scope="module")
def x3(tmp_path_factory):
    with running_x3(tmp_path_factory.mktemp("x3-short")) as sandbox:
        yield sandbox


@pytest.fixture
def warehouse(tmp_path):
    return Warehouse(tmp_path / "warehouse" / "w.duckdb", lock_timeout=10.0)


def target_for(x3, **options) -> X3Target:
    options.setdefault("retry", SMALL)
    password = options.pop("password", x3.password)
    return X3Target.from_settings(x3.url, x3.user, password, x3.pool, x3.folder, **options)


_batch = iter(range(100, 999))


def orders_in_mart(warehouse: Warehouse, n: int) -> list[str]:
    """`n` postable orders in marts.sage_orders / marts.sage_order_lines (the columns the load reads)."""
    batch = next(_batch)
    ids = [f"{batch}-{4000000 + i:07d}-{batch:03d}{i:04d}" for i in range(n)]
    with warehouse.write() as con:
        con.execute("""CREATE TABLE IF NOT EXISTS marts.sage_orders (amazon_order_id VARCHAR, action VARCHAR,
                       dead_letter_reason VARCHAR, amazon_status VARCHAR, customer VARCHAR, site VARCHAR,
                       order_date DATE, purchase_date TIMESTAMP, currency VARCHAR, freight DECIMAL(18,2),
                       order_type VARCHAR, fulfillment_channel VARCHAR)""")
        con.execute("""CREATE TABLE IF NOT EXISTS marts.sage_order_lines (amazon_order_id VARCHAR, line_no INTEGER,
                       sku VARCHAR, item VARCHAR, quantity INTEGER, gross_price DECIMAL(18,2),
                       discount DECIMAL(18,2), description VARCHAR, external_line_ref VARCHAR)""")
        con.execute("DELETE FROM marts.sage_orders")
        con.execute("DELETE FROM marts.sage_order_lines")
        for i, oid in enumerate(ids):
            con.execute("INSERT INTO marts.sage_orders VALUES (?, 'post', NULL, 'Unshipped', 'AMZUS', 'US01', ?, ?, "
                        "'USD', 0, '', 'MFN')", [oid, date(2026, 11, 20), f"2026-11-20 10:{i % 60:02d}:00"])
            con.execute("INSERT INTO marts.sage_order_lines VALUES (?, 1, 'NW-TENT-2P', 'NW-TENT-2P', 1, 149.99, 0, "
                        "'Trailhead tent', ?)", [oid, f"OI-{oid}"])
    return ids


def ledger(warehouse: Warehouse) -> dict[str, str]:
    with warehouse.read() as con:
        return dict(con.execute("SELECT record_key, status FROM ops.posting_ledger WHERE flow = 'orders'").fetchall())


def test_a_reader_opens_the_warehouse_while_a_slow_sage_posts(x3, warehouse):
    ids = orders_in_mart(warehouse, 6)
    target = target_for(x3)
    outcome: dict[str, object] = {}

    def post() -> None:
        try:
            outcome["result"] = load.load_orders(warehouse.write, target, workers=1)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
            outcome["error"] = exc

    x3.faults.slow = 0.25  # every SOAP answer takes a while: the load is in the middle of Sage calls
    poster = threading.Thread(target=post)
    poster.start()
    try:
        while poster.is_alive() and x3.count_orders(ids[1]) == 0:
            poster.join(0.02)
        assert poster.is_alive(), "the load must still be posting when the reader comes"
        reader = Warehouse(warehouse.path, lock_timeout=1.0)  # a reader that would not wait for the whole run
        with reader.read() as con:
            sending = con.execute("SELECT count(*) FROM ops.posting_ledger WHERE status = 'sending'").fetchone()[0]
        with reader.write() as con:  # what `sage-amazon deadletter list` opens
            letters = deadletters.open_letters(con)
        assert poster.is_alive(), "the reader got in while Sage was still being called"
        assert sending >= 1 and letters == []  # the chunk's 'sending' was committed before its calls
    finally:
        x3.faults.slow = 0.0
        poster.join(60)
        target.close()
    assert "error" not in outcome, outcome
    result = outcome["result"]
    assert result.posted == 6
    assert set(ledger(warehouse).values()) == {"posted"}
    assert all(x3.count_orders(oid) == 1 for oid in ids)


def test_x3_busy_on_every_call_stops_the_load_with_one_line_then_the_next_run_resumes(x3, warehouse):
    ids = orders_in_mart(warehouse, load.CHUNK + 4)  # two chunks
    target = target_for(x3)
    x3.faults.pool_busy = -1
    try:
        with pytest.raises(Unfinished) as info:
            load.load_orders(warehouse.write, target, workers=2)
    finally:
        x3.faults.clear()
    message = str(info.value)
    assert f"Sage X3 at SAGE_X3_URL={x3.url} still unavailable after" in message, message
    assert f"{len(ids)} order(s) left unposted" in message and "resumed by the next run" in message
    counts = info.value.result.counts
    assert counts["not_attempted"] >= 4 and counts["retry"] + counts["not_attempted"] == len(ids)
    assert all(x3.count_orders(oid) == 0 for oid in ids)
    assert "sending" not in ledger(warehouse).values()  # nothing applied, nothing left to look up

    result = load.load_orders(warehouse.write, target, workers=2)  # the cause removed: resumes, once each
    target.close()
    assert result.posted == len(ids)
    assert all(x3.count_orders(oid) == 1 for oid in ids)
    with warehouse.write() as con:
        assert posting_ledger.counts(con, load.FLOW) == {"posted": len(ids)}


def test_a_refused_login_stops_the_load_at_once_as_a_permanent_error(x3, warehouse):
    ids = orders_in_mart(warehouse, 3)
    target = target_for(x3, password="not-the-password")
    with pytest.raises(PermanentError, match=f"login refused for SAGE_X3_USER={x3.user} at SAGE_X3_URL="):
        load.load_orders(warehouse.write, target, workers=1)
    target.close()
    assert all(x3.count_orders(oid) == 0 for oid in ids)
    assert set(ledger(warehouse).values()) <= {"failed"}  # never left 'sending' (nothing was applied)
