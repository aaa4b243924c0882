"""Landing extracted orders, items and shipments in the raw tables, and the extraction log.

- `replace_days`: delete the days' rows, insert the extract (a partition re-run never duplicates);
- `append_versions`: add the current version of some orders (after ORDER_CHANGE), replacing only an
  identical version (same order, same last-updated time), so a duplicate notification changes nothing.
Staging keeps the latest version of each order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sage_amazon.amazon.orders import ITEM_COLUMNS, ORDER_COLUMNS, Extract
from sage_amazon.amazon.reports import SHIPMENT_COLUMNS
from sage_amazon.warehouse import insert_rows

if TYPE_CHECKING:
    import duckdb

ORDERS_TABLE, ITEMS_TABLE, SHIPMENTS_TABLE = "raw.amazon_orders", "raw.amazon_order_items", "raw.amazon_fba_shipments"
LOG_DDL = """
CREATE TABLE IF NOT EXISTS ops.order_extractions (
    flow VARCHAR NOT NULL,              -- orders | fba_shipments
    partition_date DATE NOT NULL,
    extracted_at TIMESTAMP NOT NULL,
    source VARCHAR NOT NULL,
    mode VARCHAR NOT NULL,              -- day | orders
    records INTEGER NOT NULL,
    api_calls INTEGER NOT NULL,
    drift VARCHAR                       -- schema drift seen, NULL when none
)
"""


def _ddl(table: str, columns: dict[str, str]) -> str:
    cols = ", ".join(f"{name} {dtype}" for name, dtype in columns.items())
    return f"CREATE TABLE IF NOT EXISTS {table} ({cols})"


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    for schema in ("raw", "ops"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute(_ddl(ORDERS_TABLE, ORDER_COLUMNS))
    con.execute(_ddl(ITEMS_TABLE, ITEM_COLUMNS))
    con.execute(_ddl(SHIPMENTS_TABLE, SHIPMENT_COLUMNS))
    con.execute(LOG_DDL)


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str], rows: Sequence[dict]) -> None:
    insert_rows(con, table, columns, [[row.get(n) for n in columns] for row in rows])


def _log(con: duckdb.DuckDBPyConnection, flow: str, days: Iterable[date], extract_source: str, mode: str,
         counts: dict[date, int], calls: int, drift: list[str]) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    days = sorted(set(days))
    text = "; ".join(drift)[:2000] if drift else None
    con.executemany(
        "INSERT INTO ops.order_extractions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [[flow, d, now, extract_source or "none", mode, counts.get(d, 0), calls if i == 0 else 0, text]
         for i, d in enumerate(days)],
    )


def replace_days(con: duckdb.DuckDBPyConnection, days: Sequence[date], extract: Extract) -> dict[date, int]:
    """Replace the given days' orders and items with the extract's; returns orders per day."""
    ensure(con)
    days = sorted(set(days))
    orders = [o for o in extract.orders if o["partition_date"] in days]
    keep = {o["amazon_order_id"] for o in orders}
    items = [i for i in extract.items if i["amazon_order_id"] in keep]
    con.execute("BEGIN")
    try:
        for table in (ORDERS_TABLE, ITEMS_TABLE):
            con.execute(f"DELETE FROM {table} WHERE partition_date IN (SELECT unnest(?::DATE[]))", [days])
        _insert(con, ORDERS_TABLE, ORDER_COLUMNS, orders)
        _insert(con, ITEMS_TABLE, ITEM_COLUMNS, items)
        counts: dict[date, int] = {}
        for o in orders:
            counts[o["partition_date"]] = counts.get(o["partition_date"], 0) + 1
        _log(con, "orders", days, extract.source, "day", counts, extract.calls, extract.drift)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return counts


def append_versions(con: duckdb.DuckDBPyConnection, extract: Extract) -> dict[date, int]:
    """Add the orders' current versions (sensor runs); an identical version is replaced, not doubled."""
    ensure(con)
    counts: dict[date, int] = {}
    con.execute("BEGIN")
    try:
        for o in extract.orders:
            # on the order's purchase day only (a version's day never changes): zone maps skip the other days,
            # so an event costs its day, not the history
            key = [o["partition_date"], o["amazon_order_id"], o["last_updated"]]
            for table in (ITEMS_TABLE, ORDERS_TABLE):
                con.execute(f"DELETE FROM {table} WHERE partition_date IS NOT DISTINCT FROM ? AND amazon_order_id = ? "
                            "AND last_updated IS NOT DISTINCT FROM ?", key)
            # logged on the day the models put it: an order without a purchase day on the day it was extracted
            day = o["partition_date"] or o["extracted_at"].date()
            counts[day] = counts.get(day, 0) + 1
        _insert(con, ORDERS_TABLE, ORDER_COLUMNS, extract.orders)
        _insert(con, ITEMS_TABLE, ITEM_COLUMNS, extract.items)
        if counts or extract.drift:
            _log(con, "orders", counts or [datetime.now(UTC).date()], extract.source, "orders", counts,
                 extract.calls, extract.drift)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return counts


