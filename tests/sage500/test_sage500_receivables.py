"""Issues 12 and 15 on Sage 500 with `revenue: sage_invoices`: the orders flow's sales orders, shipped and invoiced by
Sage (its Create / Process Invoices: a posted AR invoice per order), are cleared by the settlement that pays them.
Each order's settled amount becomes that order's AR memo, applied to its invoice; a refund's credit note made from
the settlement closes what the refund left. Settled orders' invoices end at Balance 0.00, an order settled short or
not at all keeps its open balance, the AR control account equals the open documents, the tie-out says matched /
refund_matched, and a second run posts and applies nothing. Domain level: no Dagster, no Amazon sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from sage_amazon.ledger import posting, settlements, tieout
from sage_amazon.mapping import DEFAULTS_DIR
from sage_amazon.orders import load
from sage_amazon.sage.sage500 import Sage500Target
from sage_amazon.sandbox.sage500 import SandboxDatabase, invoice_shipments, ship_order
from sage_amazon.warehouse import Warehouse
from tests.tax.handmade import sage500_sandbox

D = Decimal
SID = "93000000012"
PAID, DISCOUNTED, REFUNDED, UNSETTLED, SHORT = (f"113-0000012-00000{n:02d}" for n in range(1, 6))
# order id -> (quantity, unit price, line discount, freight): what the orders flow sends and Sage invoices
ORDERS = {
    PAID: (1, "149.99", "0", "5.99"),        # invoiced 155.98, settled 155.98 (principal + shipping)
    DISCOUNTED: (2, "24.99", "5.00", "0"),   # invoiced 44.98, settled 49.98 less a 5.00 promotion
    REFUNDED: (1, "149.99", "0", "0"),       # settled 149.99, 50.00 refunded in the same settlement
    UNSETTLED: (1, "30.00", "0", "0"),       # invoiced, not in the settlement: stays open
    SHORT: (1, "30.00", "0", "0"),           # settled 25.00: 5.00 stays open on its invoice
}
HEADER = ("settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount",
          "currency", "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id",
          "marketplace-name", "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date",
          "posted-date-time", "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku",
          "quantity-purchased", "promotion-id")
LINES = [  # transaction type, order, adjustment id, amount type, description, amount, day, quantity
    ("Order", PAID, "", "ItemPrice", "Principal", "149.99", "2026-11-22", 1),
    ("Order", PAID, "", "ItemPrice", "Shipping", "5.99", "2026-11-22", 1),
    ("Order", PAID, "", "ItemFees", "Commission", "-22.50", "2026-11-22", 1),
    ("Order", DISCOUNTED, "", "ItemPrice", "Principal", "49.98", "2026-11-22", 2),
    ("Order", DISCOUNTED, "", "Promotion", "Principal", "-5.00", "2026-11-22", 2),
    ("Order", DISCOUNTED, "", "ItemFees", "Commission", "-6.75", "2026-11-22", 2),
    ("Order", REFUNDED, "", "ItemPrice", "Principal", "149.99", "2026-11-23", 1),
    ("Order", REFUNDED, "", "ItemFees", "Commission", "-22.50", "2026-11-23", 1),
    ("Refund", REFUNDED, "93001200000001", "ItemPrice", "Principal", "-50.00", "2026-11-25", 1),
    ("Refund", REFUNDED, "93001200000001", "ItemFees", "Commission", "7.50", "2026-11-25", 1),
    ("Order", SHORT, "", "ItemPrice", "Principal", "25.00", "2026-11-24", 1),
    ("other-transaction", "", "", "other-transaction", "Subscription Fee", "-39.99", "2026-11-26", 0),
]


def _settlement_file(folder: Path, sid: str = SID, lines: list[tuple] = LINES, start: str = "2026-11-20",
                     end: str = "2026-11-27", deposit: str = "2026-11-29") -> Path:
    total = sum(D(line[5]) for line in lines)
    rows = ["\t".join(HEADER), "\t".join({
        "settlement-id": sid, "settlement-start-date": f"{start} 00:00:00 UTC",
        "settlement-end-date": f"{end} 00:00:00 UTC", "deposit-date": f"{deposit} 00:00:00 UTC",
        "total-amount": f"{total:.2f}", "currency": "USD"}.get(c, "") for c in HEADER)]
    for tt, oid, adj, at, desc, amount, day, qty in lines:
        values = {"settlement-id": sid, "transaction-type": tt, "order-id": oid, "adjustment-id": adj,
                  "marketplace-name": "Amazon.com" if oid else "", "amount-type": at, "amount-description": desc,
                  "amount": amount, "fulfillment-id": "MFN" if oid else "", "posted-date": f"{day} 00:00:00 UTC",
                  "posted-date-time": f"{day} 12:00:00 UTC", "sku": "NW-TENT-2P" if oid else "",
                  "quantity-purchased": str(qty) if oid else ""}
        rows.append("\t".join(values.get(c, "") for c in HEADER))
    path = folder / f"settlement-{sid}.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _orders_in_mart(warehouse: Warehouse, orders: dict[str, tuple] = ORDERS) -> None:
    """The orders flow's marts (the columns the load and the tie-out read), one MFN line per order."""
    with warehouse.write() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        con.execute("""CREATE TABLE marts.sage_orders (amazon_order_id VARCHAR, action VARCHAR,
                       dead_letter_reason VARCHAR, amazon_status VARCHAR, customer VARCHAR, site VARCHAR,
                       order_date DATE, purchase_date TIMESTAMP, currency VARCHAR, freight DECIMAL(18,2),
                       order_type VARCHAR, fulfillment_channel VARCHAR, partition_date DATE,
                       lines_total DECIMAL(18,2), tax DECIMAL(18,2))""")
        con.execute("""CREATE TABLE marts.sage_order_lines (amazon_order_id VARCHAR, line_no INTEGER, sku VARCHAR,
                       item VARCHAR, quantity INTEGER, gross_price DECIMAL(18,2), discount DECIMAL(18,2),
                       description VARCHAR, external_line_ref VARCHAR)""")
        for oid, (qty, price, discount, freight, *tax) in orders.items():
            tax = D(tax[0]) if tax else D("0")  # Amazon's sales tax on the order (items and shipping)
            total = qty * D(price) - D(discount) + D(freight) + tax
            con.execute("INSERT INTO marts.sage_orders VALUES (?, 'post', NULL, 'Unshipped', 'AMZUS', 'US01', ?, ?, "
                        "'USD', ?, '', 'MFN', ?, ?, ?)", [oid, date(2026, 11, 20), "2026-11-20 10:00:00", D(freight),
                                                         date(2026, 11, 20), total, tax])
            con.execute("INSERT INTO marts.sage_order_lines VALUES (?, 1, 'NW-TENT-2P', 'NW-TENT-2P', ?, ?, ?, "
                        "'Trailhead tent', ?)", [oid, qty, D(price), D(discount), f"OI-{oid}"])


