"""Checks on the order models: a Great Expectations suite (wrapped as asset checks) and native checks.

Record-level problems (an unmapped SKU, a wrong currency, totals that do not add up) do not block:
the load dead-letters those orders with their reason and posts the others. Structural problems (the
mart does not have one row per order, lines fan out) block the load.
"""

import dagster as dg

from resources import pools
from resources.warehouse import WarehouseResource

WARN = dg.AssetCheckSeverity.WARN
# the record-level checks (RECORD_LEVEL) say in the UI why an ORDER_CHANGE run leaves them "Not evaluated"
NOT_ON_CHANGES = " (not evaluated by ORDER_CHANGE runs: the nightly catch-up and `sage-amazon run` evaluate it, on every day)"

# check name -> (asset, expectation kind, kwargs); the suite is built from this inside the check
GX_SUITE = {
    "gx_order_id_present": ("sage_orders", "ExpectColumnValuesToNotBeNull", {"column": "amazon_order_id"}),
    "gx_order_id_unique": ("sage_orders", "ExpectColumnValuesToBeUnique", {"column": "amazon_order_id"}),
    "gx_order_date_present": ("sage_orders", "ExpectColumnValuesToNotBeNull", {"column": "order_date"}),
    "gx_marketplace_present": ("sage_orders", "ExpectColumnValuesToNotBeNull", {"column": "marketplace_id"}),
    "gx_currency_known": ("sage_orders", "ExpectColumnValuesToBeInSet", {"column": "currency"}),
    "gx_site_and_customer_mapped": ("sage_orders", "ExpectColumnValuesToNotBeNull", {"column": "customer"}),
    "gx_quantity_positive": ("sage_order_lines", "ExpectColumnValuesToBeBetween", {"column": "quantity", "min_value": 1}),
    "gx_gross_price_not_negative": ("sage_order_lines", "ExpectColumnValuesToBeBetween",
                                    {"column": "gross_price", "min_value": 0}),
}


