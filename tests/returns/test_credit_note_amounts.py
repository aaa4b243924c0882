"""A refund's credit note equals what Amazon refunded to the cent (principal, promotion taken back, shipping, gift
wrap, tax), is linked to the order's sales order and invoice in Sage, and reaches Sage through its real write path:
X3 SIH save, Sage 500 AR import (StgARInvoice -> spARapiInvoiceIns, posted to the GL). Refunds are written straight
into the warehouse's raw tables (no Amazon sandbox needed); each test runs on both ERPs' sandboxes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from sage_amazon.returns import credit_notes, store
from sage_amazon.sage.protocol import SalesOrder, SalesOrderLine

US = "ATVPDKIKX0DER"
GB = "A1F83G8C2ARO7P"
DAY = date(2026, 11, 12)
CLOSED_DAY = date(2025, 6, 15)  # both sandboxes close 2025-06
EXTRACTED = datetime(2026, 11, 20, 12, 0)
D = Decimal


def _refund(tid: str, order: str, mp: str, currency: str, items: list[dict], day: date = DAY,
            ttype: str = "Refund") -> tuple[dict, list[dict]]:
    total = sum((D(i.get(k, "0")) for i in items for k in ("principal", "shipping", "gift_wrap", "tax", "promotion")),
                D("0"))
    head = {"posted_date": day, "posted_at": datetime(day.year, day.month, day.day, 10), "transaction_id": tid,
            "transaction_type": ttype, "marketplace_id": mp, "amazon_order_id": order, "refund_id": f"R{tid}{TAG[0]}",
            "currency": currency, "total_amount": total, "extracted_at": EXTRACTED}
    rows = [{"transaction_id": tid, "line_no": n, "posted_date": day, "amazon_order_id": order, "marketplace_id": mp,
             "sku": i["sku"], "quantity": i.get("qty", 1), "currency": currency,
             "item_total": sum((D(i.get(k, "0")) for k in ("principal", "shipping", "gift_wrap", "tax", "promotion")),
                               D("0")),
             **{k: D(i.get(k, "0")) for k in ("principal", "shipping", "gift_wrap", "tax", "promotion",
                                               "withheld_tax", "fees", "other")}}
            for n, i in enumerate(items, 1)]
    return head, rows


def refunds() -> list[tuple[dict, list[dict]]]:
    return [
        # full refund: 2 units, promotion taken back, shipping, gift wrap and tax refunded
        _refund("T-FULL", "111-0000001-0000001", US, "USD", [
            {"sku": "NW-LAMP-300", "qty": 2, "principal": "-39.98", "promotion": "4.00", "shipping": "-5.99",
             "gift_wrap": "-2.99", "tax": "-3.12"}]),
        # partial refund of one SKU of a two-SKU order, odd amount (not divisible by the quantity)
        _refund("T-PART", "111-0000002-0000002", US, "USD", [
            {"sku": "NW-STOVE-CMP", "qty": 3, "principal": "-50.00", "tax": "-4.13"}]),
        # shipping and its tax refunded alone (no principal): the SKU's line at no price
        _refund("T-SHIP", "111-0000003-0000003", US, "USD", [
            {"sku": "NW-PAD-UL", "qty": 1, "shipping": "-7.49", "tax": "-0.62"}]),
        # a GBP refund whose promotion exceeds the principal refunded: the excess comes off the freight
        _refund("T-GBP", "202-0000004-0000004", GB, "GBP", [
            {"sku": "NW-LAMP-300", "qty": 1, "principal": "-5.00", "promotion": "6.00", "shipping": "-4.99",
             "tax": "-0.80"}]),
        # a refund in a closed period: Sage refuses it, a dead letter names why
        _refund("T-CLOSED", "111-0000005-0000005", US, "USD", [
            {"sku": "NW-LAMP-300", "qty": 1, "principal": "-19.99"}], day=CLOSED_DAY),
    ]
DAYS = [DAY, CLOSED_DAY]
TAG = [""]  # per test: the X3 sandbox lives for the session, each test's notes get their own references


def ref(tid: str) -> str:
    return f"AMZ-RF-R{tid}{TAG[0]}"


@pytest.fixture
def warehouse(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    import hashlib

    from resources.warehouse import WarehouseResource

    TAG[0] = "-" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:4]

    wh = WarehouseResource(path=str(tmp_path / "warehouse.duckdb"), lock_timeout_seconds=30)
    with wh.write() as con:
        made = refunds()
        store.replace_days(con, {store.REFUNDS: [h for h, _ in made],
                                 store.REFUND_ITEMS: [r for _, rows in made for r in rows]}, DAYS)
    return wh


def _note(target: Any, reference: str) -> dict[str, Any]:
    """The credit note as Sage holds it: total, freight, tax, discount, lines and its link to the order."""
    if target.name == "x3":
        [head] = target.sandbox.rows("SINVOICE", INVREF=reference)
        lines = target.sandbox.rows("SINVOICED", NUM=head["NUM_0"])
        return {"number": head["NUM_0"], "total": head["AMTATI_0"], "type": head["SIVTYP_0"],
                "freight": head["INVDTAAMT_0"], "tax": head["INVDTAAMT_2"],
                "order": lines[0]["SOHNUM_0"], "invoice": lines[0]["SIHORINUM_0"], "lines": len(lines),
                "discount": sum((ln["QTY_0"] * ln["DISCRGVAL_0"] for ln in lines), D("0"))}
    with target._tx() as conn:
        row = conn.execute(text(
            "SELECT i.TranNo, i.TranAmt, i.FreightAmt, i.STaxAmt, i.TradeDiscAmt, i.Balance, a.TranNo, so.TranNo, "
            "i.BatchKey, (SELECT count(*) FROM tarInvoiceDetl d WHERE d.InvcKey = i.InvcKey) FROM tarInvoice i "
            "LEFT JOIN tarInvoice a ON a.InvcKey = i.ApplyToInvcKey LEFT JOIN tsoSalesOrder so ON so.SOKey = i.SOKey "
            "WHERE i.TranType = 502 AND i.TranCmnt = :r"), {"r": reference}).one()
        gl = conn.execute(text("SELECT coalesce(sum(PostAmt), 0), count(*) FROM tglTransaction "
                               "WHERE BatchKey = :b AND TranType = 502"), {"b": row[8]}).one()
    return {"number": row[0], "total": row[1], "freight": row[2], "tax": row[3], "discount": row[4],
            "balance": row[5], "invoice": row[6] or "", "order": row[7] or "", "gl_sum": gl[0], "gl_rows": gl[1],
            "lines": row[9]}


def _ledger(wh: Any) -> tuple[dict[str, str], dict[str, str]]:
    with wh.read() as con:
        posted = dict(con.execute("SELECT record_key, status FROM ops.posting_ledger WHERE flow = ?",
                                  [credit_notes.FLOW]).fetchall())
        letters = dict(con.execute("SELECT record_key, reason FROM ops.dead_letters WHERE flow = ? AND status = 'open'",
                                   [credit_notes.FLOW]).fetchall())
    return posted, letters


def test_each_note_equals_the_refund_to_the_cent(warehouse: Any, target: Any) -> None:
    result = credit_notes.create(warehouse.write, target, DAYS, revenue="sage_invoices", documents="credit_notes")
    posted, letters = _ledger(warehouse)
    assert result.counts["posted"] == 4 and set(posted) >= {"T-FULL", "T-PART", "T-SHIP", "T-GBP"}
    expected = {"T-FULL": D("48.08"), "T-PART": D("54.13"), "T-SHIP": D("8.11"), "T-GBP": D("4.79")}
    for tid, amount in expected.items():
        note = _note(target, ref(tid))
        assert note["total"] == amount, (tid, note)
        assert note["lines"] == 1
    full = _note(target, ref("T-FULL"))
    assert (full["freight"], full["tax"], full["discount"]) == (D("8.98"), D("3.12"), D("4.00"))
    gbp = _note(target, ref("T-GBP"))
    assert (gbp["freight"], gbp["tax"], gbp["discount"]) == (D("3.99"), D("0.80"), D("5.00"))
    if target.name == "sage500":  # posted through the AR import: in the GL, AR credited the note's amount
        assert full["gl_rows"] == 4 and full["gl_sum"] == 0
    # a refund Sage cannot take (closed period) is a dead letter with Sage's reason, nothing half-written
    assert "T-CLOSED" not in posted or posted["T-CLOSED"] != "posted"
    assert "closed" in letters["T-CLOSED"].lower()
    again = credit_notes.create(warehouse.write, target, DAYS, revenue="sage_invoices", documents="credit_notes")
    assert again.counts["posted"] == 0 and again.counts["already_posted"] == 4


def test_note_is_linked_to_the_order_and_applied_to_its_invoice(warehouse: Any, target: Any) -> None:
    order_id = "111-0000001-0000001"
    made = target.create_sales_order(SalesOrder(
        customer_order_ref=order_id, customer="AMZUS", site="US01", order_date=date(2026, 11, 2), currency="USD",
        lines=(SalesOrderLine(line_no=1, item="NW-HL300" if target.name == "x3" else "NW-LAMP-300",  # X3's code
                              quantity=D("2"), gross_price=D("19.99")),)))
    invoice = _invoice(target, order_id, made.sage_number)
    result = credit_notes.create(warehouse.write, target, [DAY], revenue="sage_invoices", documents="credit_notes")
    assert result.counts["posted"] == 4
    note = _note(target, ref("T-FULL"))
    assert note["order"] == made.sage_number and note["invoice"] == invoice
    if target.name == "sage500":
        assert note["balance"] == 0  # applied in full to the invoice, whose balance fell by the note's amount
        with target._tx() as conn:
            left = conn.execute(text("SELECT Balance FROM tarInvoice WHERE TranType = 501 AND TranNo = :t"),
                                {"t": invoice}).scalar_one()
        assert left == D("60.00") - D("48.08")
    other = _note(target, ref("T-PART"))  # an order Sage does not know: a note all the same, unlinked
    assert other["total"] == D("54.13") and other["invoice"] == ""


def _invoice(target: Any, order_id: str, sales_order: str) -> str:
    """What Sage's own invoicing does for a shipped order (sandbox side, not the connector): an AR invoice. On X3
    numbered outside the series the sandbox gives SIH saves (INV<site><yy>...): the connector's debit notes, saved
    in the same session sandbox, take those numbers."""
    if target.name == "x3":
        from sqlalchemy import insert

        from sage_amazon.sandbox.x3 import tables

        with target.sandbox.engine.begin() as conn:
            conn.execute(insert(tables.SINVOICE).values(
                NUM_0="SIVUS0126000001", SIVTYP_0="INV", INVTYP_0=1, SNS_0=1, SALFCY_0="US01", INVREF_0="",
                INVDAT_0=date(2026, 11, 3), ACCDAT_0=date(2026, 11, 3), BPCINV_0="AMZUS", BPCORD_0="AMZUS",
                CUR_0="USD", AMTNOT_0=D("56.88"), AMTATI_0=D("60.00"), YAMZORDREF_0=order_id, STA_0=3))
        return "SIVUS0126000001"
    with target._tx() as conn:
        conn.execute(text(
            "INSERT INTO StgARInvoice (SessionKey, TranNo, TranType, CustID, CurrID, TranDate, CustPONo, TranCmnt, "
            "SOTranNo, FreightAmt, STaxAmt, TranAmt) VALUES (99001, 'INV0000001', 'Invoice', 'AMZUS', 'USD', "
            "'2026-11-03', :o, 'Sage invoice', :so, 16.90, 3.12, 60.00)"), {"o": order_id, "so": sales_order})
        conn.execute(text(
            "INSERT INTO StgARInvoiceLine (SessionKey, TranNo, SeqNo, ItemID, Qty, UnitPrice, TradeDiscAmt, ExtAmt) "
            "VALUES (99001, 'INV0000001', 1, 'NW-LAMP-300', 2, 19.99, 0, 39.98)"))
        out = conn.execute(text("CALL spARapiInvoiceIns(0, 99001, 'NWD', 3, 0, 1, NULL, NULL, NULL, NULL, NULL)")
                           ).one()
        assert out[-1] == 1, conn.execute(text("SELECT Comment FROM tdmMigrationLogWrk WHERE SessionKey = 99001")
                                          ).all()
    return "INV0000001"
