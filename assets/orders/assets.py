"""Order to cash: extraction assets (amazon_orders, amazon_order_items) and the Sage load.

Thin: the work is in sage_amazon.amazon.orders, sage_amazon.orders.{raw,refdata,load}.
"""


from datetime import UTC, date, datetime

import dagster as dg

from assets.partitions import amounts_by_day, daily_partitions, report_per_partition, rows_by_day
from assets.retry import RETRY_POLICY, retried
from resources import pools
from resources.sage import SageResource
from resources.sp_api import SpApiResource
from resources.warehouse import WarehouseResource
from sage_amazon import deadletters

API_RETRY = LOAD_RETRY = RETRY_POLICY  # the one retry policy (assets/retry.py)
MIN_EXPECTED_PER_DAY = 5.0  # a past day with no order is suspicious when the seller usually has this many


class OrderExtractConfig(dg.Config):
    order_ids: list[str] = []  # only these orders (an ORDER_CHANGE run); empty: the partitions' days
    order_marketplaces: dict[str, str] = {}  # order -> MarketplaceId from its ORDER_CHANGE: asked of that region's host


class OrderLoadConfig(dg.Config):
    order_ids: list[str] = []  # only these orders (an ORDER_CHANGE run); empty: every order not yet posted
    workers: int = 4  # parallel postings (X3 pool size)


def _days(context: dg.AssetExecutionContext) -> list[date]:
    return [date.fromisoformat(k) for k in context.partition_keys]


@dg.multi_asset(
    specs=[
        dg.AssetSpec("amazon_orders", kinds={"amazon", "duckdb"}, metadata={"dagster/table_name": "raw.amazon_orders"},
                     description="Amazon orders (raw.amazon_orders), one row per order version, by purchase day (UTC)"),
        dg.AssetSpec("amazon_order_items", kinds={"amazon", "duckdb"}, metadata={"dagster/table_name": "raw.amazon_order_items"},
                     description="Amazon order items (raw.amazon_order_items), by purchase day (UTC)"),
    ],
    check_specs=[
        dg.AssetCheckSpec("no_schema_drift", asset="amazon_orders", blocking=True,
                          description="Every payload had the fields all orders have; the raw table has its columns"),
        dg.AssetCheckSpec("not_empty_when_expected", asset="amazon_orders", blocking=True,
                          description="A finished day with no order, when the seller usually has orders, blocks the load"),
    ],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=pools.SP_API,  # the raw write is one short warehouse session
    retry_policy=API_RETRY,
)
@retried
def amazon_orders(context: dg.AssetExecutionContext, config: OrderExtractConfig, sp_api: SpApiResource,
                  warehouse: WarehouseResource):
    """searchOrders 2026-01-01 per day; the all-orders report (one per 30-day window) for backfills;
    getOrder for the orders an ORDER_CHANGE named."""
    from sage_amazon.amazon import orders as amazon
    from sage_amazon.mapping.orders import marketplace_by_channel
    from sage_amazon.orders import raw

    days = _days(context)
    api = sp_api.get_client()
    v0 = sp_api.api_version.lower() in ("v0", "0")
    if config.order_ids:
        extract = (amazon.get_orders_v0_by_id if v0 else amazon.get_orders_2026)(api, config.order_ids,
                                                                                 config.order_marketplaces)
        mode = "orders"
    elif len(days) > sp_api.report_backfill_days:
        spans = amazon.windows(days)
        context.log.info(f"{len(spans)} all-orders report(s): " + ", ".join(f"{f}..{la}" for f, la in spans))
        extract = amazon.orders_from_reports(api, spans, marketplace_by_channel(),
                                             poll_seconds=sp_api.report_poll_seconds)
        mode = "days"
    else:
        extract = amazon.Extract(source="orders_v0" if v0 else "orders_2026")
        for day in days:
            start, end = amazon.day_window(day)
            if end <= start:
                continue
            extract.extend((amazon.get_orders_v0 if v0 else amazon.search_orders)(api, start, end))
        mode = "days"

    # structural checks, before anything is replaced
    by_day: dict[date, int] = {}
    for order in extract.orders:
        by_day[order["partition_date"]] = by_day.get(order["partition_date"], 0) + 1
    today = datetime.now(UTC).date()
    with warehouse.write() as con:
        raw.ensure(con)
        columns = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema='raw' AND table_name='amazon_orders'"
        ).fetchall()}
        missing_columns = sorted(set(amazon.ORDER_COLUMNS) - columns)
        empty_days: list[str] = []
        if mode == "days":
            empty_days = [d.isoformat() for d in raw.unexpected_empty_days(con, days, by_day, today,
                                                                          MIN_EXPECTED_PER_DAY)]
        drift = list(extract.drift)
        if missing_columns:
            drift.append(f"raw.amazon_orders lacks columns {missing_columns}")
        structural_ok = not drift and not empty_days
        if mode == "orders":
            counts = raw.append_versions(con, extract)
        elif structural_ok:
            counts = raw.replace_days(con, days, extract)
        else:
            counts = {}  # keep what the raw tables had: a broken extraction must not erase good data
            context.log.error(f"structural failure, raw tables left unchanged: drift={drift[:3]} empty={empty_days[:5]}")
    n_orders = len(extract.orders)
    n_items = len(extract.items)
    calls_per_1000 = round(extract.calls * 1000 / n_orders, 2) if n_orders else None
    preview = raw.preview(sorted(extract.orders, key=lambda o: str(o["purchase_date"])),
                          ["amazon_order_id", "purchase_date", "marketplace_id", "order_status",
                           "fulfillment_channel", "currency", "order_total"])
    common = {"source": extract.source, "mode": mode, "days": len(days), "sp_api_calls": extract.calls,
              "sp_api_calls_per_1000_orders": calls_per_1000}
    if mode == "days":  # each day its own counts and totals, not the run's (an ORDER_CHANGE run: the run's)
        report_per_partition(context, rows_by_day(extract.orders), amounts_by_day(extract.orders, "order_total"),
                             asset_key="amazon_orders")
        report_per_partition(context, rows_by_day(extract.items), asset_key="amazon_order_items")
    yield dg.MaterializeResult(asset_key="amazon_orders", metadata={
        "dagster/row_count": n_orders, **common, "landed_days": len(counts),
        "preview": dg.MetadataValue.md(preview)})
    item_preview = raw.preview(extract.items, ["amazon_order_id", "sku", "quantity", "unit_price", "item_price",
                                               "promotion_discount", "currency"])
    yield dg.MaterializeResult(asset_key="amazon_order_items", metadata={
        "dagster/row_count": n_items, **common, "preview": dg.MetadataValue.md(item_preview)})
    yield dg.AssetCheckResult(check_name="no_schema_drift", asset_key="amazon_orders", passed=not drift,
                              metadata={"problems": len(drift), "first": "; ".join(drift[:3])[:500]})
    yield dg.AssetCheckResult(check_name="not_empty_when_expected", asset_key="amazon_orders", passed=not empty_days,
                              metadata={"empty_days": ", ".join(empty_days[:20]), "count": len(empty_days)})


