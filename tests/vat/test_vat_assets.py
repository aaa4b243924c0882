"""The VAT assets of the settlements flow and the `sage-amazon vat` commands (issue 17.1, 17.5): a settlement whose
VAT waits fails the blocking check settlement_vat_decided, which stands before settlement_journal_postings (its
journals are not posted while the check says why); the summary asset puts the returns' boxes in its metadata;
`sage-amazon vat land-report` lands Amazon's VAT report and `vat summary` exports CSV / XLSX."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import dagster as dg
from click.testing import CliRunner

from sage_amazon.cli import main
from sage_amazon.ledger.vat import journal as vat
from sage_amazon.ledger.vat import summary
from sage_amazon.warehouse import Warehouse
from tests.vat import sellers
from tests.vat.handmade import Order, Settlement

D = Decimal
WAITING = Settlement("91710000008", "GBP", date(2026, 7, 1), date(2026, 7, 14), [
    sellers.UK.orders[0],
    # a business buyer's order shipped from DE to FR: its FC was not landed and Amazon's VAT report not yet read
    Order("202-1710008-0000002", "UK", "NW-BAG-20F", D("95.00"), "FR", sellers.JULY),
])


def test_waiting_vat_fails_the_blocking_check_before_the_postings(tmp_path, monkeypatch):
    from assets.settlements.vat import settlement_vat
    from resources.sage import SageResource
    from resources.warehouse import WarehouseResource
    from sage_amazon.definitions import defs

    sellers.write_profile(tmp_path, sellers.UK_PROFILE)
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path))
    path = WAITING.build(tmp_path, "x3").path
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("settlement_ids", [WAITING.settlement_id])
        result = dg.materialize([settlement_vat], partition_key=WAITING.settlement_id, instance=instance,
                                resources={"warehouse": WarehouseResource(path=str(path)),
                                           "sage": SageResource(target="x3")}, raise_on_error=False)
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "settlement_vat_decided" and not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert "order 202-1710008-0000002: departure country unknown" in check.description
    # the check blocks, and settlement_journal_postings (and the VAT journals) come after it
    graph = (defs() if callable(defs) else defs).resolve_asset_graph()
    spec = next(s for s in graph.get(dg.AssetKey("settlement_vat")).check_keys if s.name == "settlement_vat_decided")
    assert graph.get_check_spec(spec).blocking
    assert dg.AssetKey("settlement_vat") in graph.get(dg.AssetKey("settlement_journal_postings")).parent_keys
    # the cockpit's overview shows the settlement waiting, and why
    from sage_amazon.cockpit import overview

    with Warehouse(path, lock_timeout=60).write() as con:
        [row] = [r for r in overview.settlement_rows(con) if r["settlement_id"] == WAITING.settlement_id]
    assert row["status"] == "waiting"
    assert row["reason"].startswith("VAT waits (1 lines): order 202-1710008-0000002: departure country unknown")
    # the data arrives (Amazon's VAT report: DE->FR to a VAT-registered business): decided, nothing waits
    report = tmp_path / "vat-report.txt"
    report.write_text("ACTIVITY_TRANSACTION_ID\tTRANSACTION_TYPE\tSALE_DEPART_COUNTRY\tSALE_ARRIVAL_COUNTRY\t"
                      "BUYER_VAT_NUMBER\tTAX_COLLECTION_RESPONSIBILITY\n"
                      "202-1710008-0000002\tSALE\tDE\tFR\tFR40303265045\tSELLER\n")
    data = tmp_path / "data"
    (data / "warehouse").mkdir(parents=True)
    path.rename(data / "warehouse" / "sage_amazon.duckdb")
    monkeypatch.setenv("SAGE_AMAZON_DATA_DIR", str(data))
    done = CliRunner().invoke(main, ["vat", "land-report", str(report)])
    assert done.exit_code == 0, done.output
    assert "landed 1 VAT transaction rows" in done.output
    with Warehouse(data / "warehouse" / "sage_amazon.duckdb", lock_timeout=60).write() as con:
        again = vat.decide_settlement(con, WAITING.settlement_id, "x3")
    assert again.waiting == {}
    assert {r.treatment for r in again.rows if r.order_id == "202-1710008-0000002"} == {"intra_eu"}


def test_summary_asset_and_cli_export(tmp_path, monkeypatch):
    from assets.settlements.vat import vat_return_summary
    from resources.sage import SageResource
    from resources.warehouse import WarehouseResource

    sellers.write_profile(tmp_path, sellers.DE_PROFILE)
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path))
    data = tmp_path / "data"
    path = data / "warehouse" / "sage_amazon.duckdb"
    path.parent.mkdir(parents=True)
    sellers.DE.build(tmp_path, "x3").path.rename(path)
    with Warehouse(path, lock_timeout=60).write() as con:
        vat.decide_settlement(con, sellers.DE.settlement_id, "x3")
        summary.build_boxes(con, sellers.DE.settlement_id)
    with dg.instance_for_test() as instance:
        result = dg.materialize([vat_return_summary], instance=instance,
                                resources={"warehouse": WarehouseResource(path=str(path)),
                                           "sage": SageResource(target="x3")})
    meta = result.asset_materializations_for_node("vat_return_summary")[0].metadata
    assert meta["returns"].value == 2  # the UStVA of DE811907980 and the OSS return
    assert "| 2026-Q3 | DE811907980 | DE UStVA | 83 | 9.50 |" in meta["summary"].value
    monkeypatch.setenv("SAGE_AMAZON_DATA_DIR", str(data))
    done = CliRunner().invoke(main, ["vat", "summary", str(tmp_path / "q3.csv"), "--period", "2026-Q3"])
    assert done.exit_code == 0, done.output
    lines = (tmp_path / "q3.csv").read_text().splitlines()
    assert "2026-Q3,OSS:DE811907980,DE,OSS,FR_vat,20.00,1" in lines
    assert "2026-Q3,DE811907980,DE,DE UStVA,41,200.00,1" in lines
    refused = CliRunner().invoke(main, ["vat", "summary", str(tmp_path / "q3.pdf")])
    assert refused.exit_code != 0 and ".csv or .xlsx" in refused.output