@pytest.fixture(scope="module")
def sage500() -> Iterator[tuple[SandboxDatabase, Sage500Target]]:
    with sage500_sandbox() as pair:
        yield pair


@pytest.fixture
def invoice_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load((DEFAULTS_DIR / "accounts.yaml").read_text())
    data.update(revenue="sage_invoices", documents="credit_notes")
    folder = tmp_path / "mapping"
    folder.mkdir()
    (folder / "accounts.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(folder))
    monkeypatch.setenv("SAGE_AMAZON_TARGET", "sage500")


def _q(target: Sage500Target, sql: str, **params: Any) -> list[tuple]:
    with target.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params).all()]


def _balances(target: Sage500Target) -> dict[str, Decimal]:
    return dict(_q(target, "SELECT CustPONo, Balance FROM tarInvoice WHERE TranType = 501"))


def test_settled_orders_invoices_end_at_zero_and_the_rest_stays_open(sage500, invoice_mode, tmp_path) -> None:
    db, target = sage500
    warehouse = Warehouse(tmp_path / "warehouse" / "w.duckdb", lock_timeout=10.0)
    _orders_in_mart(warehouse)
    assert load.load_orders(warehouse.write, target, workers=1).posted == len(ORDERS)
    for oid in ORDERS:
        ship_order(db.engine, oid, "UPS GROUND", f"1Z{oid[-4:]}", date(2026, 11, 21))
    assert invoice_shipments(db.engine, date(2026, 11, 21)) == (len(ORDERS), 0)  # Sage's invoicing, not ours
    assert invoice_shipments(db.engine, date(2026, 11, 21)) == (0, 0)  # every shipped line is invoiced once
    assert _balances(target) == {PAID: D("155.98"), DISCOUNTED: D("44.98"), REFUNDED: D("149.99"),
                                 UNSETTLED: D("30.00"), SHORT: D("30.00")}

    with warehouse.write() as con:
        settlements.preview(_settlement_file(tmp_path), "sage500", con=con)
    report = posting.post_settlement(warehouse.write, target, SID, documents="credit_notes", target_name="sage500")
    assert report.all_posted and report.posted and len(report.credit_notes) == 1, report

    assert _balances(target) == {PAID: D("0.00"), DISCOUNTED: D("0.00"), REFUNDED: D("0.00"),
                                 UNSETTLED: D("30.00"), SHORT: D("5.00")}
    # the settlement's memos: one per order (the refunded order's net 99.99), all applied, none left open
    memos = _q(target, "SELECT CustPONo, TranType, TranAmt, Balance FROM tarInvoice WHERE TranCmnt LIKE :r "
                       "ORDER BY CustPONo", r=f"AMZ-{SID}-%")
    assert memos == [(PAID, 502, D("155.98"), D("0.00")), (DISCOUNTED, 502, D("44.98"), D("0.00")),
                     (REFUNDED, 502, D("99.99"), D("0.00")), (SHORT, 502, D("25.00"), D("0.00"))]
    note = _q(target, "SELECT CustPONo, TranAmt, Balance FROM tarInvoice WHERE TranType = 502 AND TranCmnt = "
                      "'AMZ-RF-93001200000001'")
    assert note == [(REFUNDED, D("50.00"), D("0.00"))]
    # AR control in the GL equals the open documents: nothing was applied without its posting
    gl = _q(target, "SELECT sum(t.PostAmt) FROM tglTransaction t JOIN tglAccount a ON a.GLAcctKey = t.GLAcctKey "
                    "WHERE a.GLAcctNo = '1100'")[0][0]
    open_items = _q(target, "SELECT sum(CASE TranType WHEN 502 THEN -Balance ELSE Balance END) FROM tarInvoice")[0][0]
    assert gl == open_items == D("35.00")

    with warehouse.read() as con:
        tie = {r["amazon_order_id"]: r for r in tieout.rows(con, as_of=date(2026, 11, 30))}
    assert {o: tie[o]["status"] for o in ORDERS} == {PAID: "matched", DISCOUNTED: "matched", REFUNDED: "matched",
                                                     UNSETTLED: "open", SHORT: "difference"}
    assert (tie[REFUNDED]["refund_status"], tie[REFUNDED]["credited_amount"]) == ("refund_matched", D("-50.00"))

    applications = _q(target, "SELECT count(*) FROM tarCustPmtAppl")
    documents = _q(target, "SELECT count(*) FROM tarInvoice")
    again = posting.post_settlement(warehouse.write, target, SID, documents="credit_notes", target_name="sage500")
    assert not again.posted and again.already and again.applied == 0 and again.all_posted
    assert _q(target, "SELECT count(*) FROM tarCustPmtAppl") == applications
    assert _q(target, "SELECT count(*) FROM tarInvoice") == documents


