"""Checks on the mcf flow: every eligible Sage order is at Amazon or a dead letter; no order cancelled in Sage is still
being shipped by Amazon. Warnings (never silent): the dead letters carry the detail."""

import dagster as dg

from resources import pools
from resources.warehouse import WarehouseResource

WARN = dg.AssetCheckSeverity.WARN

UNACCOUNTED = """
SELECT s.sage_number, s.order_date FROM raw.sage_mcf_orders s
LEFT JOIN ops.mcf_orders o ON o.seller_fulfillment_order_id = s.sage_number
LEFT JOIN ops.dead_letters d ON d.flow = 'mcf_orders' AND d.record_key = s.sage_number AND d.status = 'open'
WHERE s.status = 'open' AND s.at_fba AND (o.seller_fulfillment_order_id IS NULL OR o.state = 'creating')
  AND d.record_key IS NULL
ORDER BY s.sage_number
"""

STILL_SHIPPING = """
SELECT s.sage_number, o.amazon_status, o.state FROM raw.sage_mcf_orders s
JOIN ops.mcf_orders o ON o.seller_fulfillment_order_id = s.sage_number
WHERE s.status = 'cancelled' AND coalesce(o.amazon_status, '') NOT IN ('Cancelled', 'Unfulfillable', 'Invalid')
ORDER BY s.sage_number
"""


def _ready(con) -> bool:
    from sage_amazon import deadletters
    from sage_amazon.mcf import store

    store.ensure(con)
    deadletters.ensure(con)
    return True


@dg.asset_check(asset="amazon_mcf_orders", pool=pools.DUCKDB_WRITE,
                description="Every open Sage order of the channels whose items are at FBA is an MCF order at Amazon, "
                            "or an open dead letter saying why not")
def every_eligible_order_at_amazon(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.write() as con:
        rows = con.execute(UNACCOUNTED).fetchall() if _ready(con) else []
    return dg.AssetCheckResult(passed=not rows, severity=WARN, metadata={
        "unaccounted": len(rows), "orders": ", ".join(r[0] for r in rows[:50]) or "-"})


@dg.asset_check(asset="amazon_mcf_orders", pool=pools.DUCKDB_WRITE,
                description="No order cancelled in Sage is still being shipped by Amazon (a cancellation Amazon "
                            "refused once the order was picked: intercept the parcel or take the return)")
def no_cancelled_order_shipping(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.write() as con:
        rows = con.execute(STILL_SHIPPING).fetchall() if _ready(con) else []
    return dg.AssetCheckResult(passed=not rows, severity=WARN, metadata={
        "still_shipping": len(rows),
        "orders": dg.MetadataValue.md("| order | Amazon status | state |\n|---|---|---|\n"
                                      + "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows[:30])
                                      if rows else "_none_")})


CHECKS = [every_eligible_order_at_amazon, no_cancelled_order_shipping]
