"""Hand-made US settlements for the tax and COGS tests, written as Amazon's V2 flat file, and the figures an
accountant computes from the same orders (independently of the product: price x rate, rounded half up per line,
as Amazon's tax calculation does per order item)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

HEADER = ("settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount",
          "currency", "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id",
          "marketplace-name", "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date",
          "posted-date-time", "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku",
          "quantity-purchased", "promotion-id")
CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Sale:
    order_id: str
    sku: str
    quantity: int
    unit_price: Decimal
    shipping: Decimal
    state: str | None  # the ship-to state as the orders flow landed it (None: order not landed)
    rate: Decimal  # the combined sales tax rate Amazon charged in that state
    day: date
    refunded: int = 0  # units refunded in the same settlement (the whole line, tax back)
    refund_day: date | None = None
    channel: str = "AFN"  # fulfillment-id: AFN (FBA) or MFN (the seller's own warehouse)

    @property
    def principal(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def tax(self) -> Decimal:
        return cents(self.principal * self.rate)

    @property
    def shipping_tax(self) -> Decimal:
        return cents(self.shipping * self.rate)

    @property
    def refund_principal(self) -> Decimal:
        return self.unit_price * self.refunded

    @property
    def refund_tax(self) -> Decimal:
        return cents(self.refund_principal * self.rate)


def lines(sales: list[Sale]) -> list[tuple]:
    """(transaction-type, order-id, amount-type, amount-description, amount, day, sku, quantity) of each line
    (`write` adds each order's fulfillment channel)."""
    out = []
    for s in sales:
        q = s.quantity
        out += [("Order", s.order_id, "ItemPrice", "Principal", s.principal, s.day, s.sku, q),
                ("Order", s.order_id, "ItemPrice", "Tax", s.tax, s.day, s.sku, q),
                ("Order", s.order_id, "ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", -s.tax, s.day,
                 s.sku, q)]
        if s.shipping:
            out += [("Order", s.order_id, "ItemPrice", "Shipping", s.shipping, s.day, s.sku, q),
                    ("Order", s.order_id, "ItemPrice", "ShippingTax", s.shipping_tax, s.day, s.sku, q),
                    ("Order", s.order_id, "ItemWithheldTax", "MarketplaceFacilitatorTax-Shipping", -s.shipping_tax,
                     s.day, s.sku, q)]
        out += [("Order", s.order_id, "ItemFees", "Commission", -cents(s.principal * Decimal("0.15")), s.day,
                 s.sku, q),
                ("Order", s.order_id, "ItemFees", "FBAPerUnitFulfillmentFee", Decimal("-5.40") * q, s.day, s.sku, q)]
        if s.refunded:
            r, d = s.refunded, s.refund_day or s.day
            out += [("Refund", s.order_id, "ItemPrice", "Principal", -s.refund_principal, d, s.sku, r),
                    ("Refund", s.order_id, "ItemPrice", "Tax", -s.refund_tax, d, s.sku, r),
                    ("Refund", s.order_id, "ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", s.refund_tax, d,
                     s.sku, r),
                    ("Refund", s.order_id, "ItemFees", "Commission", cents(s.refund_principal * Decimal("0.12")), d,
                     s.sku, r)]
    return out


def write(path: Path, settlement_id: str, start: date, end: date, sales: list[Sale],
          extra: list[tuple] = ()) -> Decimal:
    """The V2 file of these sales (and extra other-transaction lines); returns its total."""
    detail = lines(sales) + list(extra)
    channels = {s.order_id: s.channel for s in sales}
    total = sum((line[4] for line in detail), Decimal(0))
    deposit = date.fromordinal(end.toordinal() + 2)
    rows = ["\t".join(HEADER), "\t".join({
        "settlement-id": settlement_id, "settlement-start-date": f"{start} 00:00:00 UTC",
        "settlement-end-date": f"{end} 00:00:00 UTC", "deposit-date": f"{deposit} 00:00:00 UTC",
        "total-amount": f"{total:.2f}", "currency": "USD"}.get(c, "") for c in HEADER)]
    for tt, oid, at, desc, amount, day, sku, qty in detail:
        values = {"settlement-id": settlement_id, "transaction-type": tt, "order-id": oid,
                  "marketplace-name": "Amazon.com" if oid else "", "amount-type": at, "amount-description": desc,
                  "amount": f"{amount:.2f}", "fulfillment-id": channels.get(oid, "AFN") if oid else "",
                  "posted-date": f"{day} 00:00:00 UTC", "posted-date-time": f"{day} 12:00:00 UTC",
                  "sku": sku or "", "quantity-purchased": str(qty) if qty else ""}
        rows.append("\t".join(values.get(c, "") for c in HEADER))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return total


def land_orders(con, sales: list[Sale]) -> None:
    """The orders flow's raw rows of these orders (only what the tax split reads: id, ship-to state, times)."""
    from sage_amazon.orders import raw

    raw.ensure(con)
    for s in sales:
        if s.state is None:
            continue
        con.execute("INSERT INTO raw.amazon_orders (amazon_order_id, partition_date, last_updated, ship_state, "
                    "ship_country, currency, source, extracted_at) VALUES (?, ?, ?, ?, 'US', 'USD', 'api', ?)",
                    [s.order_id, s.day, s.day, s.state, s.day])


def accountant_tax_by_state(sales: list[Sale], codes: dict[str, str]) -> dict[str, tuple[Decimal, Decimal]]:
    """state -> (tax collected, tax withheld), both as the journal books them (credit-positive)."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for s in sales:
        state = codes.get(s.state or "", "unknown")
        collected = s.tax + s.shipping_tax - s.refund_tax
        c, w = out.get(state, (Decimal(0), Decimal(0)))
        out[state] = (c + collected, w - collected)
    return out


@contextmanager
def sage500_sandbox():
    """(sandbox database, Sage500Target) on the test PostgreSQL server; the target's engine disposed after."""
    from sage_amazon.sage.sage500 import Sage500Target
    from sage_amazon.sandbox.sage500 import sandbox_database
    from tests import postgres as pg_server

    pg_server.require()
    with sandbox_database(pg_server.SERVER_URL) as db:
        target = Sage500Target(db.url, company_id=db.company_id)
        try:
            yield db, target
        finally:
            target.engine.dispose()


@contextmanager
def x3_sandbox(tmp_path: Path):
    """(running X3 sandbox, X3Target) on a free port, stopped after."""
    from sage_amazon.sage.x3 import X3Target
    from sage_amazon.sandbox.x3 import running_x3

    with running_x3(tmp_path) as x3:
        yield x3, X3Target.from_settings(url=x3.url, user=x3.user, password=x3.password, pool=x3.pool,
                                         folder=x3.folder)
