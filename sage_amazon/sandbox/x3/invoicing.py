"""What an X3 user does to the orders flow's sales orders once the connector created them, for tests and demos:
deliver an order from the seller's own warehouse, and invoice what was delivered (X3's "invoicing of deliveries"),
each invoice validated with its accounting entry. The connector never calls this; it shares no code with it.

    from sage_amazon.sandbox.x3.invoicing import deliver_order, invoice_deliveries

    deliver_order(x3.engine, "111-2222222-3333333", date(2026, 11, 16))   # a merchant-fulfilled order ships
    invoice_deliveries(x3.engine, customer="AMZUS")                       # -> ["INVUS26000001", ...]

An invoice (SINVOICE/SINVOICED, SIVTYP INV, no INVREF: X3's own invoice, unlike the connector's documents that carry
their reference there) takes, per order, the delivered quantities not invoiced yet at the order's net prices, the
order's freight (SORDER INVDTAAMT, on its first invoice) and the sales tax X3's tax rules give, dated on the
delivery date unless an invoice date is given. Its accounting entry (GACCENTRY/GACCENTRYD, REF the invoice number)
debits the customer's receivable (collective account 1100, BPR the customer, FREREF the Amazon order) and credits
sales 4000, freight 4010 and sales tax 2200, the accounts the Sage 500 sandbox's Amazon customer class holds, so an
invoice means the same in both; ledger amounts at the dated rate of TABCHANGE. SORDER INVSTA becomes 2 (partly)
or 3 (invoiced). Orders of a type whose deliveries are not invoiced (TABSOHTYP YNOINV 2, e.g. SNI for
`revenue: settlement`) are left alone.

[UNCONFIRMED] choices of this sandbox: X3 invoices deliveries (SDH) and computes tax from the tax rules of customer
and item (in the US often through a tax engine); the sandbox has no SDH table (a delivery is SORDERQ DLVQTY, as the
connector's recorded FBA shipments are) and moves no stock, and stands for the tax rules with the sales-tax rate
the Amazon sandbox seller charges in the site's marketplace (seller_catalog), per invoice line and freight,
rounded half up. The entry type SIV and journal VEN are names of this sandbox.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Engine, and_, insert, select, update

from sage_amazon.sandbox.seller_catalog import MARKETPLACES_BY_ID

from . import tables as t
from .objects import _audit, _next_number, _open_period, write_entry

CENT = Decimal("0.01")
ZERO = Decimal("0")
ENTRY_TYPE, ENTRY_JOURNAL = "SIV", "VEN"
ACCOUNTS = {"receivable": "1100", "sales": "4000", "freight": "4010", "tax": "2200"}
USER = "ADMIN"


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def deliver_order(engine: Engine, customer_order_ref: str, ship_date: date) -> str:
    """Deliver every open quantity of the sales order whose CUSORDREF is `customer_order_ref` on `ship_date` (DLVQTY,
    DLVSTA 3, SHIDAT), as a shipping clerk does; an order already delivered is left as it is. Returns SOHNUM."""
    with engine.begin() as conn:
        order = conn.execute(select(t.SORDER).where(t.SORDER.c.CUSORDREF_0 == customer_order_ref)).first()
        if order is None:
            raise ValueError(f"no sales order for {customer_order_ref}")
        if order.DLVSTA_0 == 3:
            return order.SOHNUM_0
        if order.ORDSTA_0 == 2:
            raise ValueError(f"sales order {order.SOHNUM_0} is closed: nothing to deliver")
        conn.execute(
            update(t.SORDERQ)
            .where(t.SORDERQ.c.SOHNUM_0 == order.SOHNUM_0)
            .values(DLVQTY_0=t.SORDERQ.c.QTY_0, SHIDAT_0=ship_date, **_audit(USER, new=False))
        )
        conn.execute(
            update(t.SORDER)
            .where(t.SORDER.c.SOHNUM_0 == order.SOHNUM_0)
            .values(DLVSTA_0=3, SHIDAT_0=ship_date, **_audit(USER, new=False))
        )
        return order.SOHNUM_0


def invoice_deliveries(
    engine: Engine,
    invoice_date: date | None = None,
    customer_order_ref: str | None = None,
    customer: str | None = None,
    sales_tax_rate: Decimal | None = None,
) -> list[str]:
    """Invoice the delivered, not yet invoiced quantities of sales orders (all, or the order whose CUSORDREF is
    `customer_order_ref`, or the orders of `customer`): one validated invoice per order, dated `invoice_date` or
    the order's delivery date. `sales_tax_rate` replaces the rate of the tax rules (e.g. 0 for an order without
    tax). Returns the invoice numbers made."""
    made = []
    with engine.begin() as conn:
        stmt = (
            select(t.SORDER)
            .join(t.TABSOHTYP, t.TABSOHTYP.c.SOHTYP_0 == t.SORDER.c.SOHTYP_0)
            .where(t.TABSOHTYP.c.YNOINV_0 != 2, t.SORDER.c.DLVSTA_0 != 1, t.SORDER.c.INVSTA_0 != 3)
        )
        if customer_order_ref is not None:
            stmt = stmt.where(t.SORDER.c.CUSORDREF_0 == customer_order_ref)
        if customer is not None:
            stmt = stmt.where(t.SORDER.c.BPCINV_0 == customer)
        for order in conn.execute(stmt.order_by(t.SORDER.c.SOHNUM_0)).all():
            number = _invoice_order(conn, order, invoice_date, sales_tax_rate)
            if number:
                made.append(number)
    return made


def _invoiced_quantities(conn, sohnum: str) -> dict[str, Decimal]:
    """Item -> quantity of the order already on X3's own invoices (not the connector's documents)."""
    rows = conn.execute(
        select(t.SINVOICED.c.ITMREF_0, t.SINVOICED.c.QTY_0)
        .join(t.SINVOICE, t.SINVOICE.c.NUM_0 == t.SINVOICED.c.NUM_0)
        .where(t.SINVOICED.c.SOHNUM_0 == sohnum, t.SINVOICE.c.SIVTYP_0 == "INV", t.SINVOICE.c.INVREF_0 == "")
    ).all()
    out: dict[str, Decimal] = defaultdict(Decimal)
    for item, qty in rows:
        out[item] += qty
    return out


def _tax_rate(site, override: Decimal | None) -> Decimal:
    if override is not None:
        return override
    marketplace = MARKETPLACES_BY_ID.get(site.YAMZMKP_0)
    return marketplace.sales_tax_rate if marketplace else ZERO


def _rate(conn, currency: str, company_currency: str, day: date) -> Decimal:
    if currency == company_currency:
        return Decimal(1)
    rate = conn.execute(
        select(t.TABCHANGE.c.CHGRAT_0)
        .where(
            t.TABCHANGE.c.CUR_0 == currency,
            t.TABCHANGE.c.CURDEN_0 == company_currency,
            t.TABCHANGE.c.CHGTYP_0 == 1,
            t.TABCHANGE.c.CHGSTRDAT_0 <= day,
        )
        .order_by(t.TABCHANGE.c.CHGSTRDAT_0.desc())
        .limit(1)
    ).scalar()
    if rate is None:
        raise ValueError(f"no {currency} rate to {company_currency} on {day} (TABCHANGE)")
    return rate


def _invoice_order(conn, order, invoice_date: date | None, tax_override: Decimal | None) -> str | None:
    sohnum = order.SOHNUM_0
    done = _invoiced_quantities(conn, sohnum)
    lines = conn.execute(
        select(
            t.SORDERQ.c.SOPLIN_0,
            t.SORDERQ.c.ITMREF_0,
            t.SORDERQ.c.DLVQTY_0,
            t.SORDERQ.c.QTY_0,
            t.SORDERP.c.ITMDES_0,
            t.SORDERP.c.GROPRI_0,
            t.SORDERP.c.DISCRGVAL_0,
            t.SORDERP.c.NETPRI_0,
        )
        .join(
            t.SORDERP,
            and_(t.SORDERP.c.SOHNUM_0 == t.SORDERQ.c.SOHNUM_0, t.SORDERP.c.SOPLIN_0 == t.SORDERQ.c.SOPLIN_0),
        )
        .where(t.SORDERQ.c.SOHNUM_0 == sohnum)
        .order_by(t.SORDERQ.c.SOPLIN_0)
    ).all()
    to_invoice = []
    for line in lines:
        already = min(done[line.ITMREF_0], line.DLVQTY_0)  # earlier invoices cover the first lines of an item
        done[line.ITMREF_0] -= already
        qty = line.DLVQTY_0 - already
        if qty > 0:
            to_invoice.append((line, qty))
    if not to_invoice:
        return None
    site = conn.execute(select(t.FACILITY).where(t.FACILITY.c.FCY_0 == order.SALFCY_0)).first()
    company = conn.execute(select(t.COMPANY).where(t.COMPANY.c.CPY_0 == site.LEGCPY_0)).first()
    day = invoice_date or (order.SHIDAT_0 if order.SHIDAT_0 != t.NO_DATE else None)
    if day is None:
        raise ValueError(f"sales order {sohnum} has no delivery date: give the invoice date")
    _open_period(conn, site.LEGCPY_0, day, "INVDAT")
    tax_rate = _tax_rate(site, tax_override)
    first = not conn.execute(
        select(t.SINVOICED.c.NUM_0)
        .join(t.SINVOICE, t.SINVOICE.c.NUM_0 == t.SINVOICED.c.NUM_0)
        .where(t.SINVOICED.c.SOHNUM_0 == sohnum, t.SINVOICE.c.SIVTYP_0 == "INV", t.SINVOICE.c.INVREF_0 == "")
        .limit(1)
    ).first()
    freight = order.INVDTAAMT_0 if first else ZERO
    amounts = [_cents(qty * line.NETPRI_0) for line, qty in to_invoice]
    sales = sum(amounts, ZERO)
    tax = sum((_cents(a * tax_rate) for a in amounts), ZERO) + _cents(freight * tax_rate)
    seq = _next_number(conn, "SIHINV", site.FCY_0, day.year)
    num = f"INV{site.FCY_0}{day:%y}{seq:06d}"
    conn.execute(
        insert(t.SINVOICE).values(
            NUM_0=num,
            SIVTYP_0="INV",
            INVTYP_0=1,
            SNS_0=1,
            SALFCY_0=site.FCY_0,
            CPY_0=site.LEGCPY_0,
            INVREF_0="",
            INVDAT_0=day,
            ACCDAT_0=day,
            BPCINV_0=order.BPCINV_0,
            BPCORD_0=order.BPCORD_0,
            CUR_0=order.CUR_0,
            AMTNOT_0=sales + freight,
            AMTATI_0=sales + freight + tax,
            INVDTAAMT_0=freight,
            INVDTAAMT_1=ZERO,
            INVDTAAMT_2=tax,
            YAMZORDREF_0=order.CUSORDREF_0,
            STA_0=3,
            **_audit(USER),
        )
    )
    for lin, ((line, qty), amount) in enumerate(zip(to_invoice, amounts, strict=True), start=1):
        conn.execute(
            insert(t.SINVOICED).values(
                NUM_0=num,
                SIDLIN_0=lin * 1000,
                ITMREF_0=line.ITMREF_0,
                ITMDES1_0=line.ITMDES_0,
                QTY_0=qty,
                GROPRI_0=line.GROPRI_0,
                DISCRGVAL_0=line.DISCRGVAL_0,
                NETPRI_0=line.NETPRI_0,
                AMTNOTLIN_0=amount,
                SOHNUM_0=sohnum,
                SIHORINUM_0="",
                **_audit(USER),
            )
        )
    _post_entry(conn, num, order, site, company.CUR_0, day, sales, freight, tax)
    invoiced = _invoiced_quantities(conn, sohnum)
    complete = all(invoiced[line.ITMREF_0] >= line.QTY_0 for line in lines)
    conn.execute(
        update(t.SORDER)
        .where(t.SORDER.c.SOHNUM_0 == sohnum)
        .values(INVSTA_0=3 if complete else 2, **_audit(USER, new=False))
    )
    return num


def _post_entry(
    conn,
    num: str,
    order,
    site,
    company_currency: str,
    day: date,
    sales: Decimal,
    freight: Decimal,
    tax: Decimal,
) -> None:
    """The invoice's accounting entry, as X3 generates it when the invoice is validated."""
    rate = _rate(conn, order.CUR_0, company_currency, day)
    credits = [
        (ACCOUNTS[role], amount, what)
        for role, amount, what in (
            ("sales", sales, "Sales"),
            ("freight", freight, "Freight"),
            ("tax", tax, "Sales tax"),
        )
        if amount
    ]
    ledger = [_cents(amount * rate) for _, amount, _ in credits]
    total = sales + freight + tax
    lines = [{"ACC": ACCOUNTS["receivable"], "DES": "Customer invoice", "SNS": 1, "AMTCUR": total,
              "AMTLED": sum(ledger, ZERO), "FREREF": order.CUSORDREF_0, "VAT": "", "BPR": order.BPCINV_0}]
    lines += [{"ACC": acc, "DES": what, "SNS": -1, "AMTCUR": amount, "AMTLED": led, "FREREF": "", "VAT": "", "BPR": ""}
              for (acc, amount, what), led in zip(credits, ledger, strict=True)]
    seq = _next_number(conn, f"GAS{ENTRY_TYPE}", site.FCY_0, day.year * 100 + day.month)
    head = {"TYP": ENTRY_TYPE, "NUM": f"{ENTRY_TYPE}{site.FCY_0}{day:%y%m}{seq:05d}", "CPY": site.LEGCPY_0,
            "FCY": site.FCY_0, "JOU": ENTRY_JOURNAL, "ACCDAT": day, "CUR": order.CUR_0, "RATMLT": rate,
            "DESVCR": f"Invoice {num}", "REF": num, "TOTDEB": total, "TOTCDT": total}
    write_entry(conn, head, lines, USER)
