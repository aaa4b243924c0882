"""Reclass journals (issue 12.5): dated in the first open period as Sage says it, and a line on the receivables
control account keeps the marketplace's customer, like the period journals' lines do."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from sage_amazon.amazon import settlement as parser
from sage_amazon.ledger import posting, reclass, settlements
from sage_amazon.mapping import DEFAULTS_DIR, accounts
from sage_amazon.sage import errors
from sage_amazon.sage.protocol import Journal, JournalLine
from sage_amazon.warehouse import Warehouse
from tests.settlements.conftest import V2_SAMPLE
from tests.settlements.test_posting import FakeSage

SID = "28471003921"  # the V2 sample: journals for June and July 2026 (deposit 2026-07-02)
D = Decimal


class PeriodSage(FakeSage):
    """A Sage that says which periods are open (first_open_day), like the X3 and Sage 500 targets."""

    name = "x3"  # the customers of marketplaces.yaml for x3 (AMZUS...)

    def __init__(self):
        super().__init__()
        self.asked: list[tuple[str, date]] = []

    def first_open_day(self, site, day):
        self.asked.append((site, day))
        while day.strftime("%Y%m") in self.closed:
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return day


def _mapping(tmp_path, monkeypatch, **replacements):
    folder = tmp_path / "map"
    folder.mkdir(exist_ok=True)
    text = (DEFAULTS_DIR / "accounts.yaml").read_text()
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    (folder / "accounts.yaml").write_text(text)
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(folder))


def _build(wh):
    with wh.write() as con:
        accounts.write_table(con, accounts.load(), "x3")
        parser.land(con, V2_SAMPLE)
        settlements.build(con, SID)


@pytest.fixture
def wh(tmp_path):
    warehouse = Warehouse(tmp_path / "wh.duckdb", lock_timeout=10)
    _build(warehouse)
    return warehouse


def _reclasses(sage):
    return [j for ref, (_n, j) in sage.journals.items() if reclass.is_correction(ref)]


def test_a_reclass_onto_receivables_carries_the_marketplace_customer(wh, tmp_path, monkeypatch):
    sage = PeriodSage()
    assert posting.post_settlement(wh.write, sage, SID).all_posted
    # refunds now go through credit notes: the refunded principal moves from refunds (4060) to receivables (1100)
    _mapping(tmp_path, monkeypatch, **{"documents: journal_only": "documents: credit_notes"})
    _build(wh)
    report = posting.post_settlement(wh.write, sage, SID)
    assert report.all_posted and len(report.posted) == 1
    [fix] = _reclasses(sage)
    moved = {line.account: (line.debit - line.credit, line.partner) for line in fix.lines}
    assert moved == {"1100": (D("129.99"), "AMZUS"), "4060": (D("-129.99"), "")}
    # once: the books now equal the build, with the partner remembered
    assert posting.post_settlement(wh.write, sage, SID).posted == {}
    with wh.read() as con:
        assert reclass.reclass_journals(con, SID, partner_of=settlements.partner_function("x3")) == []
        assert con.execute("SELECT partner FROM ops.settlement_posted_lines WHERE journal_reference = ? "
                           "AND account = '1100'", [fix.reference]).fetchall() == [("AMZUS",)]


def test_a_reclass_off_receivables_moves_the_customer_it_was_posted_with(wh, tmp_path, monkeypatch):
    _mapping(tmp_path, monkeypatch, **{"documents: journal_only": "documents: credit_notes"})
    _build(wh)
    sage = PeriodSage()
    assert posting.post_settlement(wh.write, sage, SID).all_posted
    monkeypatch.delenv("SAGE_AMAZON_MAPPING_DIR")  # back to journal_only: refunds leave receivables
    _build(wh)
    assert len(posting.post_settlement(wh.write, sage, SID).posted) == 1
    [fix] = _reclasses(sage)
    assert {line.account: line.partner for line in fix.lines} == {"1100": "AMZUS", "4060": ""}


def test_snapshots_taken_before_partners_were_kept_give_no_spurious_reclass(wh, tmp_path, monkeypatch):
    _mapping(tmp_path, monkeypatch, **{"revenue: settlement": "revenue: sage_invoices"})
    _build(wh)
    sage = PeriodSage()
    assert posting.post_settlement(wh.write, sage, SID).all_posted
    posted = [line for _n, j in sage.journals.values() for line in j.lines if line.account == "1100"]
    assert posted and {line.partner for line in posted} == {"AMZUS"}
    with wh.write() as con:  # the snapshot table as an older build wrote it
        con.execute("ALTER TABLE ops.settlement_posted_lines DROP COLUMN partner")
        assert reclass.reclass_journals(con, SID, partner_of=settlements.partner_function("x3")) == []
        assert settlements.check_not_posted_twice(con, SID).passed


def test_a_reclass_is_dated_in_the_original_period_while_it_is_open(wh, tmp_path, monkeypatch):
    sage = PeriodSage()
    assert posting.post_settlement(wh.write, sage, SID).all_posted
    _mapping(tmp_path, monkeypatch, **{'{description: "Storage Fee", role: storage_fees}':
                                       '{description: "Storage Fee", role: other_fees}'})
    _build(wh)
    assert len(posting.post_settlement(wh.write, sage, SID).posted) == 1
    [fix] = _reclasses(sage)
    last = max(j.accounting_date for ref, (_n, j) in sage.journals.items() if not reclass.is_correction(ref))
    assert fix.accounting_date == last == date(2026, 7, 2)  # the last accounting date (the deposit): July is open
    assert sage.asked == [("US01", last)]


def test_when_the_original_period_is_closed_the_reclass_goes_to_the_first_open_period(wh, tmp_path, monkeypatch):
    sage = PeriodSage()
    assert posting.post_settlement(wh.write, sage, SID).all_posted
    sage.closed |= {"202607", "202608"}  # July closed after posting, August too: September is the first open one
    _mapping(tmp_path, monkeypatch, **{'{description: "Storage Fee", role: storage_fees}':
                                       '{description: "Storage Fee", role: other_fees}'})
    _build(wh)
    report = posting.post_settlement(wh.write, sage, SID)
    assert report.all_posted and len(report.posted) == 1
    [fix] = _reclasses(sage)
    assert fix.accounting_date == date(2026, 9, 1)
    with wh.read() as con:  # what Sage holds is remembered with the date it was posted on
        days = {r[0] for r in con.execute("SELECT accounting_date FROM ops.settlement_posted_lines "
                                          "WHERE journal_reference = ?", [fix.reference]).fetchall()}
    assert days == {date(2026, 9, 1)}


def test_a_target_that_cannot_say_keeps_the_later_of_the_date_and_the_run_day():
    journal = Journal(reference=f"AMZ-{SID}-RABC123", accounting_date=date(2026, 7, 3), currency="USD",
                      lines=(JournalLine(account="6120", credit=D("1")), JournalLine(account="6150", debit=D("1"))))
    assert reclass.open_day(object(), journal, today=date(2026, 11, 30)).accounting_date == date(2026, 11, 30)
    assert reclass.open_day(object(), journal, today=date(2026, 7, 1)) is journal

    class NoOpenPeriod:
        def first_open_day(self, site, day):
            return None

    assert reclass.open_day(NoOpenPeriod(), journal, today=date(2026, 8, 2)).accounting_date == date(2026, 8, 2)

    class NoPeriodRead:  # an ERP without the read (say, an X3 endpoint without the class): Sage judges the date
        def first_open_day(self, site, day):
            raise errors.SageConfigurationError("X3 REST: class PERIOD not found")

    assert reclass.open_day(NoPeriodRead(), journal, today=date(2026, 7, 1)) is journal

    class Down:
        def first_open_day(self, site, day):
            raise errors.SageTransientError("X3 REST HTTP 503")

    with pytest.raises(errors.SageTransientError):
        reclass.open_day(Down(), journal, today=date(2026, 7, 1))
    assert reclass.is_correction(f"AMZ-{SID}-RV1A2B3C") and not reclass.is_correction(f"AMZ-{SID}-202607")
