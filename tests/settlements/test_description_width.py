"""The warehouse keeps a journal line's whole description (the journal mart cuts nothing; each Sage target cuts
to its own field's width when it writes: tests/sage_x3 and tests/sage500 test_field_widths), and a journal
posted when the mart still cut descriptions to 30 characters is not taken for changed content."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sage_amazon import posting_ledger
from sage_amazon.ledger import settlements
from sage_amazon.warehouse import Warehouse
from tests.settlements.conftest import built_warehouse

FILE = Path(__file__).parent / "files" / "na-unified.txt"  # several marketplaces: "AMZ <id> <mkt> <what>"
SID = "90000000020"


def _built(tmp_path) -> Warehouse:
    return built_warehouse(tmp_path / "wh.duckdb", FILE, SID)


def test_the_journal_mart_keeps_line_descriptions_whole(tmp_path):
    with _built(tmp_path).read() as con:
        rows = con.execute("SELECT role, marketplace, description FROM marts.journal_settlement_lines "
                           "WHERE settlement_id = ? ORDER BY line_no", [SID]).fetchall()
    long = [d for _, _, d in rows if len(d) > 30]
    assert long, rows  # e.g. "AMZ 90000000020 US subscription fees": X3 alone keeps 30 of it
    assert all(d.startswith(f"AMZ {SID} ") for _, _, d in rows)
    with _built(tmp_path / "again").read() as con:  # the journals handed to the target carry them whole
        handed = [x.description for j in settlements.period_journals(con, SID) for x in j.lines]
    assert sorted(handed) == sorted(d for _, _, d in rows)


def test_a_journal_posted_with_30_character_descriptions_is_not_taken_for_changed(tmp_path):
    warehouse = _built(tmp_path)
    with warehouse.write() as con:
        journals = settlements.period_journals(con, SID)
        assert any(len(x.description) > 30 for j in journals for x in j.lines)
        for journal in journals:  # recorded as the build before this one did: descriptions cut to 30
            cut = replace(journal, lines=tuple(replace(x, description=x.description[:30]) for x in journal.lines))
            posting_ledger.start(con, settlements.FLOW, journal.reference,
                                 posting_ledger.payload_hash(settlements.journal_payload(cut)))
            posting_ledger.posted(con, settlements.FLOW, journal.reference, "GAS0001")
        assert settlements.check_not_posted_twice(con, SID).passed
        # a real change (an amount) is still seen
        principal = "settlement_id = ? AND amount_type = 'ItemPrice' AND amount_description = 'Principal'"
        [(n,)] = con.execute(f"SELECT count(*) FROM raw.settlement_lines WHERE {principal}", [SID]).fetchall()
        con.execute(f"UPDATE raw.settlement_lines SET amount = amount + 1 WHERE {principal}", [SID])
        con.execute("UPDATE raw.settlement_reports SET total_amount = total_amount + ? WHERE settlement_id = ?",
                    [n, SID])
        settlements.build(con, SID)
        changed = settlements.check_not_posted_twice(con, SID)
    assert not changed.passed and "already posted with different content" in changed.description


def test_a_journal_description_is_whole_and_hashed_as_when_it_was_cut(tmp_path):
    with _built(tmp_path).read() as con:
        journals = settlements.period_journals(con, SID)
    journal = journals[0]
    assert journal.description.startswith(f"AMZ {SID} ")
    long = replace(journal, description=f"{journal.description} reissued after the account map changed")
    cut = replace(long, description=long.description[:30])  # as the domain cut it before this build
    assert settlements.journal_digest(long) == settlements.journal_digest(cut)
    assert settlements.journal_digest(long) != settlements.journal_digest(replace(long, description="AMZ other"))


def test_a_refund_note_keeps_the_reference_sage_holds_and_its_whole_description():
    """A refund's credit note reference is an identity (the posting ledger's key, looked up in Sage): an
    adjustment id too long for it keeps the 30 characters written before; the line text is whole."""
    from sage_amazon.ledger import documents
    from tests.returns.test_settlement_notes import ORDER, _settlement

    con, sid = _settlement()
    long_id = "ADJ-" + "7" * 30
    con.execute("UPDATE raw.settlement_lines SET adjustment_id = ? WHERE order_id = ? AND transaction_type = 'Refund'",
                [long_id, ORDER])
    for full in (True, False):
        [planned] = documents.plan(con, sid, "sage500", {"CA-MUG-01"}, full=full)
        assert planned.reference == planned.note.reference == f"AMZ-RF-{long_id}"[:30]
        assert {ln.description for ln in planned.note.lines} == {f"Amazon refund {ORDER}"}  # 33 characters
