"""The mapping tables the order models join (ref.*), written from YAML and the Sage item master."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sage_amazon.mapping import orders as mapping

if TYPE_CHECKING:
    import duckdb

# asset/table name -> (columns DDL)
TABLES: dict[str, str] = {
    "sku_map": "sku VARCHAR, item VARCHAR, rule VARCHAR",
    "marketplace_map": "marketplace_id VARCHAR, sales_channel VARCHAR, country VARCHAR, currency VARCHAR,"
                       " site VARCHAR, customer VARCHAR, order_type VARCHAR",
    "order_status_map": "amazon_status VARCHAR, sage_status VARCHAR, action VARCHAR",
    "carrier_map": "amazon_carrier VARCHAR, sage_carrier VARCHAR",
    "order_currencies": "currency VARCHAR",
    "sage_item_codes": "item VARCHAR",
}


def _replace(con: duckdb.DuckDBPyConnection, name: str, rows: list[tuple]) -> int:
    con.execute("CREATE SCHEMA IF NOT EXISTS ref")
    con.execute(f"CREATE OR REPLACE TABLE ref.{name} ({TABLES[name]})")
    if rows:
        marks = ", ".join("?" for _ in rows[0])
        con.executemany(f"INSERT INTO ref.{name} VALUES ({marks})", [list(r) for r in rows])
    return len(rows)


def write_mappings(con: duckdb.DuckDBPyConnection, target: str | None = None) -> dict[str, int]:
    """Write ref.sku_map, marketplace_map, order_status_map, carrier_map, order_currencies from YAML."""
    counts = {}
    counts["sku_map"] = _replace(con, "sku_map", mapping.sku_alias_rows(target))
    counts["marketplace_map"] = _replace(con, "marketplace_map", [
        (r["marketplace_id"], r["sales_channel"], r["country"], r["currency"], r["site"], r["customer"],
         r["order_type"]) for r in mapping.marketplace_rows(target)])
    counts["order_status_map"] = _replace(con, "order_status_map", [
        (r["amazon_status"], r["sage_status"], r["action"]) for r in mapping.status_rows()])
    carriers, default = mapping.carrier_rows(target)
    counts["carrier_map"] = _replace(con, "carrier_map", [
        *((r["amazon_carrier"], r["sage_carrier"]) for r in carriers), ("*", default)])
    counts["order_currencies"] = _replace(con, "order_currencies", [(c,) for c in mapping.known_currencies()])
    return counts


def write_item_codes(con: duckdb.DuckDBPyConnection, items: Iterable[str], target: str | None = None) -> int:
    """ref.sage_item_codes: the active Sage items a SKU may match exactly (empty if exact_match is off)."""
    rules = mapping.sku_rules(target)
    codes = sorted({i for i in items if i}) if rules.exact_match else []
    return _replace(con, "sage_item_codes", [(c,) for c in codes])


def active_item_codes(target_obj) -> list[str]:  # noqa: ANN001 - a SageTarget
    return [item.code for item in target_obj.read_items() if item.active]
