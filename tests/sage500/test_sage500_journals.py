"""Settlement journals as Sage 500 GL batches: balanced, in open periods, once per reference."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import text

from sage_amazon.sage import errors
from sage_amazon.sage.protocol import Journal, JournalLine
from sage_amazon.sandbox.sage500 import close_period, reopen_period


def settlement(ref, day=date(2026, 10, 31), currency="USD", rate=D("1"), unbalance=D("0")):
    return Journal(ref, day, currency, (
        JournalLine("1010", debit=D("812.34"), description="Transfer to bank"),
        JournalLine("6100", debit=D("150.00"), description="Referral fees"),
        JournalLine("6110", debit=D("64.80"), description="FBA fees"),
        JournalLine("4050", debit=D("12.00"), description="Promotions"),
        JournalLine("4000", credit=D("1000.00"), description="Product sales"),
        JournalLine("4010", credit=D("39.14") + unbalance, description="Shipping income"),
    ), description="Amazon settlement", rate=rate)


def q(target, sql, **params):
    with target.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def test_journal_posts_once_as_a_balanced_gl_batch(target):
    j = settlement("AMZ-11111111111-202610")
    first = target.post_journal(j)
    assert first.created and target.find_journal(j.reference) == first.document_number
    assert target.post_journal(j) == type(first)(first.document_number, created=False)
    rows = q(target, "SELECT a.GLAcctNo, t.PostAmt, t.PostAmtHC, t.FiscYear, t.FiscPer FROM tglTransaction t "
                     "JOIN tglAccount a ON a.GLAcctKey = t.GLAcctKey JOIN tciBatchLog b ON b.BatchKey = t.BatchKey "
                     "WHERE b.BatchID = :b ORDER BY t.GLTranKey", b=first.document_number)
    assert [(a, amt) for a, amt, *_ in rows] == [("1010", D("812.34")), ("6100", D("150")), ("6110", D("64.8")),
                                                  ("4050", D("12")), ("4000", D("-1000")), ("4010", D("-39.14"))]
    assert sum(r[2] for r in rows) == 0 and {(r[3], r[4]) for r in rows} == {("2026", 10)}
    assert q(target, "SELECT count(*) FROM tciBatchLog WHERE BatchCmnt = :r", r=j.reference) == [(1,)]


def test_unbalanced_journal_is_refused_with_sages_reason(target):
    with pytest.raises(errors.UnbalancedJournal) as refused:
        target.post_journal(settlement("AMZ-22222222222-202610", unbalance=D("0.05")))
    assert "Debits and Credits do not equal" in refused.value.reason
    assert target.find_journal("AMZ-22222222222-202610") is None
    assert q(target, "SELECT PostStatus FROM tciBatchLog WHERE BatchCmnt = 'AMZ-22222222222-202610'") == [(-7,)]


def test_closed_period_refuses_then_reopened_period_accepts(sage500_db, target):
    with pytest.raises(errors.ClosedPeriod) as refused:
        target.post_journal(settlement("AMZ-33333333333-202506", day=date(2025, 6, 30)))
    assert "2025-06 is closed" in refused.value.reason
    close_period(sage500_db.engine, 2026, 8)
    with pytest.raises(errors.ClosedPeriod):
        target.post_journal(settlement("AMZ-44444444444-202608", day=date(2026, 8, 15)))
    reopen_period(sage500_db.engine, 2026, 8)
    assert target.post_journal(settlement("AMZ-44444444444-202608", day=date(2026, 8, 15))).created


def test_unknown_account_is_typed(target):
    j = Journal("AMZ-55555555555-202610", date(2026, 10, 1), "USD",
                (JournalLine("1210", debit=D("5")), JournalLine("9999", credit=D("5"))))
    with pytest.raises(errors.UnknownAccount, match="9999"):
        target.post_journal(j)


def test_inactive_account_is_refused_by_sage(target):
    with target.engine.begin() as conn:
        conn.execute(text("UPDATE tglAccount SET Status = 2 WHERE GLAcctNo = '7900'"))
    j = Journal("AMZ-66666666666-202610", date(2026, 10, 1), "USD",
                (JournalLine("1210", debit=D("5")), JournalLine("7900", credit=D("5"))))
    try:
        with pytest.raises(errors.UnknownAccount, match="7900 is not active"):
            target.post_journal(j)
    finally:
        with target.engine.begin() as conn:
            conn.execute(text("UPDATE tglAccount SET Status = 1 WHERE GLAcctNo = '7900'"))


def test_foreign_currency_journal_balances_in_home_currency(target):
    result = target.post_journal(settlement("AMZ-77777777777-202610", currency="GBP", rate=D("1.2713")))
    rows = q(target, "SELECT t.CurrID, t.PostAmt, t.PostAmtHC FROM tglTransaction t JOIN tciBatchLog b "
                     "ON b.BatchKey = t.BatchKey WHERE b.BatchID = :b", b=result.document_number)
    assert {r[0] for r in rows} == {"GBP"} and sum(r[1] for r in rows) == 0 and sum(r[2] for r in rows) == 0
    assert max(abs(r[2] - r[1] * D("1.2713")) for r in rows) <= D("0.05")


def test_zero_lines_are_skipped(target):
    j = Journal("AMZ-88888888888-202610", date(2026, 10, 2), "USD", (
        JournalLine("1210", debit=D("5")), JournalLine("6150"), JournalLine("4000", credit=D("5"))))
    doc = target.post_journal(j).document_number
    assert q(target, "SELECT count(*) FROM tglTransaction t JOIN tciBatchLog b ON b.BatchKey = t.BatchKey "
                     "WHERE b.BatchID = :b", b=doc) == [(2,)]


def test_malformed_journal_lines(target):
    with pytest.raises(errors.MalformedRequest):
        target.post_journal(Journal("AMZ-X", date(2026, 10, 1), "USD",
                                    (JournalLine("1210", debit=D("5"), credit=D("5")), JournalLine("4000", credit=D("5")))))
