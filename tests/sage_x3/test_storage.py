"""The sandbox storage on PostgreSQL, and the CLI command that runs it in the foreground."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from datetime import date
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa

from sage_amazon.sage.protocol import Journal, JournalLine
from sage_amazon.sandbox.x3 import running_x3
from sage_amazon.sandbox.x3.cli import SANDBOX_SETTINGS, x3_command
from sage_amazon.sandbox.x3.server import free_port

from .conftest import make_target
from .test_orders import an_order

PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pg_url():
    name = f"x3_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_sandbox_on_postgresql(tmp_path, pg_url):
    with running_x3(tmp_path, layout="custom", db_url=pg_url) as x3:
        target = make_target(x3)
        first = target.create_sales_order(an_order("PG-1"))
        assert target.create_sales_order(an_order("PG-1")).sage_number == first.sage_number
        journal = target.post_journal(Journal("AMZ-PG-1", date(2026, 11, 2), "USD", (
            JournalLine("1210", debit=Decimal("12.34")), JournalLine("4000", credit=Decimal("12.34"))), site="US01"))
        target.close()
        assert x3.count_orders("PG-1") == 1
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text('SELECT "ORDNOT_0" FROM "SORDER"')).scalar() == Decimal(
            "317.97")  # numeric, exact: 2 x (149.99 - 5.00) + 22.00 + 5.99
        rows = conn.execute(sa.text('SELECT "SNS_0", "AMTCUR_0" FROM "GACCENTRYD" WHERE "NUM_0" = :n ORDER BY 1'),
                            {"n": journal.document_number}).all()
        assert [tuple(r) for r in rows] == [(-1, Decimal("12.34")), (1, Decimal("12.34"))]
    engine.dispose()


def test_cli_runs_the_sandbox_in_the_foreground(tmp_path):
    assert x3_command.name == "x3"
    assert set(SANDBOX_SETTINGS) == {"SAGE_X3_URL", "SAGE_X3_USER", "SAGE_X3_PASSWORD", "SAGE_X3_POOL",
                                     "SAGE_X3_FOLDER"}
    port = free_port()
    env = {**os.environ, "SAGE_AMAZON_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from sage_amazon.sandbox.x3.cli import x3_command; x3_command()",
         "--port", str(port), "--layout", "custom", "--pool", "LIVE", "--fault-pool-busy", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # a loaded 2-core machine took over 20 s to start it
        while True:
            try:
                httpx.get(url + "/sandbox/health", timeout=0.5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "sandbox did not start"
                time.sleep(0.1)
        target = make_target(type("X3", (), {"url": url, "user": "admin", "password": "admin", "pool": "LIVE",
                                             "folder": "SEED"})())
        assert target.description("SOH").lines.id == "SOH1_1"  # after one "pool busy" retry
        target.close()
        assert (tmp_path / "sandbox" / "x3.sqlite").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_tables_have_x3_physical_shape_and_no_nulls(x3_standard):
    from sage_amazon.sandbox.x3 import tables

    target = make_target(x3_standard)
    number = target.create_sales_order(an_order(f"NULLS-{uuid.uuid4().hex[:8]}", ship_to=None)).sage_number
    target.close()

    names = {"SORDER", "SORDERQ", "SORDERP", "BPCUSTOMER", "ITMMASTER", "ITMMVT", "STOCK", "SINVOICE",
             "SINVOICED", "GACCENTRY", "GACCENTRYD"}
    inspector = sa.inspect(x3_standard.engine)
    assert names <= set(inspector.get_table_names())
    with x3_standard.engine.connect() as conn:
        for name in names:
            columns = inspector.get_columns(name)
            data = [c["name"] for c in columns if c["name"] != "ROWID"]
            assert all(re.fullmatch(r"[A-Z0-9]+_\d+", c) for c in data), name
            assert not any(c["nullable"] for c in columns if c["name"] != "ROWID"), name
            nulls = " OR ".join(f'"{c}" IS NULL' for c in data)
            assert conn.execute(sa.text(f'SELECT COUNT(*) FROM "{name}" WHERE {nulls}')).scalar() == 0
    assert isinstance(tables.SORDER.c.ORDSTA_0.type, sa.Integer)
    assert x3_standard.rows("SORDER", SOHNUM=number)[0]["SHIDAT_0"] == tables.NO_DATE  # X3's empty date