def _frame(con, sql: str):
    return con.execute(sql).df()


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(name, asset=asset, description=f"Great Expectations: {kind} {kwargs}" + NOT_ON_CHANGES)
           for name, (asset, kind, kwargs) in GX_SUITE.items()],
    can_subset=True,
    pool=None,  # one short read under the warehouse lock, then seconds of GX outside any pool
)
def order_expectations(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    """The orders suite on the orders the load would post (action 'post')."""
    from sage_amazon import quality

    with warehouse.read() as con:
        orders = _frame(con, "SELECT * FROM marts.sage_orders WHERE action = 'post'")
        lines = _frame(con, "SELECT l.* FROM marts.sage_order_lines l JOIN marts.sage_orders o USING (amazon_order_id)"
                            " WHERE o.action = 'post'")
        currencies = [r[0] for r in con.execute("SELECT currency FROM ref.order_currencies").fetchall()]
    frames = {"sage_orders": orders, "sage_order_lines": lines}
    selected = {key.name for key in context.selected_asset_check_keys}
    for asset in ("sage_orders", "sage_order_lines"):
        suite = {
            name: (kind, {**kwargs, "value_set": currencies} if name == "gx_currency_known" else kwargs)
            for name, (a, kind, kwargs) in GX_SUITE.items()
            if a == asset and name in selected
        }
        for name, res in quality.validate(frames[asset], suite, name=f"orders_{asset}").items():
            yield dg.AssetCheckResult(
                check_name=name, asset_key=asset, passed=res.passed, severity=WARN,
                metadata={"rows": int(len(frames[asset])), "unexpected_count": res.unexpected_count,
                          "examples": ", ".join(res.examples)},
                description=None if res.passed else "the orders concerned are dead-lettered by the load, not posted",
            )


@dg.asset_check(asset="sage_orders", pool=pools.DUCKDB_WRITE,
                description="Every SKU of an order to post maps to a Sage item (exact match, then alias)" + NOT_ON_CHANGES)
def every_sku_mapped(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.read() as con:
        rows = con.execute(
            """SELECT l.sku, count(DISTINCT l.amazon_order_id) FROM marts.sage_order_lines l
               JOIN marts.sage_orders o USING (amazon_order_id)
               WHERE o.action = 'post' AND l.item IS NULL GROUP BY l.sku ORDER BY 2 DESC""").fetchall()
    orders = sum(n for _, n in rows)
    return dg.AssetCheckResult(
        passed=not rows, severity=WARN,
        metadata={"unmapped_skus": len(rows), "orders_held": int(orders),
                  "skus": dg.MetadataValue.md("\n".join(f"- {s}: {n} order(s)" for s, n in rows) or "_none_")})


@dg.asset_check(asset="sage_orders", pool=pools.DUCKDB_WRITE,
                description="Amazon's order total equals the sum of its lines (price + tax + shipping - discounts)"
                + NOT_ON_CHANGES)
def order_totals_match_lines(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.read() as con:
        rows = con.execute(
            """SELECT amazon_order_id, order_total, lines_total FROM marts.sage_orders
               WHERE order_total IS NOT NULL AND order_total <> lines_total ORDER BY amazon_order_id""").fetchall()
        checked = con.execute("SELECT count(*) FROM marts.sage_orders WHERE order_total IS NOT NULL").fetchone()[0]
    return dg.AssetCheckResult(
        passed=not rows, severity=WARN,
        metadata={"orders_checked": int(checked), "mismatches": len(rows),
                  "examples": dg.MetadataValue.md("\n".join(f"- {o}: total {t}, lines {s}" for o, t, s in rows[:10])
                                                  or "_none_")})


def _run_days(context: dg.AssetCheckExecutionContext) -> tuple[str, list[str]]:
    """The structural checks look at the days the run rebuilt (the order models are daily): an ORDER_CHANGE
    run costs its day, not the whole history. A run without partitions checks everything."""
    if context.has_partition_key:
        return " WHERE partition_date = CAST(? AS DATE)", [context.partition_key]
    if context.has_partition_key_range:
        keys = context.partition_key_range
        return " WHERE partition_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)", [keys.start, keys.end]
    return "", []


def _days_label(days: list[str]) -> str:
    """The days a result is about, for the UI (a check of a ranged run has no partition of its own)."""
    return "days " + "..".join(dict.fromkeys(days)) if days else "all days"


@dg.asset_check(asset="sage_orders", blocking=True, pool=pools.DUCKDB_WRITE,
                description="Structural: one mart row per staged order (a join fan-out or a lost order blocks the load)")
def one_row_per_order(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    where, days = _run_days(context)
    with warehouse.read() as con:
        mart, distinct = con.execute(
            f"SELECT count(*), count(DISTINCT amazon_order_id) FROM marts.sage_orders{where}", days).fetchone()
        staged = con.execute(f"SELECT count(*) FROM staging.stg_amazon_orders{where}", days).fetchone()[0]
    return dg.AssetCheckResult(passed=mart == distinct == staged, description=_days_label(days),
                               metadata={"days": _days_label(days), "mart_rows": int(mart), "distinct_orders": int(distinct),
                                         "staged_orders": int(staged)})


@dg.asset_check(asset="sage_order_lines", blocking=True, pool=pools.DUCKDB_WRITE,
                description="Structural: one mapped line per staged order item")
def one_line_per_item(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    where, days = _run_days(context)
    with warehouse.read() as con:
        lines = con.execute(f"SELECT count(*) FROM marts.sage_order_lines{where}", days).fetchone()[0]
        staged = con.execute(f"SELECT count(*) FROM staging.stg_amazon_order_items{where}", days).fetchone()[0]
    return dg.AssetCheckResult(passed=lines == staged, description=_days_label(days),
                               metadata={"days": _days_label(days), "lines": int(lines), "staged_items": int(staged)})


# blocking: a broken mart never reaches Sage (these run with every order run)
STRUCTURAL = (one_row_per_order, one_line_per_item)
# warnings: the load dead-letters the orders concerned (these run with the nightly catch-up and `run`)
RECORD_LEVEL = (order_expectations, every_sku_mapped, order_totals_match_lines)
