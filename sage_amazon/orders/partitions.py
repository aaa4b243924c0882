"""The daily partitions (purchase days, UTC) that hold some orders: what a replay of their dead letters
rebuilds, since the order models are partitioned by day."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sage_amazon.warehouse import table_exists

if TYPE_CHECKING:
    import duckdb


def days_of_orders(con: duckdb.DuckDBPyConnection, order_ids: list[str]) -> list[str]:
    """The purchase days (ISO dates) of these Amazon orders, from the raw orders (any version)."""
    if not order_ids or not table_exists(con, "raw.amazon_orders"):
        return []
    rows = con.execute(
        """SELECT DISTINCT CAST(coalesce(partition_date, CAST(extracted_at AS DATE)) AS VARCHAR)
           FROM raw.amazon_orders WHERE amazon_order_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY 1""",
        [list(order_ids)],
    ).fetchall()
    return [r[0] for r in rows if r[0]]
