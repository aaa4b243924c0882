"""FBA shipments: the fulfilled-shipments report lands raw.amazon_fba_shipments; the load records each
shipment on its Sage order (delivery status, carrier, tracking, shipped quantities)."""


from datetime import UTC, date, datetime, timedelta

import dagster as dg

from assets.orders.assets import API_RETRY, LOAD_RETRY
from assets.partitions import daily_partitions, report_per_partition
from assets.retry import retried
from resources import pools
from resources.sage import SageResource
from resources.sp_api import SpApiResource
from resources.warehouse import WarehouseResource
from sage_amazon import deadletters


@dg.asset(
    kinds={"amazon", "duckdb"},
    metadata={"dagster/table_name": "raw.amazon_fba_shipments"},
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=pools.SP_API,  # the raw write is one short warehouse session
    retry_policy=API_RETRY,
    check_specs=[dg.AssetCheckSpec("no_schema_drift", asset="amazon_fba_shipments", blocking=True,
                                   description="The report has the columns the load needs")],
    description="FBA shipment lines from GET_AMAZON_FULFILLED_SHIPMENTS_DATA_GENERAL, by shipment day (UTC); "
                "one report per window of up to 30 days",
)
@retried
def amazon_fba_shipments(context: dg.AssetExecutionContext, sp_api: SpApiResource, warehouse: WarehouseResource):
    from sage_amazon.amazon import reports
    from sage_amazon.amazon.orders import windows
    from sage_amazon.orders import raw

    days = [date.fromisoformat(k) for k in context.partition_keys]
    api = sp_api.get_client()
    rows: list[dict] = []
    drift: list[str] = []
    now = datetime.now(UTC)
    spans = []
    for first, last in windows(days):
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = min(datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1), now - timedelta(minutes=2))
        if end > start:
            spans.append((start, end))
    for text in reports.fetch_reports(api, reports.FULFILLED_SHIPMENTS_REPORT, spans,
                                      poll_seconds=sp_api.report_poll_seconds):
        parsed, problems = reports.parse_fulfilled_shipments(reports.parse_flat_file(text))
        rows.extend(parsed)
        drift.extend(problems)
    with warehouse.write() as con:
        counts = raw.replace_shipment_days(con, days, rows, api.total_calls, drift) if not drift else {}
    preview = raw.preview(rows, ["amazon_order_id", "shipment_id", "sku", "quantity_shipped", "shipment_date",
                                 "carrier", "tracking_number"])
    report_per_partition(context, {d.isoformat(): n for d, n in counts.items()})  # each day its own count
    yield dg.MaterializeResult(metadata={"dagster/row_count": sum(counts.values()), "sp_api_calls": api.total_calls,
                                         "days": len(days), "preview": dg.MetadataValue.md(preview)})
    yield dg.AssetCheckResult(check_name="no_schema_drift", passed=not drift,
                              metadata={"problems": "; ".join(drift)[:500]})


@dg.asset(
    kinds={"sage"},
    deps=["sage_order_shipments", "sage_sales_orders"],
    pool=pools.SAGE,
    retry_policy=LOAD_RETRY,
    tags={deadletters.FLOW_TAG: "order_shipments"},  # = sage_amazon.orders.load.SHIPMENT_FLOW
    description="Records each FBA shipment once on its Sage sales order (posting ledger flow order_shipments)",
)
def sage_shipment_updates(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                          sage: SageResource) -> dg.MaterializeResult:
    from assets.retry import transient_as_retry
    from sage_amazon import deadletters
    from sage_amazon.orders import load, raw

    with sage.opened_target() as target, \
            transient_as_retry(lambda partial: {"counts": dg.MetadataValue.json(dict(partial.counts))}):
        result = load.load_shipments(warehouse.write, target, workers=4)  # short sessions inside
    with warehouse.write() as con:
        letters = deadletters.summary(con, load.SHIPMENT_FLOW)
    counts = result.counts
    context.log.info(f"shipments: {dict(counts)}")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": sum(counts.values()),
        "posted": counts["posted"],
        "already_posted": counts["already_posted"],
        "skipped_order_not_posted": counts["waiting"],
        "dead_lettered": counts["dead_lettered"],
        "open_dead_letters": letters["open"],
        "preview": dg.MetadataValue.md(raw.preview(result.samples, ["record", "outcome", "detail"], limit=15)),
    })
