"""Journals from settlements: per-account totals, period split, deposit, currency, suspense, validation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from sage_amazon.ledger import settlements
from tests.settlements.conftest import V1_SAMPLE, V2_SAMPLE, to_european

D = Decimal


def _sample(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _balanced(journal):
    debit = sum(line.debit for line in journal.lines)
    credit = sum(line.credit for line in journal.lines)
    ledger_debit = sum((line.ledger_debit if line.ledger_debit is not None else line.debit) for line in journal.lines)
    ledger_credit = sum((line.ledger_credit if line.ledger_credit is not None else line.credit)
                        for line in journal.lines)
    return debit == credit and ledger_debit == ledger_credit


def _net_by_account(journals):
    out: dict[str, Decimal] = {}
    for journal in journals:
        for line in journal.lines:
            out[line.account] = out.get(line.account, D(0)) + line.credit - line.debit
    return out


def test_public_v2_sample_balances_with_expected_accounts():
    p = settlements.preview(V2_SAMPLE, "x3")
    assert all(o.passed for o in p.outcomes), [o.description for o in p.outcomes if not o.passed]
    assert [j.reference for j in p.journals] == ["AMZ-28471003921-202606", "AMZ-28471003921-202607"]
    assert all(_balanced(j) for j in p.journals)
    net = _net_by_account(p.journals)
    # credit-positive net per account, worked out by hand from the sample
    assert net == {
        "4000": D("474.49"),   # principal 129.99 + 89.00 + 45.50 + 210.00
        "4010": D("7.99"),     # shipping charged to the buyer
        "4060": D("-129.99"),  # refund of principal
        "4500": D("18.75"),    # Refund Reimbursal
        "2240": D("10.40"),    # US sales tax Amazon collected (facilitator tax, posted gross) ...
        "2245": D("-10.40"),   # ... and withheld to remit (MarketplaceFacilitatorVAT-Principal)
        "1220": D("400.44"),   # reserve released 820.44, withheld 420.00
        "6100": D("-56.68"),   # commissions, refund commission back, admin fee
        "6110": D("-27.84"),   # FBA fees incl. the low-inventory-level fee and the shipping chargeback 7.99
        "6120": D("-64.28"),   # storage
        "6140": D("-39.99"),   # subscription
        "1210": D("0.00"),     # clearing: settlement net in, deposit out
        "1010": D("-582.89"),  # bank debited with the deposit
    }
    june, july = p.journals
    assert june.accounting_date == date(2026, 6, 30)
    assert july.accounting_date == date(2026, 7, 2)  # the deposit date
    assert {(line.account, line.debit) for line in july.lines if line.debit} == {("1010", D("582.89"))}
    r = p.reconciliation
    assert (r["total_amount"], r["sum_lines"], r["sum_journal_lines"], r["deposit"], r["variance"]) == (
        D("582.89"), D("582.89"), D("582.89"), D("582.89"), D("0.00"))


def test_sage500_accounts_come_from_their_own_section(tmp_path, monkeypatch):
    override = tmp_path / "map"
    override.mkdir()
    from sage_amazon.mapping import DEFAULTS_DIR

    text = (DEFAULTS_DIR / "accounts.yaml").read_text()
    head, tail = text.split("  sage500:\n", 1)
    tail = tail.replace('sales: "4000"', 'sales: "40-00"', 1)
    (override / "accounts.yaml").write_text(head + "  sage500:\n" + tail)
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(override))
    assert "4000" in _net_by_account(settlements.preview(V2_SAMPLE, "x3").journals)
    assert _net_by_account(settlements.preview(V2_SAMPLE, "sage500").journals)["40-00"] == D("474.49")


def test_public_v1_sample_parses_but_its_total_does_not_add_up():
    """The Airbyte V1 fixture carries total 1234.56 over one 19.99 - 3.22 line: the blocking check says so."""
    p = settlements.preview(V1_SAMPLE, "x3")
    outcome = {o.name: o for o in p.outcomes}
    assert not outcome["settlement_totals_match"].passed
    assert "variance 1217.79" in outcome["settlement_totals_match"].description
    assert p.reconciliation["variance"] == D("1217.79")
    assert all(_balanced(j) for j in p.journals)  # the journals themselves still balance


def test_unmapped_lines_go_to_suspense_and_are_flagged(tmp_path):
    text = V2_SAMPLE.read_text().replace("LowInventoryLevelFee", "BrandNewAmazonFee")
    p = settlements.preview(_sample(tmp_path, "new-fee.txt", text), "x3")
    outcome = {o.name: o for o in p.outcomes}
    assert not outcome["settlement_unmapped_lines"].passed and not outcome["settlement_unmapped_lines"].blocking
    assert outcome["settlement_totals_match"].passed
    assert p.unmapped == [("ServiceFee", "other-transaction", "BrandNewAmazonFee", 1, D("-12.60"))]
    net = _net_by_account(p.journals)
    assert net["2990"] == D("-12.60")  # suspense, not dropped
    assert net["6110"] == D("-15.24")  # FBA fees 7.25 and the shipping chargeback 7.99
    assert p.reconciliation["unmapped_lines"] == 1 and p.reconciliation["variance"] == 0
    assert any("UNMAPPED" in line.description for j in p.journals for line in j.lines)


def test_settlement_spanning_month_end_gives_one_balanced_journal_per_period(tmp_path):
    # move the storage and subscription fees (posted June 30) into July, deposit still July 2nd
    text = V2_SAMPLE.read_text().replace("2026-06-30 00:00:00 UTC\t2026-06-30 04:12:00 UTC",
                                         "2026-07-01 00:00:00 UTC\t2026-07-01 04:12:00 UTC")
    text = text.replace("2026-06-30 23:59:59 UTC\t2026-07-02", "2026-07-01 23:59:59 UTC\t2026-07-02")
    p = settlements.preview(_sample(tmp_path, "span.txt", text), "x3")
    assert all(o.passed for o in p.outcomes if o.blocking)
    june, july = p.journals
    assert (june.reference, june.accounting_date) == ("AMZ-28471003921-202606", date(2026, 6, 30))
    assert (july.reference, july.accounting_date) == ("AMZ-28471003921-202607", date(2026, 7, 2))
    assert all(_balanced(j) for j in p.journals)
    july_net = _net_by_account([july])
    assert july_net["6120"] == D("-64.28") and july_net["6140"] == D("-39.99")
    # July holds the deposit and its own lines; clearing nets to zero over the settlement
    assert july_net["1010"] == D("-582.89")
    assert _net_by_account(p.journals)["1210"] == 0


def test_negative_settlement_owes_amazon_and_leaves_the_bank_alone(tmp_path):
    lines = V2_SAMPLE.read_text().splitlines()
    header, summary, details = lines[0], lines[1], lines[2:]
    fees = [d for d in details if "\tServiceFee\t" in d]  # storage, subscription, low inventory: -116.87
    summary = summary.replace("\t582.89\t", "\t-116.87\t")
    p = settlements.preview(_sample(tmp_path, "negative.txt", "\n".join([header, summary, *fees]) + "\n"), "x3")
    assert all(o.passed for o in p.outcomes if o.blocking)
    net = _net_by_account(p.journals)
    assert "1010" not in net  # no money moved
    assert net["2150"] == D("116.87")  # owed to Amazon until "Payable to Amazon" / "Successful charge"
    assert p.reconciliation["deposit"] == D("-116.87")
    assert any("owed to Amazon" in line.description for j in p.journals for line in j.lines if line.account == "2150")


def test_foreign_currency_posts_transaction_and_converted_ledger_amounts(tmp_path):
    text = to_european(V2_SAMPLE.read_text()).replace("\tUSD\t", "\tEUR\t").replace("amazon.com", "amazon.de")
    p = settlements.preview(_sample(tmp_path, "de.txt", text), "x3")
    assert all(o.passed for o in p.outcomes if o.blocking), [o.description for o in p.outcomes]
    assert p.summary.marketplace == "DE" and p.summary.currency == "EUR"
    for journal in p.journals:
        assert journal.currency == "EUR" and journal.rate == D("1.08")
        assert _balanced(journal)
        for line in journal.lines:
            assert line.ledger_debit is not None and line.ledger_credit is not None
            if line.account not in ("1210", "7900", "7910"):  # clearing out, FX and rounding lines
                assert line.ledger_debit == (line.debit * D("1.08")).quantize(D("0.01"))
                assert line.ledger_credit == (line.credit * D("1.08")).quantize(D("0.01"))
    bank = [line for j in p.journals for line in j.lines if line.account == "1010"][0]
    assert (bank.debit, bank.ledger_debit) == (D("582.89"), D("629.52"))
    # clearing nets to exactly 0.00 in both currencies; the cent of rounding has its own account
    clearing = [line for j in p.journals for line in j.lines if line.account == "1210"]
    assert sum(x.credit - x.debit for x in clearing) == 0
    assert sum(x.ledger_credit - x.ledger_debit for x in clearing) == 0
    rounding = [line for j in p.journals for line in j.lines if line.account in ("7900", "7910")]
    assert all(x.debit == x.credit == 0 for x in rounding)
    assert abs(sum(x.ledger_credit - x.ledger_debit for x in rounding)) <= D("0.05")
    # VAT in Germany goes to the VAT account of the DE section
    assert {line.account for j in p.journals for line in j.lines} >= {"4000", "1010"}


def test_missing_rate_blocks(tmp_path):
    text = V2_SAMPLE.read_text().replace("\tUSD\t", "\tSEK\t").replace("\tUSD", "\tSEK")  # no SEK rate
    p = settlements.preview(_sample(tmp_path, "jpy.txt", text), "x3")
    balanced = {o.name: o for o in p.outcomes}["settlement_journals_balanced"]
    assert not balanced.passed and "rate" in balanced.description


def test_two_currencies_in_one_settlement_block(tmp_path):
    lines = V2_SAMPLE.read_text().splitlines()
    lines[5] = lines[5].replace("\tUSD\t", "\tCAD\t")
    p = settlements.preview(_sample(tmp_path, "mixed.txt", "\n".join(lines) + "\n"), "x3")
    currency = {o.name: o for o in p.outcomes}["settlement_single_currency"]
    assert not currency.passed and "CAD" in currency.description


def test_account_map_rules_first_match_wins():
    from sage_amazon.mapping import accounts

    amap = accounts.load()
    assert amap.role_for("Refund", "ItemPrice", "Principal")[0] == "refunds"
    assert amap.role_for("Order", "ItemPrice", "Principal")[0] == "sales"
    assert amap.role_for("Order", "ItemPrice", "Tax")[0] == "tax_payable"
    assert amap.role_for("Order", "ItemWithheldTax", "MarketplaceFacilitatorTax-Principal")[0] == "tax_payable"
    assert amap.role_for("Transfer", "other-transaction", "Current Reserve Amount")[0] == "reserve"
    assert amap.role_for("other-transaction", "FBA Inventory Reimbursement", "WAREHOUSE_DAMAGE")[0] == "reimbursements"
    assert amap.role_for("ServiceFee", "Cost of Advertising", "TransactionTotalAmount")[0] == "advertising"
    assert amap.role_for("Order", "ItemFees", "SomethingNew") == ("suspense", None)
    assert amap.account("x3", "tax_payable", "DE") == "2210"
    assert amap.account("x3", "tax_payable", "US") == "2200"


def test_account_map_errors_name_the_file():
    from sage_amazon.mapping import MappingError, accounts

    with pytest.raises(MappingError, match="no account for role"):
        accounts.parse({"company_currency": "USD", "targets": {"x3": {"accounts": {"clearing": "1"}}},
                        "rules": [{"role": "sales"}]}, "my.yaml")
    with pytest.raises(MappingError, match="my.yaml: rules\\[1\\] needs a `role`"):
        accounts.parse({"company_currency": "USD", "targets": {"x3": {"accounts": {}}}, "rules": [{}]}, "my.yaml")


def test_journal_dates_follow_the_files_days_whatever_the_session_time_zone(tmp_path):
    import duckdb

    text = V2_SAMPLE.read_text().replace("2026-06-30 23:59:59 UTC", "2026-06-30T23:59:59-07:00")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Tokyo'")
    p = settlements.preview(_sample(tmp_path, "pacific.txt", text), "x3", con=con)
    assert p.journals[0].accounting_date == date(2026, 6, 30)
    assert p.reconciliation["settlement_end"] == date(2026, 6, 30)


def test_empty_settlement_is_valid_and_posts_nothing(tmp_path):
    lines = V2_SAMPLE.read_text().splitlines()
    summary = lines[1].replace("\t582.89\t", "\t0.00\t")
    p = settlements.preview(_sample(tmp_path, "empty.txt", "\n".join([lines[0], summary]) + "\n"), "x3")
    assert all(o.passed for o in p.outcomes), [o.description for o in p.outcomes]
    assert p.journals == []
