"""Posting to Sage: once per settlement and period, closed periods as dead letters, unknown outcomes."""

from __future__ import annotations

import pytest

from sage_amazon import deadletters, posting_ledger
from sage_amazon.ledger import posting, settlements
from sage_amazon.sage import errors
from sage_amazon.sage.protocol import JournalResult
from tests.settlements.conftest import V2_SAMPLE, built_warehouse

SID = "28471003921"


class FakeSage:
    """Records journals by reference; refuses closed periods; can lose one reply."""

    name = "fake"

    def __init__(self):
        self.journals = {}
        self.calls = 0
        self.closed: set[str] = set()
        self.lose_reply_for: set[str] = set()

    def find_journal(self, reference):
        return self.journals.get(reference, (None,))[0]

    def post_journal(self, journal):
        self.calls += 1
        assert sum(line.debit for line in journal.lines) == sum(line.credit for line in journal.lines)
        period = journal.accounting_date.strftime("%Y%m")
        if period in self.closed:
            raise errors.ClosedPeriod(f"period {period} is closed", refused=f"GAS {journal.reference}")
        if journal.reference in self.journals:
            return JournalResult(self.journals[journal.reference][0], False)
        number = f"JNL{len(self.journals) + 1:05d}"
        self.journals[journal.reference] = (number, journal)
        if journal.reference in self.lose_reply_for:
            self.lose_reply_for.discard(journal.reference)
            raise errors.SageUnknownOutcome("read timeout after sending")
        return JournalResult(number, True)


@pytest.fixture
def wh(tmp_path):
    return built_warehouse(tmp_path / "wh.duckdb", V2_SAMPLE, SID)


def test_posts_each_period_once(wh):
    sage = FakeSage()
    first = posting.post_settlement(wh.write, sage, SID)
    assert sorted(first.posted) == [f"AMZ-{SID}-202606", f"AMZ-{SID}-202607"]
    again = posting.post_settlement(wh.write, sage, SID)
    assert not again.posted and sorted(again.already) == sorted(first.posted)
    assert sage.calls == 2
    with wh.read() as con:
        assert posting.unposted_settlements(con) == []
        assert settlements.check_not_posted_twice(con, SID).passed


def test_closed_period_is_a_dead_letter_then_posts_after_reopening(wh):
    sage = FakeSage()
    sage.closed.add("202606")
    report = posting.post_settlement(wh.write, sage, SID)
    assert list(report.dead_letters) == [f"AMZ-{SID}-202606"]
    assert "closed fiscal period" in report.dead_letters[f"AMZ-{SID}-202606"]
    assert list(report.posted) == [f"AMZ-{SID}-202607"]
    with wh.write() as con:
        letters = deadletters.open_letters(con, posting.DEAD_LETTER_FLOW)
        assert [(d.record_key, d.reason.startswith("closed fiscal period")) for d in letters] == [
            (f"{SID}:AMZ-{SID}-202606", True)]
        assert '"reference": "AMZ-28471003921-202606"' in letters[0].payload
        assert posting.unposted_settlements(con) == [SID]
    sage.closed.clear()  # the accountant reopens June
    retry = posting.post_settlement(wh.write, sage, SID)
    assert list(retry.posted) == [f"AMZ-{SID}-202606"]
    with wh.write() as con:
        assert deadletters.open_letters(con, posting.DEAD_LETTER_FLOW) == []
        assert posting.unposted_settlements(con) == []


def test_unknown_outcome_is_looked_up_not_sent_twice(wh):
    sage = FakeSage()
    sage.lose_reply_for.add(f"AMZ-{SID}-202606")
    first = posting.post_settlement(wh.write, sage, SID)
    assert f"AMZ-{SID}-202606" in first.transient
    with wh.write() as con:
        assert posting_ledger.get(con, settlements.FLOW, f"AMZ-{SID}-202606").status == "sending"
    calls = sage.calls
    second = posting.post_settlement(wh.write, sage, SID)
    assert second.adopted == {f"AMZ-{SID}-202606": "JNL00001"}
    assert sage.calls == calls  # found in Sage: nothing re-sent
    assert len(sage.journals) == 2


def test_changed_settlement_after_posting_is_refused(wh):
    posting.post_settlement(wh.write, FakeSage(), SID)
    with wh.write() as con:
        con.execute("UPDATE raw.settlement_lines SET amount = amount + 1 WHERE amount_description = 'Storage Fee'")
        con.execute("UPDATE raw.settlement_reports SET total_amount = total_amount + 1")
        settlements.build(con, SID)
        outcome = settlements.check_not_posted_twice(con, SID)
    assert not outcome.passed and "already posted with different content" in outcome.description


def test_same_file_under_another_settlement_id_is_refused(wh, tmp_path):
    with wh.write() as con:
        con.execute("INSERT INTO raw.settlement_reports SELECT * REPLACE ('99999999999' AS settlement_id) "
                    "FROM raw.settlement_reports")
        outcome = settlements.check_not_posted_twice(con, SID)
    assert not outcome.passed and "99999999999" in outcome.description


def test_business_refusal_keeps_reason_and_payload(wh):
    class NoAccount(FakeSage):
        def post_journal(self, journal):
            raise errors.UnknownAccount("account 4000 does not exist", refused="GAS")

    report = posting.post_settlement(wh.write, NoAccount(), SID)
    assert len(report.dead_letters) == 2
    with wh.write() as con:
        entry = posting_ledger.get(con, settlements.FLOW, f"AMZ-{SID}-202606")
        assert entry.status == "failed" and "UnknownAccount" in entry.message
        assert len(deadletters.open_letters(con, posting.DEAD_LETTER_FLOW)) == 2
