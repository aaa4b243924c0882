"""What the ledger asks of each ERP for fixes after posting (issue 12.5) and how a receivable line keeps its customer:
the first open period (X3 PERIOD through api1, Sage 500 tglFiscalPeriod), and on Sage 500 the customer of a line on
the receivables control account as Sage 500 keeps it (an AR memo of the customer that the GL line names)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text

from sage_amazon.sage import errors
from sage_amazon.sage.protocol import Journal, JournalLine
from tests.tax.handmade import sage500_sandbox

D = Decimal


def test_x3_first_open_day_follows_period_status(tmp_path):
    from sage_amazon.sandbox.x3 import running_x3
    from tests.orders.test_short_connections import target_for

    with running_x3(tmp_path / "x3") as x3:
        target = target_for(x3)
        assert target.first_open_day("US01", date(2026, 7, 15)) == date(2026, 7, 15)  # open: the day itself
        x3.close_period(2026, 7)
        assert target.first_open_day("US01", date(2026, 7, 15)) == date(2026, 8, 1)
        site_default = target_for(x3, journal_site="US01")  # a journal without a site: the target's journal site
        assert site_default.first_open_day("", date(2026, 7, 15)) == date(2026, 8, 1)
        assert target.first_open_day("US01", date(2025, 6, 10)) == date(2025, 7, 1)  # the seeded closed period
        assert target.first_open_day("NOPE", date(2026, 7, 15)) is None  # no company: X3 cannot say


@pytest.fixture
def sage500():
    with sage500_sandbox() as pair:
        yield pair


def test_sage500_first_open_day_follows_fiscal_period_status(sage500):
    from sage_amazon.sandbox.sage500 import close_period

    db, target = sage500
    assert target.first_open_day("", date(2026, 7, 15)) == date(2026, 7, 15)
    close_period(db.engine, 2026, 7)
    close_period(db.engine, 2026, 8)
    assert target.first_open_day("", date(2026, 7, 15)) == date(2026, 9, 1)
    assert target.first_open_day("", date(2025, 6, 10)) == date(2025, 7, 1)
    assert target.first_open_day("", date(2099, 1, 1)) is None  # no fiscal period that far: Sage refuses it


def _clearing(reference, day=date(2026, 10, 31), customer="AMZUS"):
    """A settlement journal under revenue: sage_invoices: order principal clears the customer's receivable,
    a refund adds back to it (a debit), fees and the deposit on their own accounts."""
    return Journal(reference, day, "USD", (
        JournalLine("1100", credit=D("219.00"), description="AMZ receivables", partner=customer),
        JournalLine("1100", debit=D("29.99"), description="AMZ receivables refund", partner=customer),
        JournalLine("6100", debit=D("32.85"), description="AMZ selling fees"),
        JournalLine("1010", debit=D("156.16"), description="AMZ deposit"),
    ), description="AMZ 1 2026-10")


def _q(target, sql, **params):
    with target.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def test_sage500_receivable_lines_carry_the_customer_through_an_ar_memo(sage500):
    _db, target = sage500
    posted = target.post_journal(_clearing("AMZ-70000000001-202610"))
    rows = _q(target, """
        SELECT a.GLAcctNo, t.PostAmt, t.SourceModuleNo, t.TranType, c.CustID, i.TranType, i.TranAmt, i.Status,
               i.TranCmnt, i.TranDate
        FROM tglTransaction t JOIN tglAccount a ON a.GLAcctKey = t.GLAcctKey
        JOIN tciBatchLog b ON b.BatchKey = t.BatchKey
        LEFT JOIN tarInvoice i ON i.InvcKey = t.TranKey AND t.SourceModuleNo = 5
        LEFT JOIN tarCustomer c ON c.CustKey = i.CustKey
        WHERE b.BatchID = :b ORDER BY t.GLTranKey""", b=posted.document_number)
    ref, day = "AMZ-70000000001-202610", date(2026, 10, 31)
    assert [tuple(r) for r in rows] == [
        ("1100", D("-219.00"), 5, 502, "AMZUS", 502, D("219.00"), 1, ref, day),  # credit to AR: a credit memo
        ("1100", D("29.99"), 5, 503, "AMZUS", 503, D("29.99"), 1, ref, day),  # debit to AR: a debit memo
        ("6100", D("32.85"), 1, 101, None, None, None, None, None, None),  # GL-only lines stay GL journal lines
        ("1010", D("156.16"), 1, 101, None, None, None, None, None, None),
    ]
    # posted once: the memos too
    assert not target.post_journal(_clearing("AMZ-70000000001-202610")).created
    assert _q(target, "SELECT count(*) FROM tarInvoice WHERE TranCmnt = :r", r=ref) == [(2,)]


def test_sage500_refused_journal_leaves_no_memo_and_an_unknown_customer_is_named(sage500):
    from sage_amazon.sandbox.sage500 import close_period

    db, target = sage500
    close_period(db.engine, 2026, 10)
    with pytest.raises(errors.ClosedPeriod):
        target.post_journal(_clearing("AMZ-70000000002-202610"))
    with pytest.raises(errors.UnknownCustomer, match="NOSUCH"):
        target.post_journal(_clearing("AMZ-70000000003-202611", day=date(2026, 11, 30), customer="NOSUCH"))
    assert _q(target, "SELECT count(*) FROM tarInvoice WHERE TranCmnt LIKE 'AMZ-7000000000%'") == [(0,)]


def test_x3_reclass_onto_receivables_goes_to_the_first_open_period_with_the_customer(tmp_path, monkeypatch):
    """The V2 sample posted to the X3 sandbox; July is then closed and refunds move to credit notes: the reclass
    (refunds 4060 -> receivables 1100, a collective account X3 refuses without a BP) posts on 1 August with BPR."""
    from sage_amazon.amazon import settlement as parser
    from sage_amazon.ledger import posting, settlements
    from sage_amazon.mapping import DEFAULTS_DIR, accounts
    from sage_amazon.sandbox.x3 import running_x3
    from sage_amazon.warehouse import Warehouse
    from tests.orders.test_short_connections import target_for
    from tests.settlements.conftest import V2_SAMPLE

    sid = "28471003921"
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)

    def build():
        with wh.write() as con:
            accounts.write_table(con, accounts.load(), "x3")
            parser.land(con, V2_SAMPLE)
            settlements.build(con, sid)

    with running_x3(tmp_path / "x3") as x3:
        target = target_for(x3)
        build()
        assert posting.post_settlement(wh.write, target, sid).all_posted
        x3.close_period(2026, 7)
        (tmp_path / "map").mkdir()
        (tmp_path / "map" / "accounts.yaml").write_text(
            (DEFAULTS_DIR / "accounts.yaml").read_text().replace("documents: journal_only", "documents: credit_notes"))
        monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path / "map"))
        build()
        report = posting.post_settlement(wh.write, target, sid)
        assert report.all_posted and len(report.posted) == 1, report
        [ref] = report.posted
        [head] = [h for h in x3.rows("GACCENTRY") if h["REF_0"] == ref]
        lines = [r for r in x3.rows("GACCENTRYD") if r["NUM_0"] == head["NUM_0"]]
    assert head["ACCDAT_0"] == date(2026, 8, 1)  # July closed: the first day of the first open period
    by_account = {r["ACC_0"]: (D(r["AMTCUR_0"]) * r["SNS_0"], r["BPR_0"].strip()) for r in lines if r["LEDTYP_0"] == 1}
    assert by_account == {"1100": (D("129.99"), "AMZUS"), "4060": (D("-129.99"), "")}


def test_x3_sites_of_two_companies_post_each_in_its_own_currency(tmp_path):
    """The X3 sandbox given a UK company in GBP (GB01 moved to it, its periods and TABCHANGE rates to GBP): a UK
    settlement posts to GB01 at 1:1 in GBP, a EUR one to DE01 (still the US company) at TABCHANGE's EUR->USD rate."""
    import duckdb
    from sqlalchemy import insert, select, update

    from sage_amazon.amazon import settlement as parser
    from sage_amazon.ledger import currency, posting, settlements
    from sage_amazon.mapping import accounts
    from sage_amazon.sandbox.x3 import running_x3
    from sage_amazon.sandbox.x3 import tables as t
    from sage_amazon.warehouse import Warehouse
    from tests.orders.test_short_connections import target_for
    from tests.settlements.conftest import V2_SAMPLE, to_european

    def copy(row, **changes):  # another row like `row`: X3's own row id and UUID are new
        import uuid

        return {**{k: v for k, v in row._asdict().items() if k != "ROWID"}, "AUUID_0": str(uuid.uuid4()), **changes}

    uk, de = tmp_path / "uk.txt", tmp_path / "de.txt"
    sample = V2_SAMPLE.read_text()
    uk.write_text(sample.replace("\tUSD\t", "\tGBP\t").replace("amazon.com", "amazon.co.uk")
                  .replace("28471003921", "28471003922"))
    de.write_text(to_european(sample).replace("\tUSD\t", "\tEUR\t").replace("amazon.com", "amazon.de")
                  .replace("28471003921", "28471003923"))
    with running_x3(tmp_path / "x3") as x3:
        with x3.engine.begin() as conn:
            us = conn.execute(select(t.COMPANY)).first()
            conn.execute(insert(t.COMPANY).values(copy(us, CPY_0="NWGB", CUR_0="GBP", CRY_0="GB")))
            conn.execute(update(t.FACILITY).where(t.FACILITY.c.FCY_0 == "GB01").values(LEGCPY_0="NWGB"))
            periods = conn.execute(select(t.PERIOD).where(t.PERIOD.c.CPY_0 == us.CPY_0)).all()
            conn.execute(insert(t.PERIOD), [copy(p, CPY_0="NWGB") for p in periods])
            rate = conn.execute(select(t.TABCHANGE).where(t.TABCHANGE.c.CUR_0 == "EUR")).first()
            conn.execute(insert(t.TABCHANGE).values(copy(rate, CURDEN_0="GBP", CHGRAT_0=Decimal("0.8400"))))
        target = target_for(x3)
        amap = currency.from_erp(accounts.load(), target, "x3")
        assert amap.company_currency == "USD" and amap.site_currencies == {"GB01": "GBP"}
        wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
        for path in (uk, de):
            with wh.write() as con:
                accounts.write_table(con, amap, "x3")
                sid = parser.land(con, path).settlement_id
                settlements.build(con, sid)
                assert all(o.passed for o in settlements.validate(con, sid) if o.blocking)
            assert posting.post_settlement(wh.write, target, sid).all_posted
        heads = {h["REF_0"]: h for h in x3.rows("GACCENTRY")}
        lines = x3.rows("GACCENTRYD")
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        built = dict(con.execute("SELECT DISTINCT settlement_id, company_currency FROM marts.journal_settlement_lines"
                                 ).fetchall())
    assert built == {"28471003922": "GBP", "28471003923": "USD"}
    uk_heads = [h for ref, h in heads.items() if "-28471003922-" in ref]
    de_heads = [h for ref, h in heads.items() if "-28471003923-" in ref]
    assert uk_heads and {(h["FCY_0"], h["CUR_0"], D(h["RATMLT_0"])) for h in uk_heads} == {("GB01", "GBP", D(1))}
    assert {(h["FCY_0"], h["CUR_0"]) for h in de_heads} == {("DE01", "EUR")} and all(
        D(h["RATMLT_0"]) != 1 for h in de_heads)
    uk_nums = {h["NUM_0"] for h in uk_heads}
    assert all(D(r["AMTLED_0"]) == D(r["AMTCUR_0"]) for r in lines if r["NUM_0"] in uk_nums)  # no conversion
    assert not [r for r in lines if r["NUM_0"] in uk_nums and r["ACC_0"] in ("7900", "7910")]
