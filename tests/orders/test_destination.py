"""Issue 20.5: the posting ledger knows where it posted. Orders posted to one X3, then the same data dir pointed
at another X3 (another URL, folder or pool) or at Sage 500: every order reaches the new destination once, none is
skipped as "already posted"; pointing back brings the first destination's ledger back (nothing sent twice)."""

from __future__ import annotations

import logging

import pytest

from sage_amazon import posting_ledger
from sage_amazon.orders import load
from sage_amazon.sandbox.x3 import running_x3
from sage_amazon.warehouse import Warehouse
from tests.orders.test_short_connections import ledger, orders_in_mart, target_for


@pytest.fixture
def warehouse(tmp_path):
    return Warehouse(tmp_path / "warehouse" / "w.duckdb", lock_timeout=10.0)


def _orders(x3) -> set[str]:
    return {r["CUSORDREF_0"] for r in x3.rows("SORDER")}


def test_orders_posted_to_one_x3_then_another_reach_both_once(tmp_path, warehouse, caplog):
    ids = orders_in_mart(warehouse, 5)
    with running_x3(tmp_path / "x3-test") as first, running_x3(tmp_path / "x3-prod") as second:
        done = load.load_orders(warehouse.write, target_for(first), workers=1)
        assert done.posted == 5 and _orders(first) == set(ids)
        assert set(ledger(warehouse).values()) == {"posted"}
        with caplog.at_level(logging.WARNING, logger="sage_amazon.posting_ledger"):
            moved = load.load_orders(warehouse.write, target_for(second), workers=1)
        assert moved.posted == 5 and moved.counts["already_posted"] == 0  # nothing silently skipped
        assert _orders(second) == set(ids)
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 1 and "a fresh ledger for it" in lines[0] and "5 record(s)" in lines[0]
        assert second.url in lines[0] and second.password not in lines[0]
        # back to the first: its ledger comes back, nothing is sent again
        calls = len(first.rows("SORDER"))
        back = load.load_orders(warehouse.write, target_for(first), workers=1)
        assert back.counts["already_posted"] == 5 and back.posted == 0 and len(first.rows("SORDER")) == calls
        # and the second again: its ledger too
        again = load.load_orders(warehouse.write, target_for(second), workers=1)
        assert again.counts["already_posted"] == 5 and len(second.rows("SORDER")) == 5
    with warehouse.read() as con:
        rows = con.execute("SELECT description, active FROM ops.posting_destinations ORDER BY first_bound").fetchall()
    assert [active for _, active in rows] == [False, True]
    assert all("password" not in d and "admin" not in d.split("url=")[0] for d, _ in rows)


def test_destination_names_erp_url_folder_pool_or_database_company_never_a_password():
    from sage_amazon.sage.sage500 import Sage500Target
    from sage_amazon.sage.x3 import X3Target

    x3 = X3Target.from_settings("http://x3.example:8124", "admin", "s3cret-pw", "SEED", "PROD")
    d = posting_ledger.destination_of(x3)
    assert d == {"erp": "x3", "url": "http://x3.example:8124", "pool": "SEED", "folder": "PROD"}
    s500 = Sage500Target("postgresql+psycopg2://sa:s3cret-pw@db.example:5432/sage500_prod", "SOA")
    d = posting_ledger.destination_of(s500)
    assert d == {"erp": "sage500", "server": "postgresql+psycopg2://db.example:5432", "database": "sage500_prod",
                 "company": "SOA"}
    assert "s3cret" not in posting_ledger.describe(d)


def test_a_ledger_from_before_destinations_belongs_to_the_first_bound(warehouse):
    class Fake:
        name = "fake"

    with warehouse.write() as con:
        posting_ledger.start(con, "orders", "A-1", "h")
        posting_ledger.posted(con, "orders", "A-1", "SO1")
        assert posting_ledger.bind(con, Fake()) == ""
        assert posting_ledger.get(con, "orders", "A-1").status == "posted"
        assert posting_ledger.bind(con, Fake()) == ""
        assert posting_ledger.active_destination(con) == "erp=fake"
