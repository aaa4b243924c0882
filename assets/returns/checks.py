"""Checks on the returns flow's datasets: returns that cannot be tied to what shipped, refunds larger than the
order. Warnings (never silent): the credit notes and stock movements dead-letter the same records."""

import dagster as dg

from resources import pools
from resources.warehouse import WarehouseResource

WARN = dg.AssetCheckSeverity.WARN


@dg.asset_check(asset="stg_amazon_returns", pool=pools.DUCKDB_WRITE,
                description="Every returned unit belongs to a known Amazon order and one of its SKUs, and no order "
                            "gets more units of a SKU back than it shipped")
def returns_tied_to_orders(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from sage_amazon.warehouse import table_exists

    with warehouse.read() as con:
        rows = [] if not table_exists(con, "staging.stg_amazon_returns") else con.execute(
            "SELECT status, amazon_order_id, sku, quantity, units_shipped, returned_to_date, return_date "
            "FROM staging.stg_amazon_returns WHERE status <> 'ok' ORDER BY return_date, amazon_order_id").fetchall()
    counts = {s: sum(r[0] == s for r in rows) for s in ("unknown_order", "unknown_sku", "over_return")}
    md = "\n".join(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4] if r[4] is not None else '-'} | {r[5]} |"
                   for r in rows[:30])
    return dg.AssetCheckResult(
        passed=not rows, severity=WARN,
        metadata={**counts, "lines": dg.MetadataValue.md(
            "| status | order | SKU | units | shipped | returned to date |\n|---|---|---|---|---|---|\n" + md
            if md else "_none_")})


REFUND_VS_ORDER = """
WITH refunded AS (
    SELECT amazon_order_id, currency, -sum(principal + shipping + gift_wrap + tax + promotion) AS refunded
    FROM raw.amazon_refund_items WHERE amazon_order_id <> '' GROUP BY amazon_order_id, currency
),
ordered AS (
    SELECT amazon_order_id,
           sum(coalesce(item_price, 0) + coalesce(item_tax, 0) + coalesce(shipping_price, 0)
               + coalesce(shipping_tax, 0) + coalesce(gift_wrap_price, 0) + coalesce(gift_wrap_tax, 0)
               - coalesce(promotion_discount, 0) - coalesce(shipping_discount, 0)) AS ordered
    FROM (SELECT *, row_number() OVER (PARTITION BY amazon_order_id, order_item_id
                                       ORDER BY last_updated DESC NULLS LAST, extracted_at DESC) AS rn
          FROM raw.amazon_order_items) WHERE rn = 1
    GROUP BY amazon_order_id
)
SELECT r.amazon_order_id, r.currency, r.refunded, o.ordered
FROM refunded AS r LEFT JOIN ordered AS o USING (amazon_order_id)
WHERE o.ordered IS NOT NULL AND r.refunded > o.ordered + 0.01
ORDER BY r.refunded - o.ordered DESC
"""


@dg.asset_check(asset="amazon_refund_transactions", pool=pools.DUCKDB_WRITE,
                description="No order is refunded more (principal, shipping, gift wrap, tax, promotion) than it "
                            "was charged")
def refund_not_larger_than_order(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from sage_amazon.warehouse import table_exists

    with warehouse.read() as con:
        ready = table_exists(con, "raw.amazon_refund_items") and table_exists(con, "raw.amazon_order_items")
        rows = con.execute(REFUND_VS_ORDER).fetchall() if ready else []
    md = "\n".join(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |" for r in rows[:30])
    return dg.AssetCheckResult(
        passed=not rows, severity=WARN,
        metadata={"larger_than_order": len(rows), "orders_readable": ready, "lines": dg.MetadataValue.md(
            "| order | currency | refunded | ordered |\n|---|---|---|---|\n" + md if md else "_none_")})


CHECKS = [returns_tied_to_orders, refund_not_larger_than_order]
