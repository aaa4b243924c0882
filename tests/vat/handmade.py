"""Hand-made UK, EU and Canadian settlements for the VAT tests, written as Amazon's V2 flat file, with the order
data the VAT engine reads (the orders flow's raw rows, FBA shipments and Amazon's VAT transactions report).
The expected figures are the tests' own, worked by hand in their comments (never computed by the product)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from tests.tax.handmade import HEADER

D = Decimal
MARKETPLACE_NAMES = {"UK": "Amazon.co.uk", "DE": "Amazon.de", "FR": "Amazon.fr", "CA": "Amazon.ca"}


@dataclass(frozen=True)
class Order:
    order_id: str
    marketplace: str  # UK, DE, CA ...
    sku: str
    principal: Decimal  # as the file carries it (UK/EU: VAT included; CA: before tax)
    ship_country: str | None  # None: the orders flow never landed the order
    day: date
    shipping: Decimal = D("0")
    fc: str = ""  # fulfilment centre of the FBA shipment ("" none landed)
    channel: str = "AFN"
    ship_state: str = ""
    buyer_vat: str = ""  # in Amazon's VAT transactions report
    tax: Decimal = D("0")  # Canada: the Tax line (GST/HST + QST Amazon collected for the seller)
    withheld: Decimal = D("0")  # VAT Amazon collected as deemed supplier (Tax line and its withholding)
    fees: tuple[tuple[str, Decimal], ...] = ()  # (amount-description, amount) of ItemFees lines
    refund: Decimal = D("0")  # principal refunded in the same settlement
    refund_tax: Decimal = D("0")
    refund_commission: Decimal = D("0")  # commission Amazon gives back (positive)
    departure: str = ""  # in the VAT report (with buyer_vat): SALE_DEPART_COUNTRY
    qty: int = 1


@dataclass
class Settlement:
    settlement_id: str
    currency: str
    start: date
    end: date
    orders: list[Order]
    other: list[tuple[str, Decimal, date]] = field(default_factory=list)  # other-transaction (description, amount)

    def lines(self) -> list[tuple]:
        out = []
        for o in self.orders:
            mk, q = MARKETPLACE_NAMES[o.marketplace], o.qty
            row = lambda tt, at, desc, amount, o=o, mk=mk, q=q: (tt, o.order_id, mk, at, desc, amount, o.day,  # noqa: E731
                                                                  o.sku, q, o.channel)
            out.append(row("Order", "ItemPrice", "Principal", o.principal))
            if o.shipping:
                out.append(row("Order", "ItemPrice", "Shipping", o.shipping))
            if o.tax:
                out.append(row("Order", "ItemPrice", "Tax", o.tax))
            if o.withheld:
                out.append(row("Order", "ItemPrice", "Tax", o.withheld))
                out.append(row("Order", "ItemWithheldTax", "MarketplaceFacilitatorVAT-Principal", -o.withheld))
            for desc, amount in o.fees:
                out.append(row("Order", "ItemFees", desc, amount))
            if o.refund:
                out.append(row("Refund", "ItemPrice", "Principal", -o.refund))
                if o.refund_tax:
                    out.append(row("Refund", "ItemPrice", "Tax", -o.refund_tax))
                if o.refund_commission:
                    out.append(row("Refund", "ItemFees", "Commission", o.refund_commission))
        for desc, amount, day in self.other:
            out.append(("other-transaction", "", "", "other-transaction", desc, amount, day, "", 0, ""))
        return out

    def write(self, path: Path) -> Decimal:
        detail = self.lines()
        total = sum((ln[5] for ln in detail), D(0))
        deposit = date.fromordinal(self.end.toordinal() + 2)
        rows = ["\t".join(HEADER), "\t".join({
            "settlement-id": self.settlement_id, "settlement-start-date": f"{self.start} 00:00:00 UTC",
            "settlement-end-date": f"{self.end} 00:00:00 UTC", "deposit-date": f"{deposit} 00:00:00 UTC",
            "total-amount": f"{total:.2f}", "currency": self.currency}.get(c, "") for c in HEADER)]
        for tt, oid, mk, at, desc, amount, day, sku, qty, channel in detail:
            values = {"settlement-id": self.settlement_id, "transaction-type": tt, "order-id": oid,
                      "marketplace-name": mk, "amount-type": at, "amount-description": desc,
                      "amount": f"{amount:.2f}", "fulfillment-id": channel, "posted-date": f"{day} 00:00:00 UTC",
                      "posted-date-time": f"{day} 12:00:00 UTC", "sku": sku,
                      "quantity-purchased": str(qty) if qty else ""}
            rows.append("\t".join(values.get(c, "") for c in HEADER))
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        return total

    def build(self, folder: Path, target: str):
        """A warehouse in `folder` with the account map, the order data, this file landed and its settlement
        models built (the mapping folder as the environment names it); returns the Warehouse."""
        from sage_amazon.amazon import settlement as parser
        from sage_amazon.ledger import settlements
        from sage_amazon.mapping import accounts
        from sage_amazon.warehouse import Warehouse

        path = folder / f"{self.settlement_id}.txt"
        self.write(path)
        wh = Warehouse(folder / "wh.duckdb", lock_timeout=60)
        with wh.write() as con:
            accounts.write_table(con, accounts.load(), target)
            self.land_order_data(con, folder)
            parser.land(con, path)
            settlements.build(con, self.settlement_id)
            assert all(o.passed for o in settlements.validate(con, self.settlement_id) if o.blocking)
        return wh

    def land_order_data(self, con, tmp_dir: Path) -> None:
        """The orders flow's rows (ship-to country and state, channel), the FBA shipments' fulfilment centres,
        and Amazon's VAT transactions report for orders with a buyer VAT number."""
        from sage_amazon.ledger.vat import facts
        from sage_amazon.orders import raw

        raw.ensure(con)
        report = ["ACTIVITY_TRANSACTION_ID\tTRANSACTION_TYPE\tMARKETPLACE\tSALE_DEPART_COUNTRY\t"
                  "SALE_ARRIVAL_COUNTRY\tBUYER_VAT_NUMBER\tTAX_COLLECTION_RESPONSIBILITY"]
        for o in self.orders:
            if o.ship_country is None:
                continue
            con.execute("INSERT INTO raw.amazon_orders (amazon_order_id, partition_date, last_updated, ship_state, "
                        "ship_country, fulfillment_channel, currency, source, extracted_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, 'api', ?)",
                        [o.order_id, o.day, o.day, o.ship_state, o.ship_country, o.channel, self.currency, o.day])
            if o.fc:
                con.execute("INSERT INTO raw.amazon_fba_shipments (shipment_id, amazon_order_id, partition_date, "
                            "sku, quantity_shipped, fulfillment_center_id, ship_country) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            ["S" + o.order_id[-6:], o.order_id, o.day, o.sku, o.qty, o.fc, o.ship_country])
            if o.buyer_vat:
                report.append(f"{o.order_id}\tSALE\t{MARKETPLACE_NAMES[o.marketplace]}\t{o.departure}\t"
                              f"{o.ship_country}\t{o.buyer_vat}\tSELLER")
        if len(report) > 1:
            path = tmp_dir / f"vat-{self.settlement_id}.txt"
            path.write_text("\n".join(report) + "\n", encoding="utf-8")
            facts.land_report(con, path)
