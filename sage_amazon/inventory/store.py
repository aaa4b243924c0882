"""The inventory flow's warehouse tables (raw.amazon_fba_inventory, raw.sage_stock), one partition per UTC day."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from sage_amazon.inventory import fba
from sage_amazon.inventory.stock import StockRow

if TYPE_CHECKING:
    import duckdb

FBA_TABLE = "raw.amazon_fba_inventory"
STOCK_TABLE = "raw.sage_stock"

FBA_DDL = f"""CREATE TABLE IF NOT EXISTS {FBA_TABLE} (
    snapshot_date DATE NOT NULL, marketplace_id VARCHAR NOT NULL, sku VARCHAR NOT NULL, fnsku VARCHAR,
    asin VARCHAR, condition VARCHAR, product_name VARCHAR,
    {", ".join(f"{c} INTEGER NOT NULL" for c in fba.QUANTITY_COLUMNS)},
    last_updated VARCHAR, source VARCHAR NOT NULL, observed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (snapshot_date, marketplace_id, sku))"""
STOCK_DDL = f"""CREATE TABLE IF NOT EXISTS {STOCK_TABLE} (
    snapshot_date DATE NOT NULL, sage_target VARCHAR NOT NULL, site VARCHAR NOT NULL, item VARCHAR NOT NULL,
    physical DECIMAL(18,4) NOT NULL, allocated DECIMAL(18,4) NOT NULL, available DECIMAL(18,4) NOT NULL,
    unit_cost DECIMAL(18,4) NOT NULL, active BOOLEAN NOT NULL, observed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (snapshot_date, site, item))"""


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(FBA_DDL)
    con.execute(STOCK_DDL)


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    rows = [list(r) for r in rows]
    if rows:
        con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                        rows)


def replace_fba_day(con: duckdb.DuckDBPyConnection, day: date, rows: list[dict[str, Any]]) -> int:
    """The day's FBA snapshot, replaced atomically (a re-run gives the same table)."""
    ensure(con)
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM {FBA_TABLE} WHERE snapshot_date = ?", [day])
        _insert(con, FBA_TABLE, fba.COLUMNS, ([r[c] for c in fba.COLUMNS] for r in rows))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(rows)


def upsert_fba_rows(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> int:
    """Rows from notifications: each replaces its (day, marketplace, SKU) row unless that row is newer."""
    ensure(con)
    applied = 0
    con.execute("BEGIN")
    try:
        for r in rows:
            newer = con.execute(
                f"SELECT 1 FROM {FBA_TABLE} WHERE snapshot_date = ? AND marketplace_id = ? AND sku = ? "
                "AND source = 'FBA_INVENTORY_AVAILABILITY_CHANGES' AND last_updated > ?",
                [r["snapshot_date"], r["marketplace_id"], r["sku"], r["last_updated"]]).fetchone()
            if newer:
                continue
            con.execute(f"DELETE FROM {FBA_TABLE} WHERE snapshot_date = ? AND marketplace_id = ? AND sku = ?",
                        [r["snapshot_date"], r["marketplace_id"], r["sku"]])
            _insert(con, FBA_TABLE, fba.COLUMNS, [[r[c] for c in fba.COLUMNS]])
            applied += 1
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return applied


STOCK_COLUMNS = ("snapshot_date", "sage_target", "site", "item", "physical", "allocated", "available", "unit_cost",
                 "active", "observed_at")


def replace_stock_day(con: duckdb.DuckDBPyConnection, day: date, target: str, rows: list[StockRow],
                      observed_at: Any) -> int:
    ensure(con)
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM {STOCK_TABLE} WHERE snapshot_date = ?", [day])
        _insert(con, STOCK_TABLE, STOCK_COLUMNS, ([day, target, r.site, r.item, r.physical, r.allocated,
                                                   r.available, r.unit_cost, r.active, observed_at] for r in rows))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(rows)