LATER, EARLY = "113-0000012-0000006", "113-0000012-0000007"


def test_a_later_refund_and_an_invoice_made_after_its_settlement_are_cleared(sage500, invoice_mode, tmp_path) -> None:
    """A refund in a later settlement is a debit memo on the order, which the refund's credit note clears; an order
    Sage invoices only after its settlement was posted keeps its payment as an open credit memo until then, and
    the next run of the settlement applies it (posting nothing)."""
    db, target = sage500
    warehouse = Warehouse(tmp_path / "warehouse" / "w.duckdb", lock_timeout=10.0)
    _orders_in_mart(warehouse, {LATER: (1, "80.00", "0", "0"), EARLY: (1, "40.00", "0", "0")})
    assert load.load_orders(warehouse.write, target, workers=1).posted == 2
    for oid in (LATER, EARLY):
        ship_order(db.engine, oid, "UPS GROUND", f"1Z{oid[-4:]}", date(2026, 11, 21))
    assert invoice_shipments(db.engine, date(2026, 11, 21), amazon_order_id=LATER) == (1, 0)  # EARLY: not yet

    first = "93000000013"
    with warehouse.write() as con:
        settlements.preview(_settlement_file(tmp_path, first, [
            ("Order", LATER, "", "ItemPrice", "Principal", "80.00", "2026-11-22", 1),
            ("Order", EARLY, "", "ItemPrice", "Principal", "40.00", "2026-11-22", 1)]), "sage500", con=con)
    assert posting.post_settlement(warehouse.write, target, first, documents="credit_notes",
                                   target_name="sage500").all_posted
    assert _balances(target)[LATER] == D("0.00") and EARLY not in _balances(target)
    waiting = _q(target, "SELECT TranType, Balance FROM tarInvoice WHERE CustPONo = :o", o=EARLY)
    assert waiting == [(502, D("40.00"))]  # paid, not invoiced yet: an open credit on the customer, visible

    assert invoice_shipments(db.engine, date(2026, 11, 28)) == (1, 0)
    again = posting.post_settlement(warehouse.write, target, first, documents="credit_notes", target_name="sage500")
    assert not again.posted and again.applied == 1
    assert _balances(target)[EARLY] == D("0.00")

    second = "93000000014"
    with warehouse.write() as con:
        settlements.preview(_settlement_file(tmp_path, second, [
            ("Refund", LATER, "93001300000001", "ItemPrice", "Principal", "-30.00", "2026-12-03", 1),
            ("other-transaction", "", "", "other-transaction", "Subscription Fee", "-39.99", "2026-12-04", 0)],
            start="2026-12-01", end="2026-12-08", deposit="2026-12-10"), "sage500", con=con)
    report = posting.post_settlement(warehouse.write, target, second, documents="credit_notes",
                                     target_name="sage500")
    assert report.all_posted and len(report.credit_notes) == 1, report
    documents = _q(target, "SELECT TranType, TranAmt, Balance FROM tarInvoice WHERE CustPONo = :o ORDER BY InvcKey",
                   o=LATER)
    # its invoice, the first settlement's payment, the refund Amazon took back (debit memo), the refund's note
    assert documents == [(501, D("80.00"), D("0.00")), (502, D("80.00"), D("0.00")), (503, D("30.00"), D("0.00")),
                         (502, D("30.00"), D("0.00"))]


