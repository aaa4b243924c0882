"""The accountant's workbooks (issue 16.11): `sage-amazon cockpit export` and `sage-amazon settlement export ID
--xlsx`, read back with openpyxl as Excel would show them."""

from __future__ import annotations

from decimal import Decimal

from click.testing import CliRunner
from openpyxl import load_workbook

from sage_amazon.cli import main
from tests.cockpit.test_overview import BLOCKED, HELD, POSTED, seed_settlements


def _sheet(book, name) -> list[dict]:
    rows = list(book[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_cockpit_export_writes_the_overview_flows_and_dead_letters(warehouse, tmp_path):
    seed_settlements(warehouse)
    out = tmp_path / "exports" / "cockpit.xlsx"
    done = CliRunner().invoke(main, ["cockpit", "export", str(out)])
    assert done.exit_code == 0, done.output
    assert "Overview (4 rows)" in done.output and "Dead letters (3 rows)" in done.output
    book = load_workbook(out)
    assert book.sheetnames == ["Overview", "Flows", "Dead letters", "Reconciliation"]  # no tie-out table yet
    overview = {r["settlement_id"]: r for r in _sheet(book, "Overview")}
    assert overview[HELD]["status"] == "on hold" and overview[BLOCKED]["status"] == "blocked"
    assert overview[POSTED]["total_amount"] == 1234.56 and overview[POSTED]["sage_numbers"] == "JRN-0001"
    assert book["Overview"]["G2"].number_format == "#,##0.00"  # money shows two decimals
    assert book["Overview"].freeze_panes == "A2"
    letters = _sheet(book, "Dead letters")
    assert {(r["flow"], r["record_key"]) for r in letters} == {
        ("orders", "111-2"), ("settlement", f"{BLOCKED}:AMZ-{BLOCKED}-202611"), ("settlement", f"{HELD}:reissue")}
    flows = {r["flow"]: r for r in _sheet(book, "Flows")}
    assert flows["settlement_journal"]["posted"] == 3 and flows["orders"]["open_dead_letters"] == 1


def test_settlement_export_has_the_summary_journal_lines_and_raw_rows(warehouse, tmp_path, monkeypatch):
    seed_settlements(warehouse)
    with warehouse.write() as con:
        con.execute("CREATE TABLE raw.settlement_lines (settlement_id VARCHAR, transaction_type VARCHAR, "
                    "amount DECIMAL(18, 2))")
        con.execute("INSERT INTO raw.settlement_lines VALUES (?, 'Order', 1300.00), (?, 'Commission', -65.44), "
                    "('OTHER', 'Order', 1.00)", [POSTED, POSTED])
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(main, ["settlement", "export", POSTED, "--xlsx"])
    assert done.exit_code == 0, done.output
    book = load_workbook(tmp_path / f"settlement-{POSTED}.xlsx")
    assert book.sheetnames == ["Summary", "Journal lines", "Raw rows"]  # no trace table in this warehouse
    summary = {r["item"]: r["value"] for r in _sheet(book, "Summary")}
    assert summary["status"] == "posted" and summary["marketplace"] == "Amazon.de"
    assert Decimal(str(summary["total_amount"])) == Decimal("1234.56") and summary["variance"] == 0
    raw = _sheet(book, "Raw rows")
    assert [(r["transaction_type"], r["amount"]) for r in raw] == [("Order", 1300), ("Commission", -65.44)]
    assert len(_sheet(book, "Journal lines")) == 2


def test_an_unknown_settlement_is_one_line_not_a_workbook(warehouse, tmp_path):
    seed_settlements(warehouse)
    out = tmp_path / "x.xlsx"
    done = CliRunner().invoke(main, ["settlement", "export", "99999999999", "--xlsx", str(out)])
    assert done.exit_code == 2 and "settlement 99999999999 is not in the warehouse" in done.output
    assert not out.exists()
