"""Fee anomalies (non-blocking evidence) and the `sage-amazon settlement` commands."""

from __future__ import annotations

import json
from decimal import Decimal

from click.testing import CliRunner

from sage_amazon.ledger import anomalies, settlements
from sage_amazon.ledger.cli import settlement_group
from tests.settlements.conftest import V1_SAMPLE, V2_SAMPLE

HEADER = V2_SAMPLE.read_text().splitlines()[0]


def _settlement(sid: str, items: list[tuple[str, str, str, str, str]], start="2026-06-16") -> str:
    """A V2 file of orders: (order id, sku, principal, commission, fba fee) per item."""
    rows, total = [], Decimal(0)
    for n, (order, sku, principal, commission, fba) in enumerate(items):
        for at, ad, amount in (("ItemPrice", "Principal", principal), ("ItemFees", "Commission", commission),
                               ("ItemFees", "FBAPerUnitFulfillmentFee", fba)):
            total += Decimal(amount)
            rows.append("\t".join([sid, "", "", "", "", "USD", "Order", order, "", "", "S1", "amazon.com", at, ad,
                                   amount, "AFN", f"{start} 00:00:00 UTC", f"{start} 08:00:00 UTC", f"I{n}", "",
                                   "", sku, "1", ""]))
    summary = "\t".join([sid, f"{start} 00:00:00 UTC", f"{start} 23:59:59 UTC", f"{start} 00:00:00 UTC", str(total),
                         "USD"] + [""] * 18)
    return "\n".join([HEADER, summary, *rows]) + "\n"


def test_referral_fee_far_from_the_skus_usual_rate_is_flagged_with_evidence(tmp_path):
    import duckdb

    con = duckdb.connect()
    history = [(f"111-{i}", "SKU-A", "100.00", "-15.00", "-3.00") for i in range(4)]
    (tmp_path / "h.txt").write_text(_settlement("100", history, "2026-05-01"))
    settlements.preview(tmp_path / "h.txt", "x3", con=con)
    current = [("222-1", "SKU-A", "100.00", "-15.00", "-3.00"), ("222-2", "SKU-A", "100.00", "-30.00", "-3.00"),
               ("222-3", "SKU-A", "100.00", "-15.00", "-9.50")]
    (tmp_path / "c.txt").write_text(_settlement("200", current))
    preview = settlements.preview(tmp_path / "c.txt", "x3", con=con)
    assert all(o.passed for o in preview.outcomes if o.blocking)  # anomalies never block
    found = {(a.order_id, a.fee): a for a in anomalies.find(con, "200")}
    assert set(found) == {("222-2", "referral_rate"), ("222-3", "fba_fee_per_unit")}
    referral = found[("222-2", "referral_rate")]
    assert (referral.observed, referral.usual, referral.basis, referral.sku) == (
        Decimal("0.3000"), Decimal("0.1500"), "sku", "SKU-A")
    assert referral.as_dict()["fee_amount"] == "30.00"
    assert found[("222-3", "fba_fee_per_unit")].usual == Decimal("3.0000")


def test_no_history_no_false_alarm(tmp_path):
    import duckdb

    con = duckdb.connect()
    (tmp_path / "c.txt").write_text(_settlement("300", [("1", "SKU-B", "50.00", "-7.50", "-2.00")]))
    settlements.preview(tmp_path / "c.txt", "x3", con=con)
    assert anomalies.find(con, "300") == []


def test_inspect_json_previews_journals_without_posting(data_dir):
    result = CliRunner().invoke(settlement_group, ["inspect", str(V2_SAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["ok"] is True and doc["settlement"]["settlement_id"] == "28471003921"
    assert doc["reconciliation"]["variance"] == "0.00"
    assert [j["reference"] for j in doc["journals"]] == ["AMZ-28471003921-202606", "AMZ-28471003921-202607"]
    for journal in doc["journals"]:
        assert sum(Decimal(x["debit"]) for x in journal["lines"]) == sum(Decimal(x["credit"]) for x in journal["lines"])
    assert not (data_dir / "warehouse").exists()  # nothing written, nothing posted


def test_inspect_fails_on_blocking_check_and_on_malformed_file(tmp_path, data_dir):
    runner = CliRunner()
    result = runner.invoke(settlement_group, ["inspect", str(V1_SAMPLE)])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "variance 1217.79" in result.output
    bad = tmp_path / "bad.txt"
    bad.write_text(V2_SAMPLE.read_text().replace("\t129.99\t", "\tabc\t", 1))
    result = runner.invoke(settlement_group, ["inspect", str(bad), "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert (doc["ok"], doc["line"], doc["column"]) == (False, 3, "amount") and "bad.txt" in doc["error"]


def test_import_keeps_the_file_and_adds_the_partition(tmp_path, data_dir, monkeypatch):
    import dagster as dg

    home = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    home.mkdir()
    runner = CliRunner()
    result = runner.invoke(settlement_group, ["import", str(V2_SAMPLE)])
    assert result.exit_code == 0, result.output
    kept = data_dir / "raw" / "settlements" / "28471003921.txt"
    assert kept.read_bytes() == V2_SAMPLE.read_bytes()
    manifest = json.loads((data_dir / "raw" / "settlements" / "28471003921.json").read_text())
    assert manifest["origin"] == "import" and manifest["file_format"] == "V2"
    with dg.DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions("settlement_ids") == ["28471003921"]
    again = runner.invoke(settlement_group, ["import", str(V2_SAMPLE)])
    assert again.exit_code == 0 and "already imported" in again.output
    broken = tmp_path / "broken.txt"
    broken.write_text("settlement-id\tamount\n")
    failed = runner.invoke(settlement_group, ["import", str(broken)])
    assert failed.exit_code == 1 and "broken.txt" in failed.output
