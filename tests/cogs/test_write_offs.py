"""Reimbursed, lost and liquidated units leave inventory at cost (issue 17.4): a hand-made US settlement with two
sales and Amazon's adjustments (two units lost, one of them found again and its reimbursement reversed; one unit
damaged, paid in two amount lines; one liquidated) posts, per SKU, the written-off units x the item's cost in
Sage to Inventory losses (5020) against FBA inventory (1310), beside the sold units' COGS, on X3 and Sage 500."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from sage_amazon.amazon import settlement as parser
from sage_amazon.ledger import cogs, reports, settlements
from sage_amazon.mapping import accounts
from sage_amazon.warehouse import Warehouse
from tests.tax.handmade import Sale, sage500_sandbox, write, x3_sandbox

D = Decimal
SID = "91700000701"
DAY = date(2026, 9, 10)
SALES = [Sale("111-1700701-0000001", "NW-TENT-2P", 1, D("149.99"), D("0"), "CA", D("0"), DAY),
         Sale("111-1700701-0000002", "NW-PAD-UL", 2, D("59.99"), D("0"), "CA", D("0"), DAY)]
# (transaction-type, order/adjustment id, amount-type, amount-description, amount, day, SKU, quantity)
ADJUSTMENTS = [
    ("other-transaction", "", "other-transaction", "WAREHOUSE_LOST", D("120.00"), DAY, "NW-TENT-2P", 2),
    ("other-transaction", "", "other-transaction", "REVERSAL_REIMBURSEMENT", D("-60.00"), DAY, "NW-TENT-2P", 1),
    ("other-transaction", "ADJ-DMG-1", "other-transaction", "WAREHOUSE_DAMAGE", D("20.00"), DAY, "NW-PAD-UL", 0),
    ("other-transaction", "ADJ-DMG-1", "other-transaction", "WAREHOUSE_DAMAGE", D("4.50"), DAY, "NW-PAD-UL", 0),
    ("Liquidations", "", "Liquidations", "LiquidationsRevenue", D("7.00"), DAY, "NW-STOVE-CMP", 1),
    # a customer return Amazon reimbursed: sold before, its cost is COGS already; not written off again
    ("other-transaction", "", "other-transaction", "Refund Reimbursal", D("19.99"), DAY, "NW-LAMP-300", 1),
]
WRITTEN_OFF = {"NW-TENT-2P": 1, "NW-PAD-UL": 1, "NW-STOVE-CMP": 1}  # 2 lost - 1 found; 1 damaged; 1 liquidated
SOLD = {"NW-TENT-2P": 1, "NW-PAD-UL": 2}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def file(tmp_path_factory):
    path = tmp_path_factory.mktemp("writeoffs") / f"{SID}.txt"
    write(path, SID, date(2026, 9, 1), date(2026, 9, 14), SALES, extra=ADJUSTMENTS)
    return path


def _land(wh, path, target):
    with wh.write() as con:
        accounts.write_table(con, accounts.load(), target)
        parser.land(con, path)
        settlements.build(con, SID)


def _expected(costs: dict[str, Decimal]) -> dict[str, Decimal]:
    """Debit-positive per account: COGS of the sold units, losses of the written-off ones, out of FBA inventory."""
    sold = sum((costs[s] * n for s, n in SOLD.items()), D(0))
    lost = sum((costs[s] * n for s, n in WRITTEN_OFF.items()), D(0))
    return {"5000": sold.quantize(D("0.01")), "5020": lost.quantize(D("0.01")),
            "1310": -(sold + lost).quantize(D("0.01"))}


def test_written_off_units_per_sku(file, tmp_path):
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    _land(wh, file, "x3")
    conf = cogs.settings("x3")
    with wh.write() as con:
        found = {u.sku: (u.sold, u.written_off) for u in cogs.units(con, SID, "sellable", conf.write_offs,
                                                                      conf.reinstated)}
        without = {u.sku for u in cogs.units(con, SID, "sellable")}
    assert found == {"NW-TENT-2P": (1, 1), "NW-PAD-UL": (2, 1), "NW-STOVE-CMP": (0, 1)}
    assert without == set(SOLD)  # no patterns, no write-offs


def test_write_offs_post_at_the_x3_item_valuation(file, tmp_path):
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    _land(wh, file, "x3")
    with x3_sandbox(tmp_path) as (x3, target):
        report = cogs.run(wh.write, target, SID, "x3")
        again = cogs.run(wh.write, target, SID, "x3")
        costs = {r["ITMREF_0"]: D(str(r["AVC_0"])) for r in x3.rows("ITMMVT") if r["STOFCY_0"] == "FBAUS"}
        lines = x3.rows("GACCENTRYD")
    assert report.all_posted and list(report.posted) == [f"COGS-{SID}-202609"] and not again.posted
    posted: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        posted[line["ACC_0"]] += D(str(line["AMTCUR_0"])) * line["SNS_0"]
    assert dict(posted) == _expected(costs)
    with wh.write() as con:
        table = {r["sku"]: (r["units_written_off"], r["write_off_cost"], r["posted"]) for r in cogs.rows(con, SID)}
    assert table == {s: (WRITTEN_OFF.get(s, 0), (costs[s] * WRITTEN_OFF.get(s, 0)).quantize(D("0.01")), True)
                     for s in ("NW-TENT-2P", "NW-PAD-UL", "NW-STOVE-CMP")}
    with wh.write() as con:
        margin = reports.build(con, "margin")
    by_sku = {r[2]: dict(zip(margin.columns, r, strict=True)) for r in margin.rows}
    assert {s: (r["units_written_off"], r["write_off_cost"]) for s, r in by_sku.items() if r["units_written_off"]} == {
        s: (n, (costs[s] * n).quantize(D("0.01"))) for s, n in WRITTEN_OFF.items()}


def test_write_offs_post_at_the_sage500_standard_cost(file, tmp_path):
    from sqlalchemy import text

    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    _land(wh, file, "sage500")
    with sage500_sandbox() as (db, target):
        report = cogs.run(wh.write, target, SID, "sage500")
        with db.engine.connect() as conn:
            costs = {i: D(c) for i, c in conn.execute(text(
                "SELECT ItemID, StdUnitCost FROM timItem WHERE CompanyID = :c"), {"c": db.company_id})}
            rows = conn.execute(text("SELECT a.GLAcctNo, t.PostAmt FROM tglTransaction t "
                                     "JOIN tglAccount a ON a.GLAcctKey = t.GLAcctKey")).fetchall()
    assert report.all_posted
    posted: dict[str, Decimal] = defaultdict(Decimal)
    for acc, amount in rows:
        posted[acc] += D(amount)
    assert dict(posted) == _expected(costs)
