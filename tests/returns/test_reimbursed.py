"""Reimbursed units leave Sage's stock again: a damaged return Amazon reimbursed (report status "Reimbursed") is received
into the non-sellable stock and issued out of it, once each, on both ERPs; a sellable return stays. The staging rows
are written straight into the warehouse (no Amazon sandbox needed)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from sage_amazon.returns import restock

DAY = date(2026, 11, 12)
US = "ATVPDKIKX0DER"
SKU = "NW-LAMP-300"  # X3 calls it NW-HL300 (ref.sku_map)
ROWS = [  # order, ref, disposition, Amazon's status
    ("111-0000001-0000001", "LPN-DMG-1", "CUSTOMER_DAMAGED", "Reimbursed"),
    ("111-0000002-0000002", "LPN-OK-2", "SELLABLE", "Unit returned to inventory"),
    ("111-0000003-0000003", "LPN-DEF-3", "DEFECTIVE", "Unit returned to inventory"),
]


@pytest.fixture
def warehouse(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    import hashlib

    from resources.warehouse import WarehouseResource

    tag = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:4]  # the X3 sandbox lives for the session
    wh = WarehouseResource(path=str(tmp_path / "warehouse.duckdb"), lock_timeout_seconds=30)
    with wh.write() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS staging")
        con.execute("CREATE SCHEMA IF NOT EXISTS ref")
        con.execute("CREATE TABLE ref.sku_map (sku VARCHAR, item VARCHAR)")
        if "x3" in request.node.name:
            con.execute("INSERT INTO ref.sku_map VALUES (?, 'NW-HL300')", [SKU])
        con.execute("CREATE TABLE staging.stg_amazon_returns (return_date DATE, channel VARCHAR, "
                    "amazon_order_id VARCHAR, sku VARCHAR, quantity INTEGER, disposition VARCHAR, reason VARCHAR, "
                    "fulfillment_center_id VARCHAR, return_ref VARCHAR, returned_at TIMESTAMP, amazon_status VARCHAR, "
                    "marketplace_id VARCHAR, units_shipped BIGINT, returned_to_date BIGINT, status VARCHAR)")
        for order, ref, disposition, status in ROWS:
            con.execute("INSERT INTO staging.stg_amazon_returns VALUES (?, 'AFN', ?, ?, 1, ?, 'DEFECTIVE', 'PHX7', "
                        "?, ?, ?, ?, 1, 1, 'ok')",
                        [DAY, order, SKU, disposition, f"{ref}-{tag}", datetime(2026, 11, 12, 9), status, US])
    return wh


def _rules() -> restock.ReturnRules:
    return restock.load({"mode": "receive", "dispositions": {
        "SELLABLE": {"site": "fba"},
        "CUSTOMER_DAMAGED": {"site": "fba", "status": "R", "bin": "DMG", "reason": "DAMAGED"},
        "DEFECTIVE": {"site": "fba", "status": "R", "bin": "DMG", "reason": "DAMAGED"}}})


def _non_sellable(target: Any) -> Decimal:
    """Units of the item in the FBA site's non-sellable stock (X3 status R, Sage 500 bin DMG)."""
    if target.name == "x3":
        rows = target.sandbox.rows("STOCK", STOFCY="FBAUS", ITMREF="NW-HL300", STA="R")
        return sum((Decimal(r["QTYSTU_0"]) for r in rows), Decimal("0"))
    with target._tx() as conn:
        return conn.execute(text(
            "SELECT coalesce(sum(i.QtyOnHand), 0) FROM timWhseBinInvt i JOIN timWhseBin b ON b.WhseBinKey = "
            "i.WhseBinKey JOIN timWarehouse w ON w.WhseKey = b.WhseKey JOIN timItem t ON t.ItemKey = i.ItemKey "
            "WHERE w.WhseID = 'FBAUS' AND b.WhseBinID = 'DMG' AND t.ItemID = :i"), {"i": SKU}).scalar_one()


def test_reimbursed_damaged_units_leave_the_stock_they_came_into(warehouse: Any, target: Any) -> None:
    from sage_amazon.inventory import rules as inventory_rules

    before = _non_sellable(target)
    result = restock.receive(warehouse.write, target, [DAY], _rules(), inventory_rules.load(target.name))
    assert result.counts["posted"] == 4, result.samples  # 3 receipts + 1 issue of the reimbursed unit
    keys = [s["record"] for s in result.samples]
    reimbursed = [k for k in keys if k.endswith("|reimbursed")]
    assert len(reimbursed) == 1 and reimbursed[0].startswith("111-0000001-0000001|")
    # the reimbursed damaged unit came in and went out; the defective one (not reimbursed) stays
    assert _non_sellable(target) == before + 1
    with warehouse.read() as con:
        plan = restock.plan(con, DAY, _rules(), inventory_rules.load(target.name))[0]
    issue = next(rc for rc in plan if rc.key.endswith("|reimbursed"))
    assert (issue.quantity, issue.status, issue.bin) == (Decimal("-1"), "R", "DMG")
    again = restock.receive(warehouse.write, target, [DAY], _rules(), inventory_rules.load(target.name))
    assert again.counts["posted"] == 0 and again.counts["already_posted"] == 4
    assert _non_sellable(target) == before + 1