REVERSED = "113-0000012-0000008"


def test_a_refund_reversed_by_a_later_charge_is_charged_back_once(sage500, invoice_mode, tmp_path) -> None:
    """Issue 15.2: a later settlement reverses a refund (the refund's transaction, now a charge): Sage 500 gets an AR
    invoice of the amount charged back (AMZ-RV-<refund>), which the settlement's credit for it clears; the order's
    documents all end at 0.00 and the tie-out nets refund and reversal. A second reversal beyond what the credit
    notes leave is a dead letter, its settlement credit left open and visible."""
    db, target = sage500
    warehouse = Warehouse(tmp_path / "warehouse" / "w.duckdb", lock_timeout=10.0)
    _orders_in_mart(warehouse, {REVERSED: (1, "60.00", "0", "0")})
    assert load.load_orders(warehouse.write, target, workers=1).posted == 1
    ship_order(db.engine, REVERSED, "UPS GROUND", "1Z0008", date(2026, 11, 21))
    assert invoice_shipments(db.engine, date(2026, 11, 21), amazon_order_id=REVERSED) == (1, 0)
    runs = [
        ("93000000015", "2026-11-20", "2026-11-27", "2026-11-29", [
            ("Order", REVERSED, "", "ItemPrice", "Principal", "60.00", "2026-11-22", 1),
            ("Refund", REVERSED, "93001500000001", "ItemPrice", "Principal", "-20.00", "2026-11-24", 1)]),
        ("93000000016", "2026-12-01", "2026-12-08", "2026-12-10", [  # Amazon charges the refund back
            ("Refund", REVERSED, "93001500000001", "ItemPrice", "Principal", "20.00", "2026-12-03", 1)]),
    ]
    for sid, start, end, deposit, lines in runs:
        with warehouse.write() as con:
            settlements.preview(_settlement_file(tmp_path, sid, lines, start, end, deposit), "sage500", con=con)
        report = posting.post_settlement(warehouse.write, target, sid, documents="credit_notes",
                                         target_name="sage500")
        assert report.all_posted and len(report.credit_notes) == 1, report
    documents = _q(target, "SELECT TranType, TranAmt, Balance, TranCmnt FROM tarInvoice WHERE CustPONo = :o "
                           "ORDER BY InvcKey", o=REVERSED)
    assert [d[:3] for d in documents] == [
        (501, D("60.00"), D("0.00")),  # Sage's invoice of the order
        (502, D("40.00"), D("0.00")),  # the first settlement: 60.00 paid, 20.00 refunded
        (502, D("20.00"), D("0.00")),  # the refund's credit note
        (502, D("20.00"), D("0.00")),  # the second settlement: the refund charged back to the customer
        (501, D("20.00"), D("0.00")),  # ... and the invoice charging it back
    ]
    assert documents[4][3] == "AMZ-RV-93001500000001"
    with warehouse.read() as con:
        [row] = [r for r in tieout.rows(con, as_of=date(2026, 12, 10)) if r["amazon_order_id"] == REVERSED]
    assert (row["status"], row["refund_status"], row["refunded_amount"], row["credited_amount"]) == (
        "matched", "refund_matched", D("0.00"), D("0.00"))

    again = posting.post_settlement(warehouse.write, target, "93000000016", documents="credit_notes",
                                    target_name="sage500")
    assert not again.posted and again.applied == 0 and again.all_posted
    assert _q(target, "SELECT count(*) FROM tarInvoice WHERE CustPONo = :o", o=REVERSED) == [(5,)]

    sid = "93000000017"  # another charge back of the same order: nothing left to reverse
    with warehouse.write() as con:
        settlements.preview(_settlement_file(tmp_path, sid, [
            ("Refund", REVERSED, "93001700000001", "ItemPrice", "Principal", "20.00", "2026-12-15", 1)],
            "2026-12-12", "2026-12-19", "2026-12-21"), "sage500", con=con)
    report = posting.post_settlement(warehouse.write, target, sid, documents="credit_notes", target_name="sage500")
    [(ref, why)] = report.dead_letters.items()
    assert ref == "AMZ-RV-93001700000001" and "leave 0.00 to reverse" in why and REVERSED in why
    assert _q(target, "SELECT TranType, Balance FROM tarInvoice WHERE CustPONo = :o AND Balance <> 0", o=REVERSED) == [
        (502, D("20.00"))]  # the settlement's credit for it: open on the customer, visible


