"""Issue 12 as it is judged: "Both flows together on the sandbox seller: revenue per month in Sage equals the seller's
sales once; every receivable of an order settled by Amazon is cleared; clearing is 0.00 after each deposit in both
currencies." From the outside, on X3 and on Sage 500 at once, under a partner's accounts.yaml with
`revenue: sage_invoices` and `documents: credit_notes` (the shipped defaults otherwise):

1. `sandbox up` with just enough Amazon history that every marketplace has closed a settlement covering the run's
   days, then `sage-amazon run` over two or three of those days: sales orders, their FBA deliveries, the
   settlements' journals and credit notes;
2. the seller's staff in Sage: the shipping clerk ships the merchant-fulfilled orders Amazon shows shipped (the
   sandbox ships them itself, standing for the seller's warehouse), Sage invoices every delivered order on its
   delivery date (X3: sage_amazon/sandbox/x3/invoicing.py, Sage 500: Create / Process Invoices);
3. the next `sage-amazon run` of the same days, as the seller's daily run would;
4. Sage's own tables (GL, customer documents) against what the Amazon sandbox says the seller sold and was paid.

Slow (two sandbox stacks, four runs), so not part of `make test`: `make test-books` (SAGE_AMAZON_BOOKS_TEST=1).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
import yaml

from sage_amazon.mapping import DEFAULTS_DIR
from sage_amazon.sandbox.amazon.seller import SETTLEMENT_DAYS, settlement_period
from sage_amazon.sandbox.seller_catalog import DEFAULT_MARKETPLACE_IDS
from tests import postgres as pg_server
from tests.e2e.conftest import running_stack

pytestmark = pytest.mark.timeout(2400)

D = Decimal
ZERO = Decimal("0.00")
CUSTOMERS = ("AMZUS", "AMZGB", "AMZDE")  # the marketplaces' Sage customers (marketplaces.yaml, both targets)
# the Sage 500 clerk's ship method per marketplace (the Amazon customers' defaults in the Sage 500 sandbox)
SHIP_METHODS = {
    "ATVPDKIKX0DER": "USPS PRIORITY",
    "A1F83G8C2ARO7P": "ROYAL MAIL 48",
    "A1PA6795UKMFR9": "DHL PAKET",
}
SALES, FREIGHT, CLEARING, RECEIVABLES = "4000", "4010", "1210", "1100"


def _period() -> tuple[date, date, int]:
    """(first day, last day, history days): days inside the last closed settlement of every marketplace of the
    sandbox seller (its cycles, 14 days staggered per marketplace, are the Amazon sandbox's), ending two days
    before the first of those settlements closed so that most orders of the days shipped into it; and the days of
    history `sandbox up` needs to have closed all of them, plus one (the first, partial cycle is never published:
    its money moves into the next). Computed from the machine clock the sandboxes run on."""
    now = datetime.now(UTC)  # clock-ok
    span = timedelta(days=SETTLEMENT_DAYS)
    closed = [
        (start - span, start) for start, _ in (settlement_period(mp, now) for mp in DEFAULT_MARKETPLACE_IDS)
    ]
    last = min(end for _, end in closed).date() - timedelta(days=2)
    first = max(max(start for start, _ in closed).date(), last - timedelta(days=2))
    history = (now.date() - min(start for start, _ in closed).date()).days + 1
    assert first <= last, closed  # the cycles' stagger leaves 4 days or more in common
    return first, last, history


@dataclass
class Seller:
    """What the Amazon sandbox says: orders (sales, freight, tax, ship date) and the closed settlements' money."""

    orders: dict[str, dict] = field(default_factory=dict)
    # id -> currency, total, what it paid on orders (ItemPrice and Promotion lines, refunds included) and, per
    # order, the same of its Order transactions
    settlements: dict[str, dict] = field(default_factory=dict)

    def settled(self, settlement_ids) -> dict[str, Decimal]:
        """Order -> what these settlements paid for it (its Order transactions' ItemPrice and Promotion lines)."""
        out: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for sid in settlement_ids:
            for order, amount in self.settlements[sid]["orders"].items():
                out[order] += amount
        return dict(out)


def _seller(stack) -> Seller:
    seller = Seller()
    docs: dict[str, dict[str, dict]] = defaultdict(dict)
    for state in (stack.data_dir / "sandbox").rglob("state.sqlite"):
        con = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
        try:
            for kind, doc_id, data in con.execute(
                "SELECT kind, id, data FROM docs WHERE kind IN ('orders', 'events', 'settlements')"
            ):
                docs[kind][doc_id] = json.loads(data)
        finally:
            con.close()
    for oid, order in docs["orders"].items():
        items = order["items"]
        shipped = (order.get("shipment") or {}).get("date")
        seller.orders[oid] = {
            "marketplace": order["marketplace_id"],
            "currency": order["currency"],
            "channel": order["channel"],
            "status": order["status"],
            "tracking": order["shipment_template"]["tracking"],
            "shipped": datetime.fromisoformat(shipped.replace("Z", "+00:00")).date() if shipped else None,
            "sales": sum((D(it["item_price"]) - D(it["promo"]) for it in items), ZERO),
            "freight": sum((D(it["shipping"]) + D(it["gift_wrap"]) for it in items), ZERO),
            "tax": sum(
                (D(it["item_tax"]) + D(it["shipping_tax"]) + D(it["gift_wrap_tax"]) for it in items), ZERO
            ),
        }
    for sid, doc in docs["settlements"].items():
        receivable, orders = ZERO, defaultdict(lambda: ZERO)
        for event_id in doc["event_ids"]:
            event = docs["events"][event_id]
            amount = sum(
                (D(ln["amount"]) for ln in event["lines"] if ln["amount_type"] in ("ItemPrice", "Promotion")),
                ZERO,
            )
            receivable += amount
            if event["kind"] == "Order" and event.get("order_id"):
                orders[event["order_id"]] += amount
        seller.settlements[sid] = {
            "currency": doc["currency"],
            "total": D(doc["total"]),
            "receivable": receivable,
            "orders": dict(orders),
        }
    return seller


@dataclass
class Books:
    """Sage's own tables after the runs: GL movements and the customer documents of the Amazon orders."""

    orders: set[str]  # Amazon orders with a sales order in Sage
    invoices: dict[
        str, dict
    ]  # order -> Sage's invoice of it: date, total, sales, freight, open balance (Sage 500)
    gl: list[tuple]  # (account, month, currency, amount, ledger amount, settlement id or "") signed debit +


def _x3_books(stack) -> Books:
    from sage_amazon.sandbox.x3 import tables as t

    engine = sa.create_engine(f"sqlite:///{stack.data_dir / 'sandbox' / 'x3.sqlite'}")
    try:
        with engine.connect() as conn:
            orders = {
                r[0]
                for r in conn.execute(
                    sa.select(t.SORDER.c.CUSORDREF_0).where(t.SORDER.c.BPCORD_0.in_(CUSTOMERS))
                )
            }
            invoices = {
                r.YAMZORDREF_0: {
                    "date": r.INVDAT_0,
                    "total": r.AMTATI_0,
                    "sales": r.AMTNOT_0 - r.INVDTAAMT_0,
                    "freight": r.INVDTAAMT_0,
                    "balance": None,
                    "currency": r.CUR_0,
                }
                for r in conn.execute(
                    sa.select(t.SINVOICE).where(  # X3's own invoices: no INVREF
                        t.SINVOICE.c.SIVTYP_0 == "INV",
                        t.SINVOICE.c.INVREF_0 == "",
                        t.SINVOICE.c.BPCINV_0.in_(CUSTOMERS),
                    )
                )
            }
            gl = [
                (
                    r.ACC_0,
                    r.ACCDAT_0.strftime("%Y-%m"),
                    r.CUR_0,
                    r.SNS_0 * r.AMTCUR_0,
                    r.SNS_0 * r.AMTLED_0,
                    r.REF_0.split("-")[1] if r.REF_0.startswith("AMZ-") else "",
                )
                for r in conn.execute(
                    sa.select(t.GACCENTRYD, t.GACCENTRY.c.REF_0).join(
                        t.GACCENTRY,
                        sa.and_(
                            t.GACCENTRY.c.TYP_0 == t.GACCENTRYD.c.TYP_0,
                            t.GACCENTRY.c.NUM_0 == t.GACCENTRYD.c.NUM_0,
                        ),
                    )
                )
            ]
    finally:
        engine.dispose()
    return Books(orders, invoices, gl)


def _sage500_books(stack) -> Books:
    engine = sa.create_engine(stack.env["SAGE500_DB_URL"])
    try:
        with engine.connect() as conn:
            orders = {
                r[0]
                for r in conn.execute(
                    sa.text(
                        "SELECT s.CustPONo FROM tsoSalesOrder s JOIN tarCustomer c ON c.CustKey = s.CustKey "
                        "WHERE s.TranType = 801 AND c.CustID IN :c"
                    ).bindparams(sa.bindparam("c", expanding=True)),
                    {"c": list(CUSTOMERS)},
                )
            }
            invoices = {
                r.custpono: {
                    "date": r.trandate,
                    "total": r.tranamt,
                    "sales": r.salesamt,
                    "freight": r.freightamt,
                    "balance": r.balance,
                    "currency": r.currid,
                }
                for r in conn.execute(
                    sa.text(
                        "SELECT i.CustPONo, i.TranDate, i.TranAmt, i.SalesAmt, i.FreightAmt, i.Balance, i.CurrID "
                        "FROM tarInvoice i JOIN tarCustomer c ON c.CustKey = i.CustKey "
                        "WHERE i.TranType = 501 AND i.SOKey IS NOT NULL AND c.CustID IN :c"
                    ).bindparams(sa.bindparam("c", expanding=True)),
                    {"c": list(CUSTOMERS)},
                )
            }
            gl = [
                (
                    acc,
                    day.strftime("%Y-%m"),
                    cur,
                    D(amount),
                    D(home),
                    cmnt.split(" ")[0].split("-")[1]
                    if (cmnt or "").startswith("AMZ-") and cmnt[4].isdigit()
                    else "",
                )
                for acc, day, cur, amount, home, cmnt in conn.execute(
                    sa.text(
                        "SELECT a.GLAcctNo, t.PostDate, t.CurrID, t.PostAmt, t.PostAmtHC, t.ExtCmnt FROM tglTransaction t "
                        "JOIN tglAccount a ON a.GLAcctKey = t.GLAcctKey"
                    )
                )
            ]
    finally:
        engine.dispose()
    return Books(orders, invoices, gl)


def _books(stack) -> Books:
    return _x3_books(stack) if stack.target == "x3" else _sage500_books(stack)


def _staff_ships_and_invoices(stack, seller: Seller, orders: set[str]) -> None:
    """The seller's staff in Sage: the merchant-fulfilled orders Amazon shows shipped are shipped in Sage on that day;
    then Sage invoices every delivered Amazon order on its delivery date (never the web shop's orders)."""
    mfn = {
        oid: seller.orders[oid]
        for oid in orders
        if seller.orders[oid]["channel"] == "MFN" and seller.orders[oid]["shipped"]
    }
    if stack.target == "x3":
        from sage_amazon.sandbox.x3.invoicing import deliver_order, invoice_deliveries

        engine = sa.create_engine(f"sqlite:///{stack.data_dir / 'sandbox' / 'x3.sqlite'}")
        try:
            for oid, order in sorted(mfn.items()):
                deliver_order(engine, oid, order["shipped"])
            for customer in CUSTOMERS:
                invoice_deliveries(engine, customer=customer)
        finally:
            engine.dispose()
        return
    from sage_amazon.sandbox.sage500 import invoice_shipments, ship_order

    engine = sa.create_engine(stack.env["SAGE500_DB_URL"])
    try:
        with engine.connect() as conn:
            shipped = dict(
                conn.execute(
                    sa.text(
                        "SELECT s.CustPONo, max(d.QtyShip) FROM tsoSalesOrder s JOIN tsoSOLine l ON l.SOKey = s.SOKey "
                        "JOIN tsoSOLineDist d ON d.SOLineKey = l.SOLineKey WHERE s.TranType = 801 GROUP BY s.CustPONo"
                    )
                ).all()
            )
        for oid, order in sorted(mfn.items()):
            if not shipped.get(oid):
                ship_order(
                    engine, oid, SHIP_METHODS[order["marketplace"]], order["tracking"], order["shipped"]
                )
        with engine.connect() as conn:
            ship_dates = dict(
                conn.execute(
                    sa.text(
                        "SELECT s.CustPONo, max(d.ShipDate) FROM tsoSalesOrder s JOIN tsoSOLine l ON l.SOKey = s.SOKey "
                        "JOIN tsoSOLineDist d ON d.SOLineKey = l.SOLineKey WHERE s.TranType = 801 AND d.QtyShip > d.QtyInvcd "
                        "GROUP BY s.CustPONo"
                    )
                ).all()
            )
        for oid in sorted(orders & set(ship_dates)):
            assert invoice_shipments(engine, ship_dates[oid], amazon_order_id=oid) == (1, 0), oid
    finally:
        engine.dispose()


def _map_dir(stack):
    """The partner's mapping folder: the shipped accounts.yaml with Sage invoicing the sales orders and refunds
    as credit notes."""
    folder = stack.data_dir / "map"
    folder.mkdir()
    data = yaml.safe_load((DEFAULTS_DIR / "accounts.yaml").read_text())
    data.update(revenue="sage_invoices", documents="credit_notes")
    (folder / "accounts.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


@dataclass
class Closed:
    target: str
    first: object  # the runs' CompletedProcess
    second: object
    seller: Seller
    books: Books
    tieout: dict
    settlements_before: set[str]  # closed at Amazon before the first run
    last_day: date  # of the runs


def _close_the_books(target: str, data_dir, first: date, last: date, history: int) -> Closed:
    with running_stack(target, data_dir, history_days=history) as stack:
        stack.env["SAGE_AMAZON_MAPPING_DIR"] = str(_map_dir(stack))
        stack.env["SAGE_AMAZON_START_DATE"] = first.isoformat()
        closed_before = set(_seller(stack).settlements)
        days = ["--start", first.isoformat(), "--end", last.isoformat()]
        run1 = stack.cli("run", *days, timeout=1200)
        seller = _seller(stack)
        orders = _books(stack).orders & set(seller.orders)
        if run1.returncode in (0, 3):
            _staff_ships_and_invoices(stack, seller, orders)
        run2 = stack.cli("run", *days, timeout=1200)
        statuses = [
            a
            for s in ("open", "settled_not_invoiced", "difference", "matched", "refunded")
            for a in ("--status", s)
        ]
        tie = stack.cli("settlement", "tieout", "--json", *statuses, timeout=300)
        assert tie.returncode in (0, 1), tie.stdout[-3000:] + tie.stderr[-3000:]
        return Closed(
            target, run1, run2, _seller(stack), _books(stack), json.loads(tie.stdout), closed_before, last
        )


@pytest.fixture(scope="module")
def closed(tmp_path_factory) -> dict[str, Closed]:
    first, last, history = _period()
    targets = ["x3", "sage500"]
    if pg_server.unavailable() and os.environ.get("CI", "").lower() != "true":
        targets = ["x3"]  # a developer machine without PostgreSQL still runs the X3 half; CI fails instead
    with ThreadPoolExecutor(len(targets)) as pool:
        done = {
            t: pool.submit(_close_the_books, t, tmp_path_factory.mktemp(f"books-{t}"), first, last, history)
            for t in targets
        }
        return {t: future.result() for t, future in done.items()}


@pytest.fixture(params=["x3", "sage500"])
def books(request, closed) -> Closed:
    if request.param not in closed:
        pytest.skip("no PostgreSQL on 127.0.0.1:5432 for the Sage 500 target")
    return closed[request.param]


def _by(rows, key, value) -> dict:
    out: dict = defaultdict(lambda: ZERO)
    for row in rows:
        out[key(row)] += value(row)
    return {k: v for k, v in out.items() if v}


def test_books_close(books: Closed) -> None:
    first, second, seller, sage = books.first, books.second, books.seller, books.books
    # exit 3: everything posted, with the seller's unmapped SKUs as dead letters (their orders never reach Sage)
    assert first.returncode == 3, first.stdout[-4000:] + first.stderr[-4000:]
    assert "0 failed" in first.stdout and "0 failed" in second.stdout, second.stdout[-4000:]
    assert second.returncode in (0, 3), second.stdout[-4000:] + second.stderr[-4000:]

    # every settlement Amazon had closed is posted: its journals are in Sage
    posted = {sid for *_, sid in sage.gl if sid}
    assert books.settlements_before and books.settlements_before <= posted, (books.settlements_before, posted)

    # Only Amazon orders with a sales order in Sage count: orders with an unmapped SKU are dead letters, never in
    # Sage. Sage invoices what it delivered: FBA orders whose Amazon shipment the run's days carry, and the
    # merchant-fulfilled ones the clerk shipped. FBA orders Amazon shipped after the run's last day are not
    # delivered in Sage yet (the next day's run records them), so not invoiced: left out below, as are orders
    # of other days that the settlements also paid (no sales order in Sage: nothing to clear).
    in_sage = sage.orders & set(seller.orders)
    deliverable = {
        o
        for o in in_sage
        if seller.orders[o]["shipped"]
        and (seller.orders[o]["channel"] == "MFN" or seller.orders[o]["shipped"] <= books.last_day)
    }
    assert in_sage and set(sage.invoices) == deliverable, sorted(deliverable ^ set(sage.invoices))[:10]
    invoiced = set(sage.invoices)

    # 1. revenue once: sales (4000) and freight (4010) per month and currency in Sage's GL are exactly what Sage
    # invoiced, which is what the seller sold (Amazon's item price less promotions; shipping and gift wrap) in the
    # month each order shipped. The settlements posted no sales: the settled orders' principal went to receivables.
    for order in invoiced:
        assert sage.invoices[order]["date"] == seller.orders[order]["shipped"], order
    revenue = {}
    for account, part in ((SALES, "sales"), (FREIGHT, "freight")):
        in_gl = revenue[account] = _by(sage.gl, lambda g: (g[1], g[2]), lambda g, a=account: -g[3] if g[0] == a else ZERO)
        sold = _by(
            invoiced,
            lambda o: (seller.orders[o]["shipped"].strftime("%Y-%m"), seller.orders[o]["currency"]),
            lambda o, p=part: seller.orders[o][p],
        )
        assert in_gl == sold, (account, in_gl, sold)
    settlement_sales = [g for g in sage.gl if g[5] and g[0] in (SALES, FREIGHT, "4020", "4050")]
    assert not settlement_sales, settlement_sales[:5]

    # 2. every receivable of an order settled by Amazon is cleared: what Sage invoiced equals what the settlements
    # paid for the order (its ItemPrice and Promotion lines: principal, shipping, gift wrap, collected tax, less
    # promotions), and the settlements' receivable lines carry exactly that money for the marketplace's customer
    paid_for = seller.settled(posted)
    settled = invoiced & set(paid_for)
    differences = {
        o: (sage.invoices[o]["total"], paid_for[o])
        for o in settled
        if sage.invoices[o]["total"] != paid_for[o]
    }
    assert settled and not differences, differences
    receivable = _by(sage.gl, lambda g: g[2], lambda g: g[3] if g[5] and g[0] == RECEIVABLES else ZERO)
    paid = _by(
        posted,
        lambda sid: seller.settlements[sid]["currency"],
        lambda sid: -seller.settlements[sid]["receivable"],
    )
    assert receivable == paid, (receivable, paid)
    # Sage 500 keeps AR per document: each settled order's invoice is paid in full, the others stay open
    if books.target == "sage500":
        still_open = {o: sage.invoices[o]["balance"] for o in settled if sage.invoices[o]["balance"] != 0}
        assert not still_open, still_open
        unsettled = invoiced - settled
        assert all(sage.invoices[o]["balance"] == sage.invoices[o]["total"] for o in unsettled)
    # the tie-out says so too, order by order
    tie = {r["amazon_order_id"]: r for r in books.tieout["orders"]}
    not_matched = {
        o: (tie.get(o) or {}).get("status")
        for o in settled
        if (tie.get(o) or {}).get("status") != "matched" or D(tie[o]["difference"]) != 0
    }
    assert not not_matched, not_matched

    # 3. clearing is 0.00 after each settlement's deposit, in its currency and in the company's
    for sid in posted:
        lines = [g for g in sage.gl if g[5] == sid and g[0] == CLEARING]
        assert lines and sum(g[3] for g in lines) == 0 and sum(g[4] for g in lines) == 0, (sid, lines)
        deposit = sum((g[3] for g in sage.gl if g[5] == sid and g[0] == "1010"), ZERO)
        assert deposit == seller.settlements[sid]["total"], (sid, deposit)

    months = sorted(revenue[SALES])
    print(
        f"\n{books.target}: {len(in_sage)} Amazon orders in Sage, {len(invoiced)} invoiced, {len(settled)} of them "
        f"settled and cleared, {len(posted)} settlements; revenue "
        + ", ".join(f"{m} {c} {revenue[SALES][(m, c)]}" for m, c in months)
    )
