"""An ORDER_CHANGE run lands the order's current version (raw.append_versions): the same version landed again
replaces itself, on its purchase day or without one; a newer version is kept beside the older one."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import duckdb

from sage_amazon.amazon.orders import Extract
from sage_amazon.amazon.orders.rows import item_row, order_row
from sage_amazon.orders import raw

PURCHASED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
EXTRACTED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _version(order_id: str, purchase: datetime | None, updated: datetime, extract_id: str) -> Extract:
    common = {"source": "orders_2026", "extract_id": extract_id, "extracted_at": EXTRACTED}
    order = order_row(order_id, purchase, updated, marketplace_id="ATVPDKIKX0DER", sales_channel="Amazon.com",
                      status="UNSHIPPED", amazon_status="Unshipped", fulfillment_channel="MFN",
                      ship_service_level="Standard", currency="USD", order_total=Decimal("10.00"),
                      is_business_order=False, ship={}, **common)
    item = item_row(order_id, f"{order_id}-1", order["partition_date"], updated, sku="NW-MUG-01", asin="B0",
                    title="Mug", quantity=1, shipped=0, currency="USD", unit_price=Decimal("10.00"),
                    item_price=Decimal("10.00"), charges=(None,) * 7, status="Unshipped", **common)
    return Extract(orders=[order], items=[item], source="orders_2026")


def _rows(con, table: str, order_id: str) -> list[tuple]:
    return con.execute(f"SELECT extract_id, partition_date FROM {table} WHERE amazon_order_id = ? "
                       "ORDER BY extract_id", [order_id]).fetchall()


def test_the_same_version_replaces_itself_and_a_newer_one_is_kept_beside_it():
    con = duckdb.connect()
    first = PURCHASED.replace(hour=10)
    raw.append_versions(con, _version("111-1", PURCHASED, first, "a"))
    raw.append_versions(con, _version("111-1", PURCHASED, first, "b"))  # delivered twice
    assert _rows(con, raw.ORDERS_TABLE, "111-1") == [("b", PURCHASED.date())]
    assert _rows(con, raw.ITEMS_TABLE, "111-1") == [("b", PURCHASED.date())]
    raw.append_versions(con, _version("111-1", PURCHASED, first.replace(hour=11), "c"))  # changed since
    assert [r[0] for r in _rows(con, raw.ORDERS_TABLE, "111-1")] == ["b", "c"]
    assert [r[0] for r in _rows(con, raw.ITEMS_TABLE, "111-1")] == ["b", "c"]


def test_a_version_without_a_purchase_day_replaces_itself_too():
    con = duckdb.connect()
    raw.append_versions(con, _version("111-2", None, EXTRACTED, "a"))
    raw.append_versions(con, _version("111-2", None, EXTRACTED, "b"))
    assert _rows(con, raw.ORDERS_TABLE, "111-2") == [("b", None)]
    assert _rows(con, raw.ITEMS_TABLE, "111-2") == [("b", None)]