TAXED = "113-0000012-0000009"


def test_sales_tax_amazon_charged_is_on_the_invoice_and_the_settlement_clears_it(sage500, invoice_mode,
                                                                                 tmp_path) -> None:
    """Issue 12 (tax): under `revenue: sage_invoices` the settlement clears the tax Amazon collected from
    receivables (accounts.yaml: Tax, ShippingTax), so Sage's invoice of the order carries that tax (STaxAmt, posted
    to the customer class's sales tax account). The order's invoice ends at 0.00 with no credit left on the
    customer; the marketplace facilitator tax Amazon withheld goes to its own account."""
    db, target = sage500
    warehouse = Warehouse(tmp_path / "warehouse" / "w.duckdb", lock_timeout=10.0)
    _orders_in_mart(warehouse, {TAXED: (1, "100.00", "0", "5.00", "8.66")})  # 8.25 on the item, 0.41 on shipping
    assert load.load_orders(warehouse.write, target, workers=1).posted == 1
    ship_order(db.engine, TAXED, "UPS GROUND", "1Z0009", date(2026, 11, 21))
    assert invoice_shipments(db.engine, date(2026, 11, 21), amazon_order_id=TAXED) == (1, 0)
    assert _q(target, "SELECT TranAmt, STaxAmt FROM tarInvoice WHERE CustPONo = :o AND TranType = 501", o=TAXED) == [
        (D("113.66"), D("8.66"))]
    sid = "93000000018"
    with warehouse.write() as con:
        settlements.preview(_settlement_file(tmp_path, sid, [
            ("Order", TAXED, "", "ItemPrice", "Principal", "100.00", "2026-11-22", 1),
            ("Order", TAXED, "", "ItemPrice", "Tax", "8.25", "2026-11-22", 1),
            ("Order", TAXED, "", "ItemPrice", "Shipping", "5.00", "2026-11-22", 1),
            ("Order", TAXED, "", "ItemPrice", "ShippingTax", "0.41", "2026-11-22", 1),
            ("Order", TAXED, "", "ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", "-8.25", "2026-11-22", 1),
            ("Order", TAXED, "", "ItemWithheldTax", "MarketplaceFacilitatorTax-Shipping", "-0.41", "2026-11-22", 1),
            ("Order", TAXED, "", "ItemFees", "Commission", "-15.00", "2026-11-22", 1)]), "sage500", con=con)
    assert posting.post_settlement(warehouse.write, target, sid, documents="credit_notes",
                                   target_name="sage500").all_posted
    documents = _q(target, "SELECT TranType, TranAmt, Balance FROM tarInvoice WHERE CustPONo = :o ORDER BY InvcKey",
                   o=TAXED)
    assert documents == [(501, D("113.66"), D("0.00")), (502, D("113.66"), D("0.00"))]
    with warehouse.read() as con:
        [row] = [r for r in tieout.rows(con, as_of=date(2026, 11, 30)) if r["amazon_order_id"] == TAXED]
    assert row["status"] == "matched"


