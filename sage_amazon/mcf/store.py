"""The MCF flow's tables: what Sage holds (raw.sage_mcf_orders, replaced by each read), what Amazon was sent and
answered (ops.mcf_orders: one row per sellerFulfillmentOrderId, kept), Amazon's shipments (ops.mcf_shipments)."""

from __future__ import annotations

import json
from typing import Any

SAGE_ORDERS = "raw.sage_mcf_orders"
ORDERS = "ops.mcf_orders"
SHIPMENTS = "ops.mcf_shipments"

DDL = (
    "CREATE SCHEMA IF NOT EXISTS raw",
    "CREATE SCHEMA IF NOT EXISTS ops",
    f"""CREATE TABLE IF NOT EXISTS {SAGE_ORDERS} (
        sage_number VARCHAR PRIMARY KEY, channel VARCHAR, status VARCHAR, order_date DATE, customer VARCHAR,
        customer_order_ref VARCHAR, ship_to VARCHAR, lines VARCHAR, tracking VARCHAR, at_fba BOOLEAN,
        not_at_fba VARCHAR, read_at TIMESTAMPTZ)""",
    # state: creating (sent, answer not seen yet) | created | cancel_refused
    f"""CREATE TABLE IF NOT EXISTS {ORDERS} (
        seller_fulfillment_order_id VARCHAR PRIMARY KEY, sage_number VARCHAR NOT NULL, marketplace_id VARCHAR,
        state VARCHAR NOT NULL, amazon_status VARCHAR, status_updated VARCHAR, shipping_speed VARCHAR,
        estimated_fees VARCHAR, fees_currency VARCHAR, latest_arrival VARCHAR, submitted_at TIMESTAMPTZ,
        updated_at TIMESTAMPTZ)""",
    f"""CREATE TABLE IF NOT EXISTS {SHIPMENTS} (
        seller_fulfillment_order_id VARCHAR NOT NULL, amazon_shipment_id VARCHAR NOT NULL, status VARCHAR,
        shipping_date VARCHAR, carrier VARCHAR, tracking_number VARCHAR, items VARCHAR,
        PRIMARY KEY (seller_fulfillment_order_id, amazon_shipment_id))""",
)


def ensure(con: Any) -> None:
    for statement in DDL:
        con.execute(statement)


def replace_sage_orders(con: Any, rows: list[dict[str, Any]]) -> int:
    ensure(con)
    con.execute(f"DELETE FROM {SAGE_ORDERS}")
    if rows:
        columns = list(rows[0])
        con.executemany(f"INSERT INTO {SAGE_ORDERS} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                        [[r[c] for c in columns] for r in rows])
    return len(rows)


def rows(con: Any, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def sage_orders(con: Any) -> list[dict[str, Any]]:
    ensure(con)
    out = rows(con, f"SELECT * FROM {SAGE_ORDERS} ORDER BY sage_number")
    for r in out:
        r["ship_to"], r["lines"] = json.loads(r["ship_to"] or "{}"), json.loads(r["lines"] or "[]")
    return out


def mcf_orders(con: Any) -> dict[str, dict[str, Any]]:
    ensure(con)
    return {r["seller_fulfillment_order_id"]: r for r in rows(con, f"SELECT * FROM {ORDERS}")}


def upsert_order(con: Any, sfoid: str, **values: Any) -> None:
    """Insert or update one ops.mcf_orders row (updated_at = now())."""
    ensure(con)
    columns = ["seller_fulfillment_order_id", *values]
    updates = ", ".join(f"{c} = excluded.{c}" for c in values)
    con.execute(f"INSERT INTO {ORDERS} ({', '.join(columns)}, updated_at) VALUES "
                f"({', '.join('?' * len(columns))}, now()) ON CONFLICT (seller_fulfillment_order_id) DO UPDATE SET "
                f"{updates}{', ' if updates else ''}updated_at = now()", [sfoid, *values.values()])


def delete_order(con: Any, sfoid: str) -> None:
    con.execute(f"DELETE FROM {ORDERS} WHERE seller_fulfillment_order_id = ?", [sfoid])


def put_shipment(con: Any, sfoid: str, shipment: dict[str, Any]) -> None:
    ensure(con)
    con.execute(f"INSERT OR REPLACE INTO {SHIPMENTS} VALUES (?, ?, ?, ?, ?, ?, ?)",
                [sfoid, shipment["amazon_shipment_id"], shipment["status"], shipment["shipping_date"],
                 shipment["carrier"], shipment["tracking_number"], json.dumps(shipment["items"])])


def shipments(con: Any) -> list[dict[str, Any]]:
    ensure(con)
    out = rows(con, f"SELECT s.*, o.sage_number FROM {SHIPMENTS} s JOIN {ORDERS} o USING (seller_fulfillment_order_id) "
                    "WHERE s.status = 'SHIPPED' ORDER BY s.seller_fulfillment_order_id, s.amazon_shipment_id")
    for r in out:
        r["items"] = json.loads(r["items"] or "[]")
    return out


def forget_address(con: Any, sage_number: str) -> None:
    """The order is at Amazon: its ship-to leaves the warehouse."""
    con.execute(f"UPDATE {SAGE_ORDERS} SET ship_to = '{{}}' WHERE sage_number = ?", [sage_number])


def known_numbers(con: Any) -> set[str]:
    ensure(con)
    return {r[0] for r in con.execute(f"SELECT sage_number FROM {ORDERS} WHERE state <> 'creating'").fetchall()}
