"""The returns flow's raw tables, one partition per UTC day (return date, or the transaction's posted date):
raw.amazon_fba_returns, raw.amazon_mfn_returns, raw.amazon_refund_transactions and raw.amazon_refund_items.
A day is replaced atomically: a re-run gives the same rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

MONEY = "DECIMAL(18,2)"
FBA_RETURNS = "raw.amazon_fba_returns"
MFN_RETURNS = "raw.amazon_mfn_returns"
REFUNDS = "raw.amazon_refund_transactions"
REFUND_ITEMS = "raw.amazon_refund_items"

COLUMNS: dict[str, dict[str, str]] = {
    FBA_RETURNS: {
        "return_date": "DATE NOT NULL", "returned_at": "TIMESTAMP", "amazon_order_id": "VARCHAR NOT NULL",
        "sku": "VARCHAR NOT NULL", "asin": "VARCHAR", "fnsku": "VARCHAR", "product_name": "VARCHAR",
        "quantity": "INTEGER NOT NULL", "fulfillment_center_id": "VARCHAR", "detailed_disposition": "VARCHAR",
        "reason": "VARCHAR", "status": "VARCHAR", "license_plate_number": "VARCHAR", "customer_comments": "VARCHAR",
        "extracted_at": "TIMESTAMP NOT NULL"},
    MFN_RETURNS: {
        "return_date": "DATE NOT NULL", "amazon_order_id": "VARCHAR NOT NULL", "order_date": "DATE",
        "return_status": "VARCHAR", "rma_id": "VARCHAR", "seller_rma_id": "VARCHAR", "currency": "VARCHAR",
        "asin": "VARCHAR", "sku": "VARCHAR NOT NULL", "product_name": "VARCHAR", "quantity": "INTEGER NOT NULL",
        "reason": "VARCHAR", "in_policy": "VARCHAR", "return_type": "VARCHAR", "resolution": "VARCHAR",
        "a_to_z_claim": "VARCHAR", "safet_claim_id": "VARCHAR", "return_delivery_date": "DATE",
        "order_amount": MONEY, "order_quantity": "INTEGER", "refunded_amount": MONEY, "category": "VARCHAR",
        "extracted_at": "TIMESTAMP NOT NULL"},
    REFUNDS: {
        "posted_date": "DATE NOT NULL", "posted_at": "TIMESTAMP", "transaction_id": "VARCHAR PRIMARY KEY",
        "transaction_type": "VARCHAR NOT NULL", "transaction_status": "VARCHAR", "description": "VARCHAR",
        "marketplace_id": "VARCHAR", "amazon_order_id": "VARCHAR", "refund_id": "VARCHAR",
        "settlement_id": "VARCHAR", "financial_event_group_id": "VARCHAR", "currency": "VARCHAR",
        "total_amount": f"{MONEY} NOT NULL", "extracted_at": "TIMESTAMP NOT NULL"},
    REFUND_ITEMS: {
        "transaction_id": "VARCHAR NOT NULL", "line_no": "INTEGER NOT NULL", "posted_date": "DATE NOT NULL",
        "amazon_order_id": "VARCHAR", "marketplace_id": "VARCHAR", "sku": "VARCHAR", "asin": "VARCHAR",
        "quantity": "INTEGER", "fulfillment_network": "VARCHAR", "adjustment_item_id": "VARCHAR",
        "currency": "VARCHAR", "item_total": f"{MONEY} NOT NULL", "principal": f"{MONEY} NOT NULL",
        "shipping": f"{MONEY} NOT NULL", "gift_wrap": f"{MONEY} NOT NULL", "tax": f"{MONEY} NOT NULL",
        "promotion": f"{MONEY} NOT NULL", "withheld_tax": f"{MONEY} NOT NULL", "fees": f"{MONEY} NOT NULL",
        "other": f"{MONEY} NOT NULL", "breakdowns": "VARCHAR"},
}
DAY_COLUMN = {FBA_RETURNS: "return_date", MFN_RETURNS: "return_date", REFUNDS: "posted_date",
              REFUND_ITEMS: "posted_date"}


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for table, cols in COLUMNS.items():
        extra = ", PRIMARY KEY (transaction_id, line_no)" if table == REFUND_ITEMS else ""
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ("
                    + ", ".join(f"{c} {t}" for c, t in cols.items()) + extra + ")")


def replace_days(con: duckdb.DuckDBPyConnection, tables: dict[str, list[dict[str, Any]]],
                 days: Iterable[date]) -> dict[str, int]:
    """Replace the given days of each table with `tables[table]` (rows outside the days are ignored, as Amazon
    returns whatever its window holds); all tables in one transaction. Returns rows written per table."""
    days = sorted(set(days))
    ensure(con)
    written: dict[str, int] = {}
    con.execute("BEGIN")
    try:
        for table, rows in tables.items():
            cols = list(COLUMNS[table])
            day_col = DAY_COLUMN[table]
            keep = [r for r in rows if r.get(day_col) in days]
            if table == REFUNDS:  # a transaction Amazon moved to another day is only in the newest read
                ids = [r["transaction_id"] for r in keep]
                if ids:
                    con.execute(f"DELETE FROM {table} WHERE transaction_id IN (SELECT unnest(?))", [ids])
                    con.execute(f"DELETE FROM {REFUND_ITEMS} WHERE transaction_id IN (SELECT unnest(?))", [ids])
            con.execute(f"DELETE FROM {table} WHERE {day_col} IN (SELECT unnest(?))", [days])
            if keep:
                con.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                                [[r.get(c) for c in cols] for r in keep])
            written[table] = len(keep)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return written
