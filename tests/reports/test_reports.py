"""Reports finance files with (issue 17.5): a hand-made US settlement (three facilitator states, a refund, one
order the orders flow never landed) is built and its COGS posted to the X3 sandbox; the US sales-tax summary per
state equals the accountant's tax, the margin summary per SKU equals price less Amazon's fees less units x the
item's cost in Sage; the assets show the tables in their metadata and `sage-amazon report` writes them as CSV and
XLSX."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal

import pytest
from click.testing import CliRunner

from sage_amazon.amazon import settlement as parser
from sage_amazon.ledger import cogs, facilitator_tax, reports, settlements
from sage_amazon.mapping import accounts
from sage_amazon.warehouse import Warehouse
from tests.tax.handmade import Sale, accountant_tax_by_state, cents, land_orders, write, x3_sandbox

D = Decimal
SID = "91700000501"
CA, WA, NY = D("0.0725"), D("0.1025"), D("0.08875")
SALES = [
    Sale("111-1700501-0000001", "NW-TENT-2P", 1, D("149.99"), D("5.99"), "CA", CA, date(2026, 7, 2)),
    Sale("111-1700501-0000002", "NW-PAD-UL", 2, D("59.99"), D("0"), "WA", WA, date(2026, 7, 3)),
    Sale("111-1700501-0000003", "NW-LAMP-300", 1, D("19.99"), D("0"), "NY", NY, date(2026, 7, 4),
         refunded=1, refund_day=date(2026, 7, 9)),
    Sale("111-1700501-0000004", "NW-STOVE-CMP", 3, D("39.99"), D("0"), "CA", CA, date(2026, 7, 5)),
    Sale("111-1700501-0000005", "NW-BAG-20F", 1, D("189.95"), D("0"), None, NY, date(2026, 7, 8)),
]
X3_ITEMS = {"NW-LAMP-300": "NW-HL300"}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(data dir, Sage costs per SKU): the settlement landed, built, its tax split and its COGS posted to X3."""
    root = tmp_path_factory.mktemp("reports")
    data = root / "data"
    (data / "dagster_home").mkdir(parents=True)
    path = root / f"{SID}.txt"
    write(path, SID, date(2026, 7, 1), date(2026, 7, 14), SALES)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAGE_AMAZON_DATA_DIR", str(data))
        mp.setenv("DAGSTER_HOME", str(data / "dagster_home"))
        from sage_amazon import config

        wh = Warehouse(config.load().warehouse_path, lock_timeout=60)
        with wh.write() as con:
            accounts.write_table(con, accounts.load(), "x3")
            land_orders(con, SALES)
            parser.land(con, path)
            settlements.build(con, SID)
            facilitator_tax.build(con, SID)
        with x3_sandbox(root) as (x3, target):
            report = cogs.run(wh.write, target, SID, "x3")
            avc = {r["ITMREF_0"]: D(str(r["AVC_0"])) for r in x3.rows("ITMMVT") if r["STOFCY_0"] == "FBAUS"}
        assert report.all_posted
        yield data, wh, {s.sku: avc[X3_ITEMS.get(s.sku, s.sku)] for s in SALES}


def _accountant_margin(costs: dict[str, Decimal]) -> dict[str, tuple]:
    """SKU -> (units sold, revenue, Amazon fees, COGS, margin): price less refunds, commission 15% and the FBA fee
    (12% of the refunded price comes back), the sold units at Sage's cost (the refunded lamp never came back)."""
    out = {}
    for s in SALES:
        revenue = s.principal - s.refund_principal
        fees = -cents(s.principal * D("0.15")) - D("5.40") * s.quantity + cents(s.refund_principal * D("0.12"))
        cost = (costs[s.sku] * s.quantity).quantize(D("0.01"))
        out[s.sku] = (s.quantity, revenue, fees, cost, revenue + fees - cost)
    return out