def replace_shipment_days(con: duckdb.DuckDBPyConnection, days: Sequence[date], rows: list[dict[str, Any]],
                          calls: int, drift: list[str], source: str = "fulfilled_shipments_report") -> dict[date, int]:
    ensure(con)
    days = sorted(set(days))
    rows = [r for r in rows if r["partition_date"] in days]
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM {SHIPMENTS_TABLE} WHERE partition_date IN (SELECT unnest(?::DATE[]))", [days])
        _insert(con, SHIPMENTS_TABLE, SHIPMENT_COLUMNS, rows)
        counts: dict[date, int] = {}
        for r in rows:
            counts[r["partition_date"]] = counts.get(r["partition_date"], 0) + 1
        _log(con, "fba_shipments", days, source, "day", counts, calls, drift)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return counts


def typical_daily_volume(con: duckdb.DuckDBPyConnection, flow: str, before: date, days: int = 14) -> float:
    """Average records per day logged in the `days` days before `before` (0 when unknown)."""
    ensure(con)
    row = con.execute(
        """WITH last AS (
             SELECT partition_date, records FROM ops.order_extractions
             WHERE flow = ? AND mode = 'day' AND partition_date < ? AND partition_date >= ? - ?::INTEGER
             QUALIFY row_number() OVER (PARTITION BY partition_date ORDER BY extracted_at DESC) = 1)
           SELECT coalesce(avg(records), 0) FROM last""", [flow, before, before, days]).fetchone()
    return float(row[0] or 0)


def unexpected_empty_days(con: duckdb.DuckDBPyConnection, days: Sequence[date], by_day: dict[date, int],
                          today: date, minimum: float = 5.0) -> list[date]:
    """Finished days without any order although the seller usually has `minimum` a day: in the 14 days
    logged before, or (within this extraction) on the days since its first day with orders. Days before
    the seller's first order in the range are not suspicious (a new seller, a short history)."""
    with_orders = sorted(d for d, n in by_day.items() if n)
    first = with_orders[0] if with_orders else None
    since_first = [d for d in days if first is not None and first <= d < today]
    in_run = sum(by_day.get(d, 0) for d in since_first) / max(1, len(since_first))
    out = []
    for day in sorted(days):
        if day >= today or by_day.get(day):
            continue
        usual = typical_daily_volume(con, "orders", day)
        if first is not None and day > first:
            usual = max(usual, in_run)
        if usual >= minimum:
            out.append(day)
    return out


def preview(rows: list[dict[str, Any]], columns: Sequence[str], limit: int = 10) -> str:
    """A small markdown table of some rows (no payloads, no addresses)."""
    if not rows:
        return "_no rows_"
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "".join("| " + " | ".join(_cell(r.get(c)) for c in columns) + " |\n" for r in rows[:limit])
    more = f"\n_{len(rows) - limit} more rows_" if len(rows) > limit else ""
    return head + body + more


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        value = json.dumps(value, default=str)
    return str(value).replace("|", "/").replace("\n", " ")[:60]