@dg.asset(
    kinds={"sage"},
    deps=["sage_orders", "sage_order_lines"],
    pool=pools.SAGE,
    retry_policy=LOAD_RETRY,
    tags={deadletters.FLOW_TAG: "orders"},  # = sage_amazon.orders.load.FLOW (replay re-runs this asset)
    description="Posts marts.sage_orders to Sage once each (posting ledger); closes cancelled orders; "
                "dead-letters what cannot be posted",
)
def sage_sales_orders(context: dg.AssetExecutionContext, config: OrderLoadConfig, warehouse: WarehouseResource,
                      sage: SageResource) -> dg.MaterializeResult:
    from assets.retry import transient_as_retry
    from sage_amazon import deadletters, posting_ledger
    from sage_amazon.orders import load, raw

    # short warehouse sessions inside the load, none held across a Sage call; Sage still down after the
    # retry budget: one line, the rest unposted, the step retried by RETRY_POLICY
    with sage.opened_target() as target, \
            transient_as_retry(lambda partial: {"counts": dg.MetadataValue.json(dict(partial.counts))}):
        result = load.load_orders(warehouse.write, target, order_ids=config.order_ids or None,
                                  workers=max(1, config.workers))
    with warehouse.write() as con:
        letters = deadletters.summary(con, load.FLOW)
        ledger = posting_ledger.counts(con, load.FLOW)
    counts = result.counts
    context.log.info(f"sales orders: {dict(counts)}")
    reasons = "\n".join(f"| {r} | {n} |" for r, n in letters["top_reasons"])
    return dg.MaterializeResult(metadata={
        "dagster/row_count": sum(counts.values()),
        "posted": counts["posted"] + counts["adopted"],
        "adopted_existing": counts["adopted"],
        "already_posted": counts["already_posted"],
        "skipped_waiting_for_amazon": counts["waiting"],
        "skipped_cancelled_before_posting": counts["cancelled_unposted"],
        "closed": counts["closed"],
        "dead_lettered": counts["dead_lettered"],
        "open_dead_letters": letters["open"],
        "top_dead_letter_reasons": dg.MetadataValue.md("| reason | orders |\n|---|---|\n" + reasons if reasons else "_none_"),
        "ledger_posted_total": ledger.get("posted", 0),
        "preview": dg.MetadataValue.md(raw.preview(result.samples, ["record", "outcome", "detail"], limit=15)),
    })