WAITING = "113-0000012-0000010"


def test_an_invoice_made_after_its_settlement_is_paid_without_running_the_settlement_again(
        sage500, invoice_mode, tmp_path) -> None:
    """Issue 12 ("every receivable of an order settled by Amazon is cleared", found by tests/e2e/test_books_close.py):
    Sage invoices an order only after the settlement that paid it was posted; that settlement, fully posted, is never
    run again (the daily reconciliation and `sage-amazon run` re-run unposted settlements only), so its payment
    waited on the customer for good. apply_all_open_items, which every run does (asset settlement_open_items),
    applies each order's open credits from the connector (AMZ-...) to that order's open invoice, once."""
    db, target = sage500
    warehouse = Warehouse(tmp_path / "warehouse" / "w.duckdb", lock_timeout=10.0)
    _orders_in_mart(warehouse, {WAITING: (1, "40.00", "0", "0")})
    assert load.load_orders(warehouse.write, target, workers=1).posted == 1
    ship_order(db.engine, WAITING, "UPS GROUND", "1Z0010", date(2026, 11, 21))
    sid = "93000000019"
    with warehouse.write() as con:
        settlements.preview(_settlement_file(tmp_path, sid, [
            ("Order", WAITING, "", "ItemPrice", "Principal", "40.00", "2026-11-22", 1)]), "sage500", con=con)
    assert posting.post_settlement(warehouse.write, target, sid, documents="credit_notes",
                                   target_name="sage500").all_posted
    assert invoice_shipments(db.engine, date(2026, 11, 28), amazon_order_id=WAITING) == (1, 0)  # Sage, later
    documents = "SELECT TranType, TranAmt, Balance FROM tarInvoice WHERE CustPONo = :o ORDER BY InvcKey"
    assert _q(target, documents, o=WAITING) == [(502, D("40.00"), D("40.00")), (501, D("40.00"), D("40.00"))]

    assert target.apply_all_open_items() == 1
    assert _q(target, documents, o=WAITING) == [(502, D("40.00"), D("0.00")), (501, D("40.00"), D("0.00"))]
    assert target.apply_all_open_items() == 0