def test_sales_tax_and_margin_summaries_equal_the_accountants(built):
    data, wh, costs = built
    with wh.write() as con:
        tax = reports.build(con, "sales-tax")
        margin = reports.build(con, "margin")
    got_tax = {r[2]: dict(zip(tax.columns, r, strict=True)) for r in tax.rows}
    expected_tax = accountant_tax_by_state(SALES, {"CA": "CA", "WA": "WA", "NY": "NY"})
    assert {st: (r["tax_collected"], r["tax_remitted_by_amazon"], r["seller_to_remit"])
            for st, r in got_tax.items()} == {st: (c, -w, D("0.00")) for st, (c, w) in expected_tax.items()}
    assert {r["month"] for r in got_tax.values()} == {"2026-07"}
    got = {r[2]: dict(zip(margin.columns, r, strict=True)) for r in margin.rows}
    assert {sku: (r["units_sold"], r["revenue"], r["amazon_fees"], r["cogs"], r["margin"])
            for sku, r in got.items()} == _accountant_margin(costs)
    assert all(r["month"] == "2026-07" and r["currency"] == "USD" and r["units_without_cost"] == 0
               for r in got.values())


def test_report_command_writes_csv_and_xlsx(built, monkeypatch, tmp_path):
    from openpyxl import load_workbook

    from sage_amazon.cli import main

    data, _, costs = built
    monkeypatch.setenv("SAGE_AMAZON_DATA_DIR", str(data))
    monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
    done = CliRunner().invoke(main, ["report", "margin", str(tmp_path / "margin.csv"), "--month", "2026-07"])
    assert done.exit_code == 0, done.output
    assert "margin (5 rows)" in done.output
    with (tmp_path / "margin.csv").open(newline="") as handle:
        rows = {r["sku"]: r for r in csv.DictReader(handle)}
    assert {sku: D(r["margin"]) for sku, r in rows.items()} == {k: v[4] for k, v in _accountant_margin(costs).items()}

    done = CliRunner().invoke(main, ["report", "sales-tax", str(tmp_path / "tax.xlsx")])
    assert done.exit_code == 0, done.output
    sheet = list(load_workbook(tmp_path / "tax.xlsx")["sales-tax"].iter_rows(values_only=True))
    by_state = {r[2]: dict(zip(sheet[0], r, strict=True)) for r in sheet[1:]}
    assert sorted(by_state) == ["CA", "NY", "WA", "unknown"]
    assert D(str(by_state["CA"]["tax_collected"])) == accountant_tax_by_state(SALES, {"CA": "CA"})["CA"][0]

    empty = CliRunner().invoke(main, ["report", "margin", str(tmp_path / "none.csv"), "--month", "2026-08"])
    assert empty.exit_code == 0 and "margin (0 rows)" in empty.output
    bad = CliRunner().invoke(main, ["report", "margin", str(tmp_path / "margin.pdf")])
    assert bad.exit_code == 2 and "written as .csv or .xlsx" in bad.output
    bad_month = CliRunner().invoke(main, ["report", "margin", str(tmp_path / "m.csv"), "--month", "July"])
    assert bad_month.exit_code == 2 and "--month must be YYYY-MM, got 'July'" in bad_month.output


def test_the_report_assets_show_their_tables(built):
    import dagster as dg

    from assets.month_end.reports import sku_margin_summary, us_sales_tax_summary
    from resources.warehouse import WarehouseResource

    data, wh, costs = built
    with dg.instance_for_test() as instance:
        result = dg.materialize([us_sales_tax_summary, sku_margin_summary], instance=instance,
                                resources={"warehouse": WarehouseResource(path=str(wh.path))})
    assert result.success
    tax = result.asset_materializations_for_node("us_sales_tax_summary")[0].metadata
    margin = result.asset_materializations_for_node("sku_margin_summary")[0].metadata
    expected = _accountant_margin(costs)
    assert margin["dagster/row_count"].value == 5
    assert margin["cogs"].value == f"{sum(v[3] for v in expected.values()):.2f}"
    records = {r.data["sku"]: r.data for r in margin["table"].value.records}
    assert {sku: D(r["margin"]) for sku, r in records.items()} == {k: v[4] for k, v in expected.items()}
    assert tax["tax_collected"].value == f"{sum(c for c, _ in accountant_tax_by_state(SALES, {}).values()):.2f}"
    assert "| month | marketplace | state |" in tax["preview"].value
