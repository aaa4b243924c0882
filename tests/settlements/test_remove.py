"""`settlement remove`: a settlement not in Sage leaves the warehouse and the data dir (files kept aside);
one posted, or whose sending had an unknown outcome, is refused and nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from sage_amazon import deadletters, posting_ledger
from sage_amazon.ledger import intake, remove
from sage_amazon.warehouse import Warehouse

SAMPLE = Path(__file__).resolve().parent / "files" / "de-v2-local.txt"


@pytest.fixture
def landed(tmp_path):
    raw = tmp_path / "raw"
    stored = intake.store(SAMPLE, raw, origin="import")
    sid = stored.settlement_id
    warehouse = Warehouse(tmp_path / "warehouse" / "w.duckdb", snapshot_every=0)
    with warehouse.write() as con:
        con.execute("CREATE TABLE raw.settlement_reports (settlement_id VARCHAR, total DECIMAL(18,2))")
        con.execute("CREATE TABLE raw.settlement_lines (settlement_id VARCHAR, transaction_type VARCHAR, "
                    "order_id VARCHAR, adjustment_id VARCHAR)")
        con.execute("CREATE TABLE marts.journal_settlement_lines (settlement_id VARCHAR, journal_reference VARCHAR)")
        con.execute("INSERT INTO raw.settlement_reports VALUES (?, 10), ('OTHER', 5)", [sid])
        con.execute("INSERT INTO raw.settlement_lines VALUES (?, 'Refund', 'O-1', 'A-1'), (?, 'Order', 'O-2', NULL)",
                    [sid, sid])
        con.execute("INSERT INTO marts.journal_settlement_lines VALUES (?, ?)", [sid, f"AMZ-{sid}-202611"])
        posting_ledger.start(con, "settlement_journal", f"AMZ-{sid}-202611", "h")
        posting_ledger.failed(con, "settlement_journal", f"AMZ-{sid}-202611", "closed period")
        deadletters.record(con, "settlement", f"{sid}:AMZ-{sid}-202611", "closed period", {})
    return warehouse, raw, sid


def test_a_settlement_not_in_sage_is_removed_and_its_files_kept_aside(landed):
    warehouse, raw, sid = landed
    removal = remove.remove(warehouse, raw, sid)
    assert removal.rows == {'"marts"."journal_settlement_lines"': 1, '"raw"."settlement_lines"': 2,
                            '"raw"."settlement_reports"': 1}
    assert removal.ledger_entries == 1 and removal.dead_letters == 1
    assert intake.find_file(raw, sid) is None and removal.moved_to is not None
    assert sorted(p.suffix for p in removal.moved_to.iterdir()) == [".json", ".txt"]
    with warehouse.read() as con:
        assert con.execute("SELECT settlement_id FROM raw.settlement_reports").fetchall() == [("OTHER",)]
        assert con.execute("SELECT count(*) FROM ops.posting_ledger").fetchone()[0] == 0
        assert con.execute("SELECT status FROM ops.dead_letters").fetchall() == [("resolved",)]
    # it can be imported again afterwards
    assert not intake.store(SAMPLE, raw, origin="import").kept_existing
    with pytest.raises(remove.UnknownSettlement):
        remove.remove(warehouse, raw, "NO-SUCH-ID")


@pytest.mark.parametrize("status", ["posted", "sending"])
def test_a_settlement_in_sage_or_maybe_in_sage_is_refused(landed, status):
    warehouse, raw, sid = landed
    with warehouse.write() as con:
        posting_ledger.start(con, "settlement_credit_note", "AMZ-RF-A-1", "h")  # the refund's credit note
        if status == "posted":
            posting_ledger.posted(con, "settlement_credit_note", "AMZ-RF-A-1", "SIH-0042")
    with pytest.raises(remove.AlreadyPosted, match="AMZ-RF-A-1") as refused:
        remove.remove(warehouse, raw, sid)
    assert ("SIH-0042" in str(refused.value)) == (status == "posted")
    assert intake.find_file(raw, sid) is not None
    with warehouse.read() as con:
        assert con.execute("SELECT count(*) FROM raw.settlement_lines").fetchone()[0] == 2


def test_a_refund_note_posted_under_a_cut_reference_still_blocks_the_removal(landed):
    warehouse, raw, sid = landed
    long_id = "A-" + "1" * 40
    written = f"AMZ-RF-{long_id}"[:30]  # the reference (and ledger key) the note was written with
    with warehouse.write() as con:
        con.execute("UPDATE raw.settlement_lines SET adjustment_id = ? WHERE adjustment_id = 'A-1'", [long_id])
        posting_ledger.start(con, "settlement_credit_note", written, "h")
        posting_ledger.posted(con, "settlement_credit_note", written, "SIH-0043")
    with pytest.raises(remove.AlreadyPosted, match="SIH-0043"):
        remove.remove(warehouse, raw, sid)
