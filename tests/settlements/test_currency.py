"""Dated rates (rates_file), realised FX gain or loss at the deposit, rounding on its own account: clearing nets
to exactly 0.00 in both currencies."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sage_amazon.ledger import settlements
from sage_amazon.mapping import DEFAULTS_DIR
from tests.settlements.conftest import V2_SAMPLE, to_european

D = Decimal


def _cents(x: Decimal) -> Decimal:
    return x.quantize(D("0.01"), ROUND_HALF_UP)


def test_dated_rates_and_realised_fx_gain(tmp_path, monkeypatch):
    (tmp_path / "map").mkdir()
    (tmp_path / "map" / "accounts.yaml").write_text(
        (DEFAULTS_DIR / "accounts.yaml").read_text().replace("# rates_file: rates.csv", "rates_file: rates.csv"))
    (tmp_path / "map" / "rates.csv").write_text("date,currency,rate\n2026-06-01,EUR,1.0800\n2026-07-01,EUR,1.1000\n")
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path / "map"))
    path = tmp_path / "de.txt"
    path.write_text(to_european(V2_SAMPLE.read_text()).replace("\tUSD\t", "\tEUR\t").replace("amazon.com", "amazon.de"))
    p = settlements.preview(path, "x3")
    assert all(o.passed for o in p.outcomes if o.blocking), [o.description for o in p.outcomes]
    june, july = p.journals
    assert (june.rate, july.rate) == (D("1.08"), D("1.10"))  # each journal at its accounting day's rate
    for journal in p.journals:
        assert sum(x.debit for x in journal.lines) == sum(x.credit for x in journal.lines)
        assert sum(x.ledger_debit for x in journal.lines) == sum(x.ledger_credit for x in journal.lines)
    lines = [x for j in p.journals for x in j.lines]
    clearing = [x for x in lines if x.account == "1210"]
    assert sum(x.credit - x.debit for x in clearing) == 0
    assert sum(x.ledger_credit - x.ledger_debit for x in clearing) == 0
    bank = [x for x in lines if x.account == "1010"][0]
    assert (bank.debit, bank.ledger_debit) == (D("582.89"), D("641.18"))
    june_total = sum((x.credit - x.debit for x in june.lines if x.description.find("clearing") < 0), D(0))
    july_total = D("582.89") - june_total
    expected_fx = _cents(D("582.89") * D("1.10")) - _cents(june_total * D("1.08")) - _cents(july_total * D("1.10"))
    fx = [x for x in lines if x.account == "7900"]
    assert expected_fx > 0 and sum(x.ledger_credit - x.ledger_debit for x in fx) == expected_fx  # a gain
    assert all(x.debit == x.credit == 0 for x in fx)
    rounding = [x for x in lines if x.account == "7910"]
    assert abs(sum((x.ledger_credit - x.ledger_debit for x in rounding), D(0))) <= D("0.05")


def test_a_rate_file_line_that_is_not_a_rate_is_refused(tmp_path, monkeypatch):
    import pytest

    from sage_amazon.mapping import MappingError, accounts

    (tmp_path / "accounts.yaml").write_text(
        (DEFAULTS_DIR / "accounts.yaml").read_text().replace("# rates_file: rates.csv", "rates_file: rates.csv"))
    (tmp_path / "rates.csv").write_text("2026-06-01,EUR,1.08\n2026-06-02,EUR,abc\n")
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path))
    with pytest.raises(MappingError, match=r"rates.csv, line 2: expected date,currency,rate"):
        accounts.load()


def test_reconciliation_shows_clearing_in_both_currencies(tmp_path):
    path = tmp_path / "de.txt"
    path.write_text(to_european(V2_SAMPLE.read_text()).replace("\tUSD\t", "\tEUR\t").replace("amazon.com", "amazon.de"))
    r = settlements.preview(path, "x3").reconciliation
    assert r["clearing_balance"] == 0 and r["ledger_clearing_balance"] == 0
    assert r["fx_gain_loss"] == 0 and abs(r["rounding"]) <= D("0.05")  # one constant rate: rounding only
