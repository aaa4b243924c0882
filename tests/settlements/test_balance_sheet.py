"""Money Amazon owes or is owed stays on the balance sheet: negative settlements, card charges, rolled-forward
balances, reserves, loans, failed disbursements, cross-marketplace debt; every known type has a role."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from sage_amazon.ledger import settlements
from sage_amazon.mapping import accounts
from tests.settlements.conftest import SAMPLES

D = Decimal
FILES = Path(__file__).parent / "files"
BANK, CLEARING, RESERVE, BALANCES, PAYABLE, CARD, LOANS, SUSPENSE = (
    "1010", "1210", "1220", "1230", "2150", "2160", "2500", "2990")


def _net(journals) -> dict[str, Decimal]:
    """Credit-positive net per account."""
    out: dict[str, Decimal] = {}
    for journal in journals:
        for line in journal.lines:
            out[line.account] = out.get(line.account, D(0)) + line.credit - line.debit
    return out


def _post(name: str) -> dict[str, Decimal]:
    p = settlements.preview(FILES / name, "x3")
    assert all(o.passed for o in p.outcomes), [o.description for o in p.outcomes if not o.passed]
    for journal in p.journals:
        assert sum(x.debit for x in journal.lines) == sum(x.credit for x in journal.lines)
    return _net(p.journals)


def test_three_consecutive_settlements_negative_card_charged_rolled_forward():
    first = _post("neg-1-negative.txt")
    # no money moved: the 150.00 owed is a payable, not a bank credit
    assert first.get(BANK, D(0)) == 0
    assert first[PAYABLE] == D("150.00")
    second = _post("neg-2-card-charged.txt")
    assert second[CARD] == D("150.00")          # Amazon charged the card: the card account owes it now
    assert second[PAYABLE] == D("-120.00")      # 150.00 cleared, 30.00 owed again
    assert second.get(BANK, D(0)) == 0
    third = _post("neg-3-rolled-forward.txt")
    assert third[PAYABLE] == D("-30.00")        # the rolled-forward debt deducted from this deposit
    ledger: dict[str, Decimal] = {}
    for net in (first, second, third):
        for account, amount in net.items():
            ledger[account] = ledger.get(account, D(0)) + amount
    assert ledger[BANK] == D("-395.00")         # deposit 394.88 + micro deposit 0.12 received
    assert ledger[CARD] == D("150.00")
    assert ledger[PAYABLE] == D("0.00")
    assert ledger[CLEARING] == D("0.00")
    assert ledger.get(SUSPENSE, D(0)) == D("0.00")
    # the business itself: sales 650.00 less fees 405.00 = 245.00 = bank 395.00 - card 150.00
    assert ledger["4000"] + ledger["6100"] + ledger["6120"] + ledger["6140"] == D("245.00")


def test_negative_settlement_description_says_owed():
    p = settlements.preview(FILES / "neg-1-negative.txt", "x3")
    owed = [x for j in p.journals for x in j.lines if x.account == PAYABLE]
    assert owed and all("owed to Amazon" in x.description for x in owed)
    assert p.reconciliation["deposit"] == D("-150.00") and p.reconciliation["clearing_balance"] == 0


def test_balance_sheet_movements_and_corrected_classifications():
    net = _post("balance-sheet.txt")
    assert net == {
        "4000": D("1000.00"), "6100": D("-150.00"),
        RESERVE: D("-80.00"),        # 200.00 withheld, 120.00 released
        LOANS: D("-250.00"),         # loan repayment reduces the liability
        BALANCES: D("-45.00"),       # debt moved to Amazon.ca 40.00, balance adjustment 5.00
        "4510": D("60.00"),          # liquidation proceeds, not product sales
        "6150": D("-6.00"),          # liquidation brokerage fee
        "4500": D("25.00"),          # FBA Inventory Reimbursement - Customer Return: a reimbursement
        "6110": D("3.10"),           # INCORRECT_FEES_ITEMS gives back FBA fees charged in error
        BANK: D("-557.10"),          # deposit 637.10 less the failed disbursement 80.00 back in Amazon's hands
        CLEARING: D("0.00"),
    }


def _fee_codes() -> list[tuple[str, str]]:
    data = json.loads((SAMPLES / "v2-fee-codes.json").read_text())
    out = []
    for entry in data["entries"]:
        for amount_type in entry["amount_types"] or ["other-transaction"]:
            out.append((amount_type, entry["description"]))
    return out


EXPECTED_ROLES = {
    ("other-transaction", "Amazon Capital Services"): "loans",
    ("other-transaction", "BalanceAdjustment"): "amazon_balances",
    ("other-transaction", "Balance Adjustment"): "amazon_balances",
    ("other-transaction", "Failed Disbursement"): "bank_transfers",
    ("other-transaction", "FBA Inventory Reimbursement - Customer Return"): "reimbursements",
    ("other-transaction", "INCORRECT_FEES_ITEMS"): "fba_fees",
    ("other-transaction", "INCORRECT_FEES_NON_ITEMIZED"): "fba_fees",
    ("other-transaction", "Current Reserve Amount"): "reserve",
    ("other-transaction", "Previous Reserve Amount Balance"): "reserve",
    ("other-transaction", "FBACustomerReturnPerUnitFee"): "fba_fees",
    ("other-transaction", "Storage Fee"): "storage_fees",
    ("other-transaction", "Subscription Fee"): "subscription",
    ("other-transaction", "TransactionTotalAmount"): "advertising",
    ("ItemFees", "MarketplaceFacilitatorVAT-Principal"): "tax_payable",
    ("ItemPrice", "Principal"): "sales",
    ("ItemPrice", "Tax"): "tax_payable",
    ("ItemFees", "Commission"): "marketplace_fees",
    ("ItemFees", "ShippingChargeback"): "fba_fees",
    ("Promotion", "Shipping"): "promotions",
    ("Shipment-Fees", "FBAPerOrderFulfillmentFee"): "fba_fees",
    ("other-transaction", "WAREHOUSE_LOST"): "reimbursements",
    ("other-transaction", "Merchant Bad Debt"): "other_fees",
}


@pytest.mark.parametrize(("amount_type", "description"), _fee_codes())
def test_every_known_type_has_a_role(amount_type, description):
    amap = accounts.load()
    # TransactionTotalAmount comes under the "Cost of Advertising" amount-type in real files
    if description == "TransactionTotalAmount":
        amount_type = "Cost of Advertising"
    role, rule = amap.role_for("Order" if amount_type.startswith("Item") else "other-transaction",
                               amount_type, description)
    assert rule is not None, f"{amount_type}/{description} has no rule"
    key = ("other-transaction" if description == "TransactionTotalAmount" else amount_type, description)
    if key in EXPECTED_ROLES:
        assert role == EXPECTED_ROLES[key]


@pytest.mark.parametrize(("transaction_type", "description", "role"), [
    ("Payable to Amazon", "Payable to Amazon", "amazon_payable"),   # V1: the name is the transaction-type
    ("Successful charge", "Successful charge", "card"),
    ("Micro Deposit", "Micro Deposit", "bank_transfers"),
    ("other-transaction", "Amazon Lending Repayment", "loans"),
    ("Refund", "Principal", "refunds"),
])
def test_balance_sheet_roles_by_name(transaction_type, description, role):
    amount_type = "ItemPrice" if description == "Principal" else "other-transaction"
    assert accounts.load().role_for(transaction_type, amount_type, description)[0] == role


@pytest.mark.parametrize(("transaction_type", "amount_type", "description", "role"), [
    ("other-transaction", "other-transaction", "Transfer of funds unsuccessful: bank account closed", "bank_transfers"),
    ("other-transaction", "other-transaction", "Debt adjustment against Amazon.co.uk", "amazon_balances"),
    ("ServiceFee", "other-transaction", "DealParticipationFee", "advertising"),
    ("ServiceFee", "other-transaction", "CouponRedemptionFee", "advertising"),
    ("other-transaction", "other-transaction", "FBAInboundPlacementServiceFee", "fba_fees"),
    ("other-transaction", "other-transaction", "InboundPlacementServiceFee", "fba_fees"),
    ("Order", "ItemFees", "SalesTaxCollectionFee", "marketplace_fees"),
    ("other-transaction", "other-transaction", "DigitalServicesFee", "marketplace_fees"),
    ("Refund", "ItemPrice", "Tax", "tax_payable"),
    ("Refund", "ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", "tax_payable"),
    ("Refund", "ItemFees", "ShippingChargeback", "fba_fees"),
    ("Order", "Order-Fees", "FBAPerOrderFulfillmentFee", "fba_fees"),
    ("Order", "other-transaction", "MiscFee", "other_fees"),
    ("A-to-z Guarantee Claim", "ItemPrice", "Principal", "refunds"),
    ("other-transaction", "other-transaction", "FBA Inventory Storage Fee", "storage_fees"),
    ("other-transaction", "other-transaction", "FBA Long-Term Storage Fee", "storage_fees"),
    ("other-transaction", "other-transaction", "Subscription Fee Adjustment", "subscription"),
])
def test_more_real_types(transaction_type, amount_type, description, role):
    assert accounts.load().role_for(transaction_type, amount_type, description)[0] == role


def test_v1_card_charged_settlement_from_amazon_ca():
    net = _post("ca-v1-card-charged.txt")
    assert net[PAYABLE] == D("-120.00")   # 150.00 cleared, the period's 30.00 owed again
    assert net[CARD] == D("150.00")
    assert net.get(BANK, D(0)) == 0 and net.get(SUSPENSE, D(0)) == 0
    assert net["4000"] == D("100.00") and net["6120"] == D("-115.00")
