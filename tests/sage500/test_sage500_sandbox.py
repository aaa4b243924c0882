"""The Sage side on its own: tables, seed and the PL/pgSQL procedures, driven with plain SQL."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, make_url, text

from sage_amazon.sandbox.sage500 import close_period, reopen_period
from sage_amazon.sandbox.sage500.cli import SANDBOX_SETTINGS, sage500_command
from sage_amazon.sandbox.sage500.install import drop_database, install
from sage_amazon.sandbox.sage500.seed import ACCOUNTS, COMPANY_ID, MISSING_SKUS
from sage_amazon.sandbox.seller_catalog import CATALOG

TODAY = date(2026, 11, 22)
TABLES = ("StgSalesOrder", "StgSOLine", "tdmMigrationLogWrk", "tsoSalesOrder", "tsoSOLine", "tsoSOLineDist",
          "tarCustomer", "timItem", "tglAccount", "tglFiscalPeriod", "tciBatchLog", "tglPosting", "tglTransaction",
          "tsoShipment", "tsoShipLine", "tciShipMethod", "timWarehouse")


def q(db, sql, **params):
    with db.engine.begin() as conn:
        return conn.execute(text(sql), params).all()


def call_import(db, session, company=COMPANY_ID):
    with db.engine.begin() as conn:
        return conn.execute(text(
            "CALL spSOapiSalesOrdIns(iCancel => 0, iSessionKey => :s, iCompanyID => :c, iRptOption => 0, "
            "iPrintWarnings => 1, UseStageTable => 1, oContinue => NULL, oRecsProcessed => NULL, "
            "oFailedRecs => NULL, oTotalRecs => NULL, _oRetVal => NULL)"), {"s": session, "c": company}).mappings().one()


def stage(db, session, tran_no, cust="AMZUS", items=(("NW-TENT-2P", "1", "149.99"),), po=None, curr="USD"):
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO StgSalesOrder (SessionKey, TranNo, CustID, CustPONo, CurrID, TranDate, Status,"
                          " FreightAmt) VALUES (:s, :t, :c, :po, :cur, '2026-11-20', 'Open', 4.99)"),
                     {"s": session, "t": tran_no, "c": cust, "po": po or f"PO-{tran_no}", "cur": curr})
        for n, (item, qty, price) in enumerate(items, 1):
            conn.execute(text("INSERT INTO StgSOLine (SessionKey, TranNo, SOLineNo, ItemID, QtyOrd, UnitPrice) "
                              "VALUES (:s, :t, :n, :i, :q, :p)"),
                         {"s": session, "t": tran_no, "n": n, "i": item, "q": Decimal(qty), "p": Decimal(price)})


def test_tables_have_sage_names(sage500_db):
    names = {n.lower() for n in inspect(sage500_db.engine).get_table_names()}
    assert {t.lower() for t in TABLES} <= names
    columns = {c["name"] for c in inspect(sage500_db.engine).get_columns("stgsalesorder")}
    assert {"rowkey", "processstatus", "sessionkey", "tranno", "custid", "custpono", "currid", "freightamt"} <= columns


def test_seed_mirrors_the_amazon_seller(sage500_db):
    items = {r[0] for r in q(sage500_db, "SELECT ItemID FROM timItem WHERE CompanyID = :c", c=COMPANY_ID)}
    from sage_amazon.sandbox.listing_items import LISTED_ITEMS  # + the items only Sage has (issue 18)

    assert items == ({c.sku for c in CATALOG} - MISSING_SKUS) | {i.code for i in LISTED_ITEMS if i.new} and MISSING_SKUS
    customers = dict(q(sage500_db, "SELECT c.CustID, a.CurrID FROM tarCustomer c JOIN tarCustAddr a "
                                   "ON a.AddrKey = c.DfltBillToAddrKey"))
    assert customers == {"AMZUS": "USD", "AMZGB": "GBP", "AMZDE": "EUR"}
    accounts = {r[0] for r in q(sage500_db, "SELECT GLAcctNo FROM tglAccount")}
    assert accounts == {a for a, _ in ACCOUNTS}
    periods = q(sage500_db, "SELECT FiscYear, FiscPer, StartDate, EndDate, Status FROM tglFiscalPeriod "
                            "ORDER BY StartDate")
    assert len(periods) == 36 and periods[0][2] == date(2025, 1, 1) and periods[-1][3] == date(2027, 12, 31)
    closed = [p for p in periods if p[4] == 2]
    assert len(closed) == 1 and closed[0][3] < TODAY - timedelta(days=120)


def test_import_creates_valid_orders_and_keeps_failed_rows_with_reasons(sage500_db):
    stage(sage500_db, 9001, "T0000001", items=(("NW-TENT-2P", "2", "149.99"), ("NW-PAD-UL", "1", "59.99")))
    stage(sage500_db, 9001, "T0000002", items=(("NW-CHAIR-FLD", "1", "64.99"),))
    stage(sage500_db, 9001, "T0000003", cust="NOBODY")
    out = call_import(sage500_db, 9001)
    assert (out["_oretval"], out["orecsprocessed"], out["ofailedrecs"], out["ototalrecs"]) == (2, 1, 2, 3)
    order = q(sage500_db, "SELECT TranID, Status, SalesAmt, FreightAmt, TranAmt FROM tsoSalesOrder WHERE TranNo = 'T0000001'")
    assert order == [("T0000001-SO", 1, Decimal("359.970"), Decimal("4.990"), Decimal("364.960"))]
    dist = q(sage500_db, "SELECT l.SOLineNo, d.QtyOrd, d.ExtAmt FROM tsoSOLine l JOIN tsoSOLineDist d "
                         "ON d.SOLineKey = l.SOLineKey JOIN tsoSalesOrder o ON o.SOKey = l.SOKey "
                         "WHERE o.TranNo = 'T0000001' ORDER BY 1")
    assert [(n, int(qty), amt) for n, qty, amt in dist] == [(1, 2, Decimal("299.980")), (2, 1, Decimal("59.990"))]
    staged = q(sage500_db, "SELECT TranNo, ProcessStatus FROM StgSalesOrder WHERE SessionKey = 9001 ORDER BY TranNo")
    assert staged == [("T0000002", 2), ("T0000003", 2)]  # the success was deleted from staging
    assert q(sage500_db, "SELECT count(*) FROM StgSOLine WHERE SessionKey = 9001 AND TranNo = 'T0000001'") == [(0,)]
    log = q(sage500_db, "SELECT EntityID, ColumnID, Status, Comment FROM tdmMigrationLogWrk WHERE SessionKey = 9001 "
                        "ORDER BY LogKey")
    assert ("T0000002", "ItemID", 1, "Line 1: Invalid Item ID 'NW-CHAIR-FLD'.") in log
    assert any(e == "T0000003" and c == "CustID" and s == 1 for e, c, s, _ in log)
    assert any(e == "T0000001" and s == 3 for e, _, s, _ in log)  # report option 0 logs successes too


def test_import_return_values(sage500_db):
    stage(sage500_db, 9002, "T0000010")
    assert call_import(sage500_db, 9002)["_oretval"] == 1
    stage(sage500_db, 9003, "T0000010")  # same TranNo again: duplicate
    assert call_import(sage500_db, 9003)["_oretval"] == 2
    assert q(sage500_db, "SELECT Duplicate FROM tdmMigrationLogWrk WHERE SessionKey = 9003 AND Status = 1") == [(1,)]
    assert call_import(sage500_db, 9004, company="XXX")["_oretval"] == 3
    with sage500_db.engine.begin() as conn:  # a line without its header in the session
        conn.execute(text("INSERT INTO StgSOLine (SessionKey, TranNo, SOLineNo, ItemID, QtyOrd, UnitPrice) "
                          "VALUES (9005, 'ORPHAN', 1, 'NW-PAD-UL', 1, 1)"))
    assert call_import(sage500_db, 9005)["_oretval"] == 2
    assert q(sage500_db, "SELECT ProcessStatus FROM StgSOLine WHERE SessionKey = 9005") == [(2,)]
    assert "HDR REC MISSING" in q(sage500_db, "SELECT Comment FROM tdmMigrationLogWrk WHERE SessionKey = 9005")[0][0]


def test_import_refuses_currency_other_than_the_customers(sage500_db):
    stage(sage500_db, 9006, "T0000020", cust="AMZGB", curr="USD")
    assert call_import(sage500_db, 9006)["_oretval"] == 2
    assert q(sage500_db, "SELECT ColumnID FROM tdmMigrationLogWrk WHERE SessionKey = 9006 AND Status = 1") == [("CurrID",)]


def post_gl(db, batch_key, lines, post_date):
    with db.engine.begin() as conn:
        for acct, amount in lines:
            conn.execute(text(
                "INSERT INTO tglPosting (BatchKey, CurrID, GLAcctKey, PostAmt, PostAmtHC, PostDate, TranDate, TranNo) "
                "SELECT :b, 'USD', GLAcctKey, :a, :a, :d, :d, 'J1' FROM tglAccount WHERE GLAcctNo = :n"),
                {"b": batch_key, "a": Decimal(amount), "d": post_date, "n": acct})
        return conn.execute(text(
            "CALL spglAPIPostBatchlessGLPosting(iCompanyID => :c, iBatchKey => :b, iBatchCmnt => 'test', "
            "oBatchID => NULL, oPostStatus => NULL, oRetVal => NULL)"), {"c": COMPANY_ID, "b": batch_key}).mappings().one()


def test_gl_posting_balances_and_periods(sage500_db):
    ok = post_gl(sage500_db, 7001, [("1210", "100.00"), ("4000", "-80.00"), ("4010", "-20.00")], date(2026, 10, 31))
    assert (ok["oretval"], ok["opoststatus"]) == (1, 1)
    rows = q(sage500_db, "SELECT FiscYear, FiscPer, PostAmtHC FROM tglTransaction WHERE BatchKey = 7001")
    assert len(rows) == 3 and sum(r[2] for r in rows) == 0 and {(r[0], r[1]) for r in rows} == {("2026", 10)}
    assert q(sage500_db, "SELECT Status, PostStatus FROM tciBatchLog WHERE BatchKey = 7001") == [(6, 500)]

    unbalanced = post_gl(sage500_db, 7002, [("1210", "100.00"), ("4000", "-99.99")], date(2026, 10, 31))
    assert (unbalanced["oretval"], unbalanced["opoststatus"]) == (0, -7)
    assert q(sage500_db, "SELECT count(*) FROM tglTransaction WHERE BatchKey = 7002") == [(0,)]
    assert "Debits and Credits do not equal" in q(sage500_db, "SELECT ErrorCmnt FROM tciErrorLog WHERE BatchKey = 7002")[0][0]

    closed = post_gl(sage500_db, 7003, [("1210", "10.00"), ("4000", "-10.00")], date(2025, 6, 10))
    assert (closed["oretval"], closed["opoststatus"]) == (0, -5)
    close_period(sage500_db.engine, 2026, 9)
    try:
        assert post_gl(sage500_db, 7004, [("1210", "1.00"), ("4000", "-1.00")], date(2026, 9, 1))["opoststatus"] == -5
    finally:
        reopen_period(sage500_db.engine, 2026, 9)
    assert post_gl(sage500_db, 7005, [("1210", "1.00"), ("4000", "-1.00")], date(2026, 9, 1))["oretval"] == 1


def test_cli_installs_idempotently_and_keeps_data(sage500_db):
    url = make_url(sage500_db.url).set(database=f"sage500_cli_{uuid.uuid4().hex[:10]}")
    plain = url.render_as_string(hide_password=False)
    runner = CliRunner()
    try:
        first = runner.invoke(sage500_command, ["--db", plain])
        assert first.exit_code == 0, first.output
        assert "created" in first.output and "seeded" in first.output
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text("UPDATE tarCustomer SET CustName = 'kept' WHERE CustID = 'AMZUS'"))
            again = runner.invoke(sage500_command, ["--db", plain])
            assert again.exit_code == 0 and "kept" in again.output
            with engine.connect() as conn:
                assert conn.execute(text("SELECT CustName FROM tarCustomer WHERE CustID = 'AMZUS'")).scalar() == "kept"
                assert conn.execute(text("SELECT count(*) FROM tarCustomer")).scalar() == 3
            engine.dispose()
            reset = runner.invoke(sage500_command, ["--db", plain, "--reset"])
            assert reset.exit_code == 0, reset.output
            with engine.connect() as conn:
                assert conn.execute(text("SELECT CustName FROM tarCustomer WHERE CustID = 'AMZUS'")).scalar() != "kept"
        finally:
            engine.dispose()
    finally:
        drop_database(url)
    assert "SAGE500_DB_URL" in SANDBOX_SETTINGS


def test_installer_refuses_other_databases():
    with pytest.raises(ValueError, match="PostgreSQL"):
        install("sqlite:///nowhere.db")


def test_cli_reports_an_unreachable_server_without_its_password():
    result = CliRunner().invoke(sage500_command, ["--db", "postgresql+psycopg2://postgres:s3cret@127.0.0.1:1/x"])
    assert result.exit_code == 1 and "cannot reach PostgreSQL" in result.output and "s3cret" not in result.output
