"""The mapping review (issue 16.10): unmapped SKUs and fee types with suggested matches, by names and history."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from sage_amazon.mapping import accounts, review


@pytest.fixture
def con():
    con = duckdb.connect()
    for schema in ("marts", "raw", "ref", "staging"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute("CREATE TABLE ref.sage_item_codes (item VARCHAR)")
    con.executemany("INSERT INTO ref.sage_item_codes VALUES (?)",
                    [["NW-TENT-2P"], ["NW-BTL-1000"], ["NW-HL300"], ["NW-STOVE-1B"]])
    con.execute("CREATE TABLE ref.sku_map (sku VARCHAR, item VARCHAR, rule VARCHAR)")
    con.execute("INSERT INTO ref.sku_map VALUES ('NW-BOTTLE-1L', 'NW-BTL-1000', 'alias')")
    con.execute("CREATE TABLE raw.amazon_order_items (sku VARCHAR, title VARCHAR)")
    con.executemany("INSERT INTO raw.amazon_order_items VALUES (?, ?)", [
        ["NW-TENT-2P", "Northwind 2-Person Dome Tent, green"],
        ["NW-BOTTLE-1L", "Northwind Steel Water Bottle 1 L"],
        ["NW-TENT-2P-V2", "Northwind 2-Person Dome Tent, green (2026 edition)"],  # a new listing of the tent
        ["NW-STOVE1B", "Northwind single burner camping stove"],
        ["ZZ-UNKNOWN", "Gift card"]])
    con.execute("CREATE TABLE marts.sage_order_lines (amazon_order_id VARCHAR, sku VARCHAR, item VARCHAR)")
    con.executemany("INSERT INTO marts.sage_order_lines VALUES (?, ?, ?)", [
        ["111-1", "NW-TENT-2P", "NW-TENT-2P"], ["111-2", "NW-BOTTLE-1L", "NW-BTL-1000"],
        ["111-3", "NW-TENT-2P-V2", None], ["111-4", "NW-TENT-2P-V2", None], ["111-5", "NW-STOVE1B", None],
        ["111-6", "ZZ-UNKNOWN", None]])
    accounts.write_table(con, accounts.load(), "x3")
    con.execute("""CREATE TABLE staging.stg_settlement_categories (settlement_id VARCHAR, marketplace VARCHAR,
                   transaction_type VARCHAR, amount_type VARCHAR, amount_description VARCHAR, line_count INTEGER,
                   amount DECIMAL(18, 2), role VARCHAR, is_suspense BOOLEAN)""")
    con.executemany("INSERT INTO staging.stg_settlement_categories VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        ["24001", "US", "Order", "ItemFees", "Commission", 40, "-150.00", "marketplace_fees", False],
        ["24001", "US", "other-transaction", "other-transaction", "Vine Enrollment Fee", 1, "-200.00", "suspense",
         True],
        ["24002", "US", "Order", "ItemFees", "Comission Adjustment", 3, "-4.50", "suspense", True]])
    return con


def test_unmapped_skus_get_the_item_a_similar_code_or_title_points_at(con):
    rows = {r.name: r for r in review.unmapped_skus(con, "x3")}
    assert set(rows) == {"NW-TENT-2P-V2", "NW-STOVE1B", "ZZ-UNKNOWN"}
    tent = rows["NW-TENT-2P-V2"]
    assert tent.occurrences == 2 and tent.best.value == "NW-TENT-2P"
    assert tent.fix == "skus.yaml aliases.x3: NW-TENT-2P-V2: NW-TENT-2P"
    assert rows["NW-STOVE1B"].best.value == "NW-STOVE-1B" and "code like" in rows["NW-STOVE1B"].best.basis
    assert rows["ZZ-UNKNOWN"].suggestions == []  # nothing similar: no guess
    assert rows["ZZ-UNKNOWN"].fix.endswith("ZZ-UNKNOWN: <Sage item>")


def test_fee_types_in_suspense_get_roles_from_rules_and_mapped_fees(con):
    rows = {r.name: r for r in review.unmapped_fees(con)}
    vine = rows["other-transaction / other-transaction / Vine Enrollment Fee"]
    assert vine.best.value == "advertising" and "rule 'vine'" in vine.best.basis  # accounts.yaml's Vine rule
    assert vine.occurrences == 1 and vine.detail == "US; 1 settlement(s)" and vine.amount == Decimal("-200.00")
    assert vine.fix == ('accounts.yaml rules: - {transaction_type: "other-transaction", amount_type: '
                        '"other-transaction", description: "Vine Enrollment Fee", role: advertising}')
    commission = rows["Order / ItemFees / Comission Adjustment"]  # misspelt: still near the commission rule
    assert "marketplace_fees" in [s.value for s in commission.suggestions]
    assert len(commission.suggestions) <= review.MAX_SUGGESTIONS


def test_the_review_is_a_table_in_the_warehouse(con):
    rows = review.refresh(con, "x3")
    stored = con.execute(f"SELECT kind, name, best FROM {review.TABLE} ORDER BY kind, name").fetchall()
    assert len(stored) == len(rows) == 5
    assert ("sku", "NW-TENT-2P-V2", "NW-TENT-2P") in stored
