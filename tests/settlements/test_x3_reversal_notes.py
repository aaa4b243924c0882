"""Issue 15.2 on Sage X3 through the settlement's documents (`revenue: sage_invoices`, `documents: credit_notes`): a
later settlement reverses a refund (the refund's transaction, now a charge); X3 gets an SIH sales invoice (INV) of the
amount charged back, `AMZ-RV-<refund>`, once, linked to the order but naming no origin invoice, while the refund's
credit memo keeps naming the invoice X3 made for the order. A second reversal beyond what the order's credit notes
leave is a dead letter. Domain level: the X3 sandbox on a free port, no Dagster, no Amazon sandbox."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from sage_amazon.ledger import posting, settlements, tieout
from sage_amazon.sage.protocol import SalesOrder, SalesOrderLine
from sage_amazon.warehouse import Warehouse
from tests.sage500.test_sage500_receivables import _settlement_file, invoice_mode  # noqa: F401
from tests.sage_x3.test_journals import _sage_invoices_the_order
from tests.tax.handmade import x3_sandbox

D = Decimal
REVERSED = "113-0000015-0000008"
REFUND = "93001500000001"
# accounts.yaml with revenue: sage_invoices and documents: credit_notes (the Sage 500 receivables tests' fixture)
pytestmark = pytest.mark.usefixtures("invoice_mode")


def _post(warehouse: Warehouse, target, tmp_path: Path, sid: str, dates: tuple[str, str, str],
          lines: list[tuple]) -> posting.PostingReport:
    with warehouse.write() as con:
        settlements.preview(_settlement_file(tmp_path, sid, lines, *dates), "x3", con=con)
    return posting.post_settlement(warehouse.write, target, sid, documents="credit_notes", target_name="x3")


def test_a_refund_reversed_by_a_later_charge_is_an_x3_invoice_made_once(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SAGE_AMAZON_TARGET", "x3")
    warehouse = Warehouse(tmp_path / "warehouse" / "w.duckdb", lock_timeout=10.0)
    with x3_sandbox(tmp_path / "x3") as (x3, target):
        try:
            order = target.create_sales_order(SalesOrder(
                REVERSED, "AMZUS", "US01", date(2026, 11, 20), "USD",
                (SalesOrderLine(1, "NW-TENT-2P", D("1"), D("60.00")),))).sage_number
            invoice = _sage_invoices_the_order(x3, REVERSED, order)
            first = _post(warehouse, target, tmp_path, "93000000015", ("2026-11-20", "2026-11-27", "2026-11-29"), [
                ("Order", REVERSED, "", "ItemPrice", "Principal", "60.00", "2026-11-22", 1),
                ("Refund", REVERSED, REFUND, "ItemPrice", "Principal", "-20.00", "2026-11-24", 1)])
            assert first.all_posted and list(first.credit_notes) == [f"AMZ-RF-{REFUND}"], first
            # Amazon charges the refund back in a later settlement
            dates = ("2026-12-01", "2026-12-08", "2026-12-10")
            charge = [("Refund", REVERSED, REFUND, "ItemPrice", "Principal", "20.00", "2026-12-03", 1)]
            second = _post(warehouse, target, tmp_path, "93000000016", dates, charge)
            assert second.all_posted and list(second.credit_notes) == [f"AMZ-RV-{REFUND}"], second

            documents = x3.rows("SINVOICE", YAMZORDREF=REVERSED)
            assert [(d["SIVTYP_0"], d["INVREF_0"], d["AMTATI_0"]) for d in documents] == [
                ("INV", "", D("60.00")),                     # X3's invoice of the order
                ("CRN", f"AMZ-RF-{REFUND}", D("20.00")),      # the refund's credit memo
                ("INV", f"AMZ-RV-{REFUND}", D("20.00")),      # the refund charged back
            ]
            [credit_line] = x3.rows("SINVOICED", NUM=documents[1]["NUM_0"])
            [debit_line] = x3.rows("SINVOICED", NUM=documents[2]["NUM_0"])
            assert (credit_line["SOHNUM_0"], credit_line["SIHORINUM_0"]) == (order, invoice)
            assert (debit_line["SOHNUM_0"], debit_line["SIHORINUM_0"]) == (order, "")
            with warehouse.read() as con:
                [row] = [r for r in tieout.rows(con, as_of=date(2026, 12, 10)) if r["amazon_order_id"] == REVERSED]
            assert (row["refund_status"], row["refunded_amount"], row["credited_amount"]) == (
                "refund_matched", D("0.00"), D("0.00"))

            again = _post(warehouse, target, tmp_path, "93000000016", dates, charge)
            assert not again.posted and again.all_posted
            assert len(x3.rows("SINVOICE", YAMZORDREF=REVERSED)) == 3

            # another charge back of the same order: nothing left to reverse
            third = _post(warehouse, target, tmp_path, "93000000017", ("2026-12-12", "2026-12-19", "2026-12-21"), [
                ("Refund", REVERSED, "93001700000001", "ItemPrice", "Principal", "20.00", "2026-12-15", 1)])
            [(ref, why)] = third.dead_letters.items()
            assert ref == "AMZ-RV-93001700000001" and "leave 0.00 to reverse" in why and REVERSED in why
            assert len(x3.rows("SINVOICE", YAMZORDREF=REVERSED)) == 3
        finally:
            target.close()


def test_principal_only_notes_charge_a_reversal_back_under_its_own_reference(tmp_path, monkeypatch) -> None:
    """`revenue: settlement` with `documents: credit_notes`: the notes carry the refunded principal only (what the
    journal sends to receivables). A later charge of the same refund is a debit note AMZ-RV-<refund> of that
    principal, not the refund's credit note counted as already posted (the charge left in receivables, lost)."""
    import yaml

    from sage_amazon.mapping import DEFAULTS_DIR

    data = yaml.safe_load((DEFAULTS_DIR / "accounts.yaml").read_text())
    data.update(revenue="settlement", documents="credit_notes")
    (tmp_path / "settlement-mapping").mkdir()
    (tmp_path / "settlement-mapping" / "accounts.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path / "settlement-mapping"))
    monkeypatch.setenv("SAGE_AMAZON_TARGET", "x3")
    order_id = "113-0000015-0000009"
    warehouse = Warehouse(tmp_path / "warehouse" / "w.duckdb", lock_timeout=10.0)
    with x3_sandbox(tmp_path / "x3") as (x3, target):
        try:
            first = _post(warehouse, target, tmp_path, "93000000018", ("2026-11-20", "2026-11-27", "2026-11-29"), [
                ("Order", order_id, "", "ItemPrice", "Principal", "60.00", "2026-11-22", 1),
                ("Refund", order_id, REFUND, "ItemPrice", "Principal", "-20.00", "2026-11-24", 1)])
            assert first.all_posted and list(first.credit_notes) == [f"AMZ-RF-{REFUND}"], first
            dates = ("2026-12-01", "2026-12-08", "2026-12-10")
            charge = [("Refund", order_id, REFUND, "ItemPrice", "Principal", "20.00", "2026-12-03", 1)]
            second = _post(warehouse, target, tmp_path, "93000000019", dates, charge)
            assert second.all_posted and list(second.credit_notes) == [f"AMZ-RV-{REFUND}"], second
            documents = x3.rows("SINVOICE", YAMZORDREF=order_id)
            assert [(d["SIVTYP_0"], d["INVREF_0"], d["AMTATI_0"]) for d in documents] == [
                ("CRN", f"AMZ-RF-{REFUND}", D("20.00")), ("INV", f"AMZ-RV-{REFUND}", D("20.00"))]
            again = _post(warehouse, target, tmp_path, "93000000019", dates, charge)
            assert not again.posted and again.all_posted and len(x3.rows("SINVOICE", YAMZORDREF=order_id)) == 2
        finally:
            target.close()
