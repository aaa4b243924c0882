"""Rules (status, amounts, carriers), the procedure-call shim, reads, credit notes, connection errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from sage_amazon.sage import errors
from sage_amazon.sage.protocol import CreditNote, CreditNoteLine, SalesOrder, SalesOrderLine
from sage_amazon.sage.sage500 import (
    Sage500Rules,
    Sage500Target,
    amazon_freight,
    amazon_line_amounts,
    carrier_table,
    revenue_entries,
)
from sage_amazon.sage.sage500.shim import call_procedure
from sage_amazon.sandbox.listing_items import LISTED_ITEMS
from sage_amazon.sandbox.sage500.seed import SHIP_METHODS


def test_status_mapping():
    rules = Sage500Rules.load()
    assert {s: rules.sage_status(s) for s in ("Pending", "Unshipped", "Shipped", "Canceled", "open", "closed")} == {
        "Pending": "Pending Approval", "Unshipped": "Open", "Shipped": "Closed", "Canceled": "Canceled",
        "open": "Open", "closed": "Closed"}
    with pytest.raises(KeyError):
        rules.sage_status("Teleported")


def test_every_sage_ship_method_has_an_amazon_carrier():
    table = carrier_table()
    assert {code for code, _ in SHIP_METHODS} <= set(table)
    assert table["ROYAL MAIL 48"].carrier_code == "Royal Mail" and table["USPS PRIORITY"].carrier_code == "USPS"
    rules = Sage500Rules.load()
    unknown = rules.amazon_carrier("OWN VAN")
    assert (unknown.carrier_code, unknown.carrier_name) == ("Other", "OWN VAN")
    assert rules.sage_ship_method("UPS") == "UPS GROUND" and rules.sage_ship_method("dhl paket") == "DHL PAKET"


def test_amazon_amounts_aggregate_to_sage_amounts():
    assert amazon_line_amounts(D("3"), D("179.97"), D("-15.00")) == (D("59.99"), D("15.00"))
    unit, disc = amazon_line_amounts(D("3"), D("10.00"))
    assert unit == D("3.33333") and disc == 0
    assert amazon_freight([D("4.99"), D("2.00")], [D("-2.00")]) == D("4.99")
    with pytest.raises(ValueError):
        amazon_line_amounts(D("0"), D("1"))


def test_revenue_entries_split_shipping_and_promotions_where_configured():
    order = SalesOrder("111-1", "AMZUS", "US01", date(2026, 11, 1), "USD",
                       (SalesOrderLine(1, "NW-TENT-2P", D("2"), D("149.99"), D("10.00")),), freight=D("5.99"))
    split = {(e.account, e.debit, e.credit) for e in revenue_entries(order)}
    assert split == {("4000", 0, D("299.98")), ("4010", 0, D("5.99")), ("4050", D("10.00"), 0)}
    plain = Sage500Rules(order_status={}, gl_accounts={"sales": "4000"})
    assert [(e.account, e.credit) for e in revenue_entries(order, plain)] == [("4000", D("295.97"))]


class _FakeCursor:
    """A DBAPI cursor whose batch first yields a report result set of the procedure, then the outputs."""

    def __init__(self):
        self.sets = [([("Comment",)], [("a report row",)]), ([("oRetVal",)], [(1,)])]
        self.sql = self.args = None

    def execute(self, sql, args):
        self.sql, self.args = sql, args

    @property
    def description(self):
        return self.sets[0][0]

    def fetchall(self):
        return self.sets[0][1]

    def nextset(self):
        self.sets.pop(0)
        return bool(self.sets)

    def close(self):
        pass


class _FakeConn:
    def __init__(self, dialect_name):
        from sqlalchemy.dialects import postgresql
        from sqlalchemy.dialects.mssql import pyodbc

        self.dialect = (pyodbc.dialect(paramstyle="qmark") if dialect_name == "mssql" else postgresql.dialect()
                        if dialect_name == "postgresql" else SimpleNamespace(name=dialect_name))
        self.cursor = _FakeCursor()
        self.connection = SimpleNamespace(cursor=lambda: self.cursor)
        self.sql = None

    def execute(self, stmt, binds):
        self.sql, self.binds = str(stmt), binds
        return SimpleNamespace(mappings=lambda: SimpleNamespace(one=lambda: {"oRetVal": 1}))


def test_shim_speaks_sql_server_and_postgresql():
    ms = _FakeConn("mssql")
    out = call_procedure(ms, "spglAPIPostBatchlessGLPosting", {"iBatchKey": 7}, [("oRetVal", "int")])
    assert out == {"oretval": 1}  # the outputs, not the procedure's own report rows
    assert ms.cursor.sql == ("SET NOCOUNT ON; DECLARE @oRetVal int; EXEC spglAPIPostBatchlessGLPosting "
                             "@iBatchKey = ?, @oRetVal = @oRetVal OUTPUT; SELECT @oRetVal AS oRetVal;")
    assert ms.cursor.args == (7,)
    pg = _FakeConn("postgresql")
    call_procedure(pg, "spX", {"iA": 1}, [("oB", "int")])
    assert pg.sql == "CALL spX(iA => :p_iA, oB => NULL)" and pg.binds == {"p_iA": 1}
    with pytest.raises(NotImplementedError):
        call_procedure(_FakeConn("sqlite"), "spX", {}, [])


def test_reads(target):
    items = {i.code: i for i in target.read_items()}
    assert "NW-TENT-2P" in items and "NW-FILTER-SQ" not in items and items["NW-TENT-2P"].active
    stock = target.read_stock("FBAUS", ["NW-TENT-2P", "NW-KNIFE-MT"])
    assert [s.item for s in stock] == ["NW-TENT-2P"] and stock[0].quantity > 0  # the knife is MFN only
    # every item has a stock row in the own warehouse but the ones only Sage knows yet (to be listed on Amazon)
    sage_only = {item.code for item in LISTED_ITEMS if item.new}
    assert sage_only <= set(items)
    assert {s.item for s in target.read_stock("US01")} == set(items) - sage_only
    with pytest.raises(errors.UnknownSite):
        target.read_stock("NOWHERE")


def test_credit_note_once_per_reference(target):
    note = CreditNote("AMZ-REFUND-1", "AMZUS", "US01", "USD", date(2026, 11, 3),
                      (CreditNoteLine("NW-PAD-UL", D("1"), D("59.99")),), original_order_ref="111-1")
    first = target.create_credit_note(note)
    assert first.created and target.create_credit_note(note).document_number == first.document_number
    assert not target.create_credit_note(note).created
    with pytest.raises(errors.UnknownItem):
        target.create_credit_note(CreditNote("AMZ-REFUND-2", "AMZUS", "US01", "USD", date(2026, 11, 3),
                                             (CreditNoteLine("NW-FILTER-SQ", D("1"), D("1")),)))
    with pytest.raises(errors.UnknownCustomer):
        target.create_credit_note(CreditNote("AMZ-REFUND-3", "NOPE", "US01", "USD", date(2026, 11, 3), ()))


def test_connection_problems_are_typed(sage500_db):
    from sqlalchemy import make_url

    from sage_amazon.retrying import RetryPolicy

    url = make_url(sage500_db.url)
    missing_db = Sage500Target(url.set(database="sage500_no_such_db"))
    with pytest.raises(errors.SageConfigurationError):
        missing_db.find_sales_order("x")
    # a refused connection is retried within the budget, then typed transient (a short budget: the type is tested)
    closed_port = Sage500Target(url.set(port=1), retry=RetryPolicy(budget=2.0, timeout=5.0, initial=0.2))
    with pytest.raises(errors.SageTransientError):
        closed_port.find_journal("x")
    assert "sage500" in repr(closed_port) and "s3cret" not in repr(Sage500Target(url.set(password="s3cret")))


def test_from_settings(monkeypatch):
    monkeypatch.setenv("SAGE500_DB_URL", "postgresql+psycopg2://u@h:5432/db")
    monkeypatch.setenv("SAGE500_COMPANY_ID", "ABC")
    t = Sage500Target.from_settings()
    assert (t.engine.url.database, t.company_id) == ("db", "ABC")
    t2 = Sage500Target.from_settings({"sage500_db_url": "postgresql+psycopg2://u@h/other"})
    assert (t2.engine.url.database, t2.company_id) == ("other", "ABC")


def test_available_stock_is_on_hand_less_committed(target):
    from sage_amazon.sandbox.seller_catalog import CATALOG

    idx = next(i for i, c in enumerate(CATALOG) if c.sku == "NW-TENT-4P")
    on_hand = 20 + (idx * 7 + 1 * 13) % 60  # FBAUS is the second stock site of FBA items
    assert idx % 3 and target.read_stock("FBAUS", ["NW-TENT-4P"])[0].quantity == on_hand - idx % 3
