"""Writes the hand-made settlement files of this folder (run it after changing a case; the files are committed).

Each case is a list of detail lines (transaction-type, order-id, amount-type, amount-description, amount,
posted day, marketplace-name); the summary total is their sum, so every file ties out.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

HEADER = ("settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount",
          "currency", "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id",
          "marketplace-name", "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date",
          "posted-date-time", "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku",
          "quantity-purchased", "promotion-id")
OT = "other-transaction"


def write(name: str, sid: str, start: str, end: str, deposit: str, currency: str, lines: list[tuple],
          marketplace: str = "Amazon.com") -> None:
    total = sum(Decimal(line[4]) for line in lines)
    rows = ["\t".join(HEADER), "\t".join({
        "settlement-id": sid, "settlement-start-date": f"{start} 00:00:00 UTC",
        "settlement-end-date": f"{end} 00:00:00 UTC", "deposit-date": f"{deposit} 00:00:00 UTC",
        "total-amount": f"{total:.2f}" if currency != "JPY" else f"{total:.0f}", "currency": currency,
    }.get(c, "") for c in HEADER)]
    for tt, oid, at, desc, amount, day, *mkt in lines:
        values = {
            "settlement-id": sid, "transaction-type": tt, "order-id": oid, "marketplace-name": mkt[0] if mkt else
            (marketplace if oid else ""), "amount-type": at, "amount-description": desc, "amount": amount,
            "fulfillment-id": "AFN" if oid else "", "posted-date": f"{day} 00:00:00 UTC",
            "posted-date-time": f"{day} 12:00:00 UTC", "sku": "NW-MUG-01" if oid else "",
            "quantity-purchased": "1" if oid else "",
        }
        rows.append("\t".join(values.get(c, "") for c in HEADER))
    (Path(__file__).parent / name).write_text("\n".join(rows) + "\n", encoding="utf-8")


def negative_series() -> None:
    """Three consecutive US settlements: negative (owed to Amazon), card charged, a new debt rolled forward."""
    write("neg-1-negative.txt", "90000000001", "2026-03-01", "2026-03-15", "2026-03-17", "USD", [
        ("Order", "111-0000001-0000001", "ItemPrice", "Principal", "50.00", "2026-03-03"),
        ("Order", "111-0000001-0000001", "ItemFees", "Commission", "-7.50", "2026-03-03"),
        ("other-transaction", "", OT, "Storage Fee", "-152.50", "2026-03-10"),
        ("other-transaction", "", OT, "Subscription Fee", "-40.00", "2026-03-12"),
    ])  # total -150.00: no money moves, the seller owes Amazon 150.00
    write("neg-2-card-charged.txt", "90000000002", "2026-03-15", "2026-03-29", "2026-03-31", "USD", [
        ("other-transaction", "", OT, "Payable to Amazon", "-150.00", "2026-03-16"),
        ("other-transaction", "", OT, "Successful charge", "150.00", "2026-03-16"),
        ("Order", "111-0000002-0000002", "ItemPrice", "Principal", "100.00", "2026-03-20"),
        ("Order", "111-0000002-0000002", "ItemFees", "Commission", "-15.00", "2026-03-20"),
        ("other-transaction", "", OT, "Storage Fee", "-115.00", "2026-03-25"),
    ])  # card paid the 150.00; the period itself ends 30.00 short: owed again, rolled forward
    write("neg-3-rolled-forward.txt", "90000000003", "2026-03-29", "2026-04-12", "2026-04-14", "USD", [
        ("other-transaction", "", OT, "Payable to Amazon", "-30.00", "2026-03-30"),
        ("Order", "111-0000003-0000003", "ItemPrice", "Principal", "500.00", "2026-04-02"),
        ("Order", "111-0000003-0000003", "ItemFees", "Commission", "-75.00", "2026-04-02"),
        ("other-transaction", "", OT, "Micro Deposit", "-0.12", "2026-04-05"),
    ])  # 394.88 deposited; 0.12 reached the bank separately as Amazon's micro deposit


def balance_sheet() -> None:
    """One settlement with every balance-sheet movement: reserve, loan repayment, failed disbursement,
    cross-marketplace debt, balance adjustment, plus the misclassified types of the old rules."""
    write("balance-sheet.txt", "90000000010", "2026-05-01", "2026-05-15", "2026-05-17", "USD", [
        ("Order", "111-0000010-0000010", "ItemPrice", "Principal", "1000.00", "2026-05-02"),
        ("Order", "111-0000010-0000010", "ItemFees", "Commission", "-150.00", "2026-05-02"),
        ("other-transaction", "", OT, "Current Reserve Amount", "-200.00", "2026-05-15"),
        ("other-transaction", "", OT, "Previous Reserve Amount Balance", "120.00", "2026-05-01"),
        ("other-transaction", "", OT, "Amazon Capital Services", "-250.00", "2026-05-05"),
        ("other-transaction", "", OT, "Failed Disbursement", "80.00", "2026-05-06"),
        ("other-transaction", "", OT, "Debt adjustment against Amazon.ca", "-40.00", "2026-05-07"),
        ("other-transaction", "", OT, "BalanceAdjustment", "-5.00", "2026-05-07"),
        ("Liquidations", "111-0000011-0000011", "ItemPrice", "Principal", "60.00", "2026-05-08"),
        ("Liquidations", "111-0000011-0000011", "ItemFees", "LiquidationsBrokerageFee", "-6.00", "2026-05-08"),
        ("other-transaction", "", OT, "FBA Inventory Reimbursement - Customer Return", "25.00", "2026-05-09"),
        ("other-transaction", "", OT, "INCORRECT_FEES_ITEMS", "3.10", "2026-05-09"),
    ])


def north_america_unified() -> None:
    """A North America unified settlement in USD with amazon.com, amazon.ca and amazon.com.mx lines; more
    Canadian lines than US ones, so "the marketplace with most lines" would be wrong."""
    write("na-unified.txt", "90000000020", "2026-06-01", "2026-06-15", "2026-06-17", "USD", [
        ("Order", "111-0000020-0000001", "ItemPrice", "Principal", "100.00", "2026-06-02", "Amazon.com"),
        ("Order", "111-0000020-0000001", "ItemPrice", "Tax", "8.00", "2026-06-02", "Amazon.com"),
        ("Order", "111-0000020-0000001", "ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", "-8.00",
         "2026-06-02", "Amazon.com"),
        ("Order", "111-0000020-0000001", "ItemFees", "Commission", "-15.00", "2026-06-02", "Amazon.com"),
        ("Order", "702-0000020-0000002", "ItemPrice", "Principal", "80.00", "2026-06-03", "Amazon.ca"),
        ("Order", "702-0000020-0000002", "ItemPrice", "Tax", "10.40", "2026-06-03", "Amazon.ca"),
        ("Order", "702-0000020-0000002", "ItemFees", "Commission", "-12.00", "2026-06-03", "Amazon.ca"),
        ("Order", "702-0000020-0000003", "ItemPrice", "Principal", "40.00", "2026-06-04", "Amazon.ca"),
        ("Order", "702-0000020-0000003", "ItemPrice", "Tax", "5.20", "2026-06-04", "Amazon.ca"),
        ("Order", "702-0000020-0000003", "ItemFees", "Commission", "-6.00", "2026-06-04", "Amazon.ca"),
        ("Order", "701-0000020-0000004", "ItemPrice", "Principal", "50.00", "2026-06-05", "Amazon.com.mx"),
        ("Order", "701-0000020-0000004", "ItemPrice", "Tax", "8.00", "2026-06-05", "Amazon.com.mx"),
        ("Order", "701-0000020-0000004", "ItemFees", "Commission", "-7.50", "2026-06-05", "Amazon.com.mx"),
        ("other-transaction", "", OT, "Subscription Fee", "-39.99", "2026-06-10"),
    ])


V1_HEADER = ("settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount",
             "currency", "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id",
             "marketplace-name", "shipment-fee-type", "shipment-fee-amount", "order-fee-type", "order-fee-amount",
             "fulfillment-id", "posted-date", "order-item-code", "merchant-order-item-id",
             "merchant-adjustment-item-id", "sku", "quantity-purchased", "price-type", "price-amount",
             "item-related-fee-type", "item-related-fee-amount", "misc-fee-amount", "other-fee-amount",
             "other-fee-reason-description", "promotion-id", "promotion-type", "promotion-amount",
             "direct-payment-type", "direct-payment-amount", "other-amount")


def v1_card_charged() -> None:
    """The card-charged settlement of the negative series as an Amazon.ca V1 file: the balance lines are
    transaction types with other-amount, amounts padded with blanks as real V1 exports are."""
    sid, rows = "90000000102", []

    def row(**values):
        rows.append("\t".join(values.get(c.replace("-", "_"), "") for c in V1_HEADER))

    row(settlement_id=sid, settlement_start_date="2026-03-15 00:00:00 UTC",
        settlement_end_date="2026-03-29 00:00:00 UTC", deposit_date="2026-03-31 00:00:00 UTC",
        total_amount="-30.00    ", currency="CAD")
    row(settlement_id=sid, transaction_type="Payable to Amazon", posted_date="2026-03-16 00:00:00 UTC",
        other_amount="-150.00   ")
    row(settlement_id=sid, transaction_type="Successful charge", posted_date="2026-03-16 00:00:00 UTC",
        other_amount="150.00    ")
    row(settlement_id=sid, transaction_type="Order", order_id="702-0000002-0000002", marketplace_name="Amazon.ca",
        fulfillment_id="AFN", posted_date="2026-03-20 00:00:00 UTC", sku="NW-MUG-01", quantity_purchased="1",
        price_type="Principal", price_amount="100.00    ", item_related_fee_type="Commission",
        item_related_fee_amount="-15.00    ")
    row(settlement_id=sid, transaction_type="Storage Fee", posted_date="2026-03-25 00:00:00 UTC",
        other_amount="-115.00   ")
    (Path(__file__).parent / "ca-v1-card-charged.txt").write_text(
        "\t".join(V1_HEADER) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")


if __name__ == "__main__":
    negative_series()
    balance_sheet()
    north_america_unified()
    v1_card_charged()
