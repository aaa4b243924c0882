"""The settlement's own credit notes (documents: credit_notes) under `revenue: sage_invoices` carry every refunded
amount the journal sends to receivables (principal, promotion taken back, shipping, gift wrap, tax), like the returns
flow's note of the same refund; under `revenue: settlement` the refunded principal only."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb

from sage_amazon.amazon import settlement as parser
from sage_amazon.ledger import documents

D = Decimal
FILES = Path(__file__).parents[1] / "settlements" / "files"
ORDER = "702-7777777-1111111"  # refunded 12.50 principal in ca-v1-blanks.txt


def _settlement() -> tuple[duckdb.DuckDBPyConnection, str]:
    con = duckdb.connect()
    parser.land(con, FILES / "ca-v1-blanks.txt")
    sid = con.execute("SELECT settlement_id FROM raw.settlement_reports").fetchone()[0]
    # as a US settlement (the sandboxes' customers), with shipping, tax and a promotion refunded too
    con.execute("UPDATE raw.settlement_reports SET currency = 'USD'")
    con.execute("UPDATE raw.settlement_lines SET marketplace_name = 'Amazon.com', currency = 'USD'")
    for kind, description, amount in (("ItemPrice", "Shipping", "-3.00"), ("ItemPrice", "Tax", "-1.20"),
                                      ("ItemPrice", "ShippingTax", "-0.24"), ("Promotion", "Principal", "2.00")):
        con.execute("INSERT INTO raw.settlement_lines SELECT * REPLACE (? AS amount_type, ? AS amount_description, "
                    "CAST(? AS DECIMAL(18, 2)) AS amount) FROM raw.settlement_lines WHERE order_id = ? "
                    "AND transaction_type = 'Refund' AND amount_description = 'Principal'",
                    [kind, description, amount, ORDER])
    return con, sid


def test_sage_invoices_notes_carry_every_refunded_amount() -> None:
    con, sid = _settlement()
    [planned] = documents.plan(con, sid, "sage500", {"CA-MUG-01"}, full=True)
    note = planned.note
    assert note is not None, planned.problem
    assert (note.total, note.freight, note.tax) == (D("14.94"), D("3.00"), D("1.44"))
    [line] = note.lines
    assert (line.item, line.quantity, line.net_price, line.discount) == ("CA-MUG-01", 1, D("12.50"), D("2.00"))
    assert note.original_order_ref == ORDER and note.customer == "AMZUS"


def test_settlement_revenue_notes_carry_the_principal_only() -> None:
    con, sid = _settlement()
    [planned] = documents.plan(con, sid, "sage500", {"CA-MUG-01"}, full=False)
    assert planned.note is not None and planned.note.total == D("12.50")
    assert (planned.note.freight, planned.note.tax) == (0, 0)
