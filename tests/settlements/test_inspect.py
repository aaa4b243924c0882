"""`sage-amazon settlement inspect` tells the truth: the block first, company-currency amounts, the Amazon types
and rule of each account, warnings, the period in the journal description, yen without decimals."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from sage_amazon.ledger.cli import settlement_group

FILES = Path(__file__).parent / "files"


def _inspect(*args):
    return CliRunner().invoke(settlement_group, ["inspect", *map(str, args), "--target", "x3"])


def test_blocked_file_shows_the_block_first_and_no_balanced_ok(tmp_path):
    path = tmp_path / "blocked.txt"
    path.write_text((FILES / "na-unified.txt").read_text().replace("\t213.11\t", "\t999.00\t"))
    result = _inspect(path)
    assert result.exit_code == 1
    assert result.output.startswith("BLOCKED: settlement 90000000020 will not be posted\n")
    assert "variance 785.89" in result.output.splitlines()[1]
    assert "each balanced" not in result.output and "(not posted: blocked)" in result.output
    doc = json.loads(_inspect(path, "--json").output)
    assert (doc["ok"], doc["status"], [b["name"] for b in doc["blocked"]]) == (
        False, "blocked", ["settlement_totals_match"])


def test_ready_file_with_warnings_types_rules_and_period():
    result = _inspect(FILES / "na-unified.txt")
    assert result.exit_code == 0, result.output
    assert "warning: several marketplaces in one settlement (CA, MX, US)" in result.output
    assert "warning: tax collected 8.00 and withheld by Amazon net to zero (US)" in result.output
    assert "AMZ 90000000020 2026-06" in result.output  # the journal description keeps the period
    doc = json.loads(_inspect(FILES / "na-unified.txt", "--json").output)
    assert doc["status"] == "ready" and doc["journals"][0]["description"] == "AMZ 90000000020 2026-06"
    sales = [a for a in doc["accounts"] if a["account"] == "4000"][0]
    assert {(t["marketplace"], t["amount_description"]) for t in sales["types"]} == {
        ("US", "Principal"), ("CA", "Principal"), ("MX", "Principal")}
    assert all("-> sales" in t["rule"] for t in sales["types"])


def test_negative_settlement_is_flagged():
    result = _inspect(FILES / "neg-1-negative.txt")
    assert "warning: negative settlement: 150.00 USD owed to Amazon" in result.output


def test_foreign_currency_shows_company_amounts_and_yen_has_no_decimals():
    result = _inspect(FILES / "jp-v2-yen.txt")
    assert result.exit_code == 0, result.output
    assert "debit (company)" in result.output and "3,500" in result.output and "3,500.00" not in result.output
    doc = json.loads(_inspect(FILES / "jp-v2-yen.txt", "--json").output)
    lines = doc["journals"][0]["lines"]
    sales = [x for x in lines if x["account"] == "4000"][0]
    assert (sales["credit"], sales["ledger_credit"]) == ("3500", "23.45")
    clearing = [x for x in lines if x["account"] == "1210"]
    assert sum(float(x["ledger_credit"]) - float(x["ledger_debit"]) for x in clearing) == 0


def test_unmapped_hold_keeps_the_settlement_unposted(tmp_path, monkeypatch):
    from sage_amazon.ledger import settlements
    from sage_amazon.mapping import DEFAULTS_DIR

    text = (FILES / "neg-3-rolled-forward.txt").read_text().replace("Micro Deposit", "BrandNewAmazonThing")
    (tmp_path / "s.txt").write_text(text)
    default = settlements.preview(tmp_path / "s.txt", "x3")
    unmapped = {o.name: o for o in default.outcomes}["settlement_unmapped_lines"]
    assert not unmapped.passed and not unmapped.blocking and not default.blocked  # posts, suspense flagged
    (tmp_path / "map").mkdir()
    (tmp_path / "map" / "accounts.yaml").write_text(
        (DEFAULTS_DIR / "accounts.yaml").read_text().replace("unmapped: suspense", "unmapped: hold"))
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path / "map"))
    held = settlements.preview(tmp_path / "s.txt", "x3")
    assert [o.name for o in held.blocked] == ["settlement_unmapped_lines"]
    assert held.blocked[0].description.startswith("on hold (accounts.yaml unmapped: hold): 1 line(s)")
    result = _inspect(tmp_path / "s.txt")
    assert result.exit_code == 1 and result.output.startswith("BLOCKED")


def test_unreadable_file_names_line_column_and_value_in_json(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text((FILES / "ca-v1-blanks.txt").read_text().replace("32.09    ", "32.O9    "))
    result = _inspect(path, "--json")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert (doc["status"], doc["line"], doc["column"], doc["value"]) == ("unreadable", 3, "price-amount", "32.O9")


def test_lines_before_the_start_and_without_posted_date_are_warned(tmp_path):
    lines = (FILES / "na-unified.txt").read_text().splitlines()
    lines[2] = lines[2].replace("2026-06-02 00:00:00 UTC", "2026-05-30 00:00:00 UTC")
    lines[3] = lines[3].replace("2026-06-02 00:00:00 UTC\t2026-06-02 12:00:00 UTC", "\t")
    path = tmp_path / "dates.txt"
    path.write_text("\n".join(lines) + "\n")
    doc = json.loads(_inspect(path, "--json").output)
    assert doc["status"] == "ready"
    assert any(w.startswith("1 line(s) posted before the settlement start 2026-06-01") for w in doc["warnings"])
    assert "1 line(s) without a posted date: dated at the settlement end" in doc["warnings"]
    assert [j["reference"] for j in doc["journals"]] == ["AMZ-90000000020-202605", "AMZ-90000000020-202606"]
