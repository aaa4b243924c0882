"""The order-level tie-out shows refunds: what the settlements refunded against the refund credit notes posted to Sage
(refunded but not credited, credited for another amount, credited but not in a settlement yet), and its check fails
on a refund without its credit note when Sage's invoices carry revenue."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from sage_amazon import posting_ledger
from sage_amazon.amazon import settlement as parser
from sage_amazon.ledger import tieout
from sage_amazon.returns import credit_notes, store

D = Decimal
FILES = Path(__file__).parents[1] / "settlements" / "files"
SETTLED = "702-7777777-1111111"  # refunded 12.50 CAD in ca-v1-blanks.txt
AS_OF = date(2025, 10, 9)


def _refund_in_settlement(con: duckdb.DuckDBPyConnection, order_id: str) -> None:
    """Another order refunded the same way in the same settlement."""
    con.execute("INSERT INTO raw.settlement_lines SELECT * REPLACE (? AS order_id) FROM raw.settlement_lines "
                "WHERE order_id = ? AND transaction_type = 'Refund'", [order_id, SETTLED])


def test_refunds_against_credit_notes_per_order() -> None:
    con = duckdb.connect()
    parser.land(con, FILES / "ca-v1-blanks.txt")
    _refund_in_settlement(con, "702-0000000-0000001")  # refunded, its note failed: not credited
    _refund_in_settlement(con, "702-0000000-0000002")  # refunded 12.50, credited 12.00
    notes = [("T1", SETTLED, "-12.50", True), ("T2", "702-0000000-0000001", "-12.50", False),
             ("T3", "702-0000000-0000002", "-12.00", True), ("T4", "702-0000000-0000003", "-8.00", True)]
    _notes(con, notes)
    tie = {r["amazon_order_id"]: r for r in tieout.rows(con, AS_OF)}
    assert (tie[SETTLED]["refund_status"], tie[SETTLED]["credited_amount"]) == ("refund_matched", D("-12.50"))
    assert tie["702-0000000-0000001"]["refund_status"] == "refund_not_credited"
    assert tie["702-0000000-0000001"]["refunded_amount"] == D("-12.50")
    diff = tie["702-0000000-0000002"]
    assert (diff["refund_status"], diff["refund_difference"]) == ("refund_difference", D("-0.50"))
    only = tie["702-0000000-0000003"]  # a credit note Amazon has not refunded in any settlement
    assert (only["refund_status"], only["credited_amount"], only["settlement_ids"]) == (
        "credited_not_settled", D("-8.00"), None)
    assert tie["702-1234567-7654321"]["refund_status"] == ""  # an order without refund
    summary = tieout.summarize(list(tie.values()), AS_OF, "sage_invoices")
    assert summary.refund_counts == {"refund_matched": 1, "refund_difference": 1, "refund_not_credited": 1,
                                     "credited_not_settled": 1}
    assert summary.refund_amounts["refund_not_credited"] == D("-12.50")
    checks = {o.name: o for o in tieout.outcomes(summary)}
    assert not checks["tieout_refunds_credited"].passed and not checks["tieout_refunds_credited"].blocking
    assert checks["tieout_refunds_credited"].metadata["refunded_not_credited"] == 1
    settlement_mode = {o.name: o for o in tieout.outcomes(tieout.summarize(list(tie.values()), AS_OF,
                                                                           "settlement"))}
    assert settlement_mode["tieout_refunds_credited"].passed  # the settlement journal carries refunds there
    journal_only = {o.name: o for o in tieout.outcomes(tieout.summarize(list(tie.values()), AS_OF, "sage_invoices",
                                                                        "journal_only"))}
    assert journal_only["tieout_refunds_credited"].passed  # no refund credit notes are made in that mode
    assert tieout.build(con, AS_OF) == len(tie)
    assert con.execute(f"SELECT count(*) FROM {tieout.TABLE} WHERE refund_status = 'refund_not_credited'"
                       ).fetchone() == (1,)


def test_every_refund_credited_passes() -> None:
    con = duckdb.connect()
    parser.land(con, FILES / "ca-v1-blanks.txt")
    _notes(con, [("T1", SETTLED, "-12.00", True)])
    _notes(con, [("T1", SETTLED, "-12.00", True), ("T1b", SETTLED, "-0.50", True)])  # two partial refunds
    tie = {r["amazon_order_id"]: r for r in tieout.rows(con, AS_OF)}
    assert (tie[SETTLED]["refund_status"], tie[SETTLED]["credit_notes"]) == ("refund_matched", 2)
    checks = {o.name: o for o in tieout.outcomes(tieout.summarize(list(tie.values()), AS_OF, "sage_invoices"))}
    assert checks["tieout_refunds_credited"].passed


def test_settlement_credit_notes_count_once_beside_the_returns_flow() -> None:
    """Issue 15.4: the notes the settlement made (flow settlement_credit_note, reference AMZ-RF-<adjustment id, else
    order id>) are credited at the refund lines they came from; a note the returns flow made too (its refund id is
    the same: one reference, one document in Sage) counts once; a note Sage never confirmed does not count."""
    from sage_amazon.ledger import documents

    con = duckdb.connect()
    parser.land(con, FILES / "ca-v1-blanks.txt")
    _refund_in_settlement(con, "702-0000000-0000004")  # credited by the settlement's note only
    _refund_in_settlement(con, "702-0000000-0000005")  # its settlement note was sent, never confirmed
    posting_ledger.ensure(con)
    for order in (SETTLED, "702-0000000-0000004", "702-0000000-0000005"):
        ref = credit_notes.refund_reference(order)  # ca-v1-blanks.txt's refunds have no adjustment id
        posting_ledger.start(con, documents.FLOW, ref, "h")
        if order != "702-0000000-0000005":
            posting_ledger.posted(con, documents.FLOW, ref, f"CM-{order[-4:]}")
    _notes(con, [("T1", SETTLED, "-12.50", True)], refund_id=SETTLED)  # the returns flow's note of the same refund
    tie = {r["amazon_order_id"]: r for r in tieout.rows(con, AS_OF)}
    both = tie[SETTLED]
    assert (both["refund_status"], both["credited_amount"], both["credit_notes"]) == ("refund_matched", D("-12.50"), 1)
    only = tie["702-0000000-0000004"]
    assert (only["refund_status"], only["credited_amount"], only["credit_notes"]) == ("refund_matched", D("-12.50"), 1)
    assert tie["702-0000000-0000005"]["refund_status"] == "refund_not_credited"
    checks = {o.name: o for o in tieout.outcomes(tieout.summarize(list(tie.values()), AS_OF, "sage_invoices"))}
    assert checks["tieout_refunds_credited"].metadata["refund_matched"] == 2


def _notes(con: duckdb.DuckDBPyConnection, notes: list[tuple[str, str, str, bool]], refund_id: str | None = None
           ) -> None:
    day = date(2025, 10, 2)
    store.replace_days(con, {
        store.REFUNDS: [{"posted_date": day, "transaction_id": tid, "transaction_type": "Refund",
                         "marketplace_id": "A2EUQ1WTGCTBG2", "amazon_order_id": order_id, "currency": "CAD",
                         "total_amount": D(principal), "extracted_at": datetime(2025, 10, 3), "refund_id": refund_id}
                        for tid, order_id, principal, _ in notes],
        store.REFUND_ITEMS: [{"transaction_id": tid, "line_no": 1, "posted_date": day, "amazon_order_id": order_id,
                              "sku": "CA-MUG-01", "quantity": 1, "item_total": D(principal),
                              "principal": D(principal), **{k: D("0") for k in (
                                  "shipping", "gift_wrap", "tax", "promotion", "withheld_tax", "fees", "other")}}
                             for tid, order_id, principal, _ in notes]}, [day])
    posting_ledger.ensure(con)
    for tid, _, _, posted in notes:
        if posting_ledger.get(con, credit_notes.FLOW, tid) is None:
            posting_ledger.start(con, credit_notes.FLOW, tid, "h")
            if posted:
                posting_ledger.posted(con, credit_notes.FLOW, tid, f"CRN-{tid}")


def test_tieout_cli_shows_refunds(tmp_path: Path, monkeypatch) -> None:
    import json

    import yaml
    from click.testing import CliRunner

    from sage_amazon import config
    from sage_amazon.ledger.cli import settlement_group
    from sage_amazon.mapping import DEFAULTS_DIR
    from sage_amazon.warehouse import Warehouse

    (tmp_path / "data").mkdir()
    monkeypatch.setenv("SAGE_AMAZON_DATA_DIR", str(tmp_path / "data"))
    with Warehouse(config.load().warehouse_path).write() as con:
        parser.land(con, FILES / "ca-v1-blanks.txt")
        _refund_in_settlement(con, "702-0000000-0000001")  # refunded, never credited
        _notes(con, [("T1", SETTLED, "-12.50", True)])
    runner = CliRunner()
    doc = json.loads(runner.invoke(settlement_group, ["tieout", "--json"]).output)
    assert doc["summary"]["refund_counts"]["refund_not_credited"] == 1
    rows = {o["amazon_order_id"]: o for o in doc["orders"]}
    assert rows["702-0000000-0000001"]["refund_status"] == "refund_not_credited"
    text = runner.invoke(settlement_group, ["tieout"]).output
    assert "refund_not_credited" in text and "-12.50" in text
    data = yaml.safe_load((DEFAULTS_DIR / "accounts.yaml").read_text())
    data.update(revenue="sage_invoices", documents="credit_notes")
    (tmp_path / "map").mkdir()
    (tmp_path / "map" / "accounts.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path / "map"))
    text = runner.invoke(settlement_group, ["tieout"]).output
    assert "warn tieout_refunds_credited: 1 order(s) refunded in a settlement with no credit note" in text
