"""Returns and refunds (issue 15) as daily datasets. Thin: the work is in sage_amazon.returns.

- amazon_fba_returns: GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA by return day (UTC);
- amazon_mfn_returns: GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE by return request day;
- amazon_refund_transactions: Finances 2024-06-19 listTransactions of the refund family, by posted day, with one row
  per item and its amounts by kind (raw.amazon_refund_items).

Each is one report (or one listTransactions walk per marketplace) per window of up to 30 days, written in one short
warehouse session after the calls; a day is replaced, so a re-run changes nothing.
"""

from datetime import UTC, date, datetime, timedelta

import dagster as dg

from assets.flow import dead_letter_reasons
from assets.partitions import (
    OUTCOME_NAMES,
    amounts_by_day,
    daily_partitions,
    report_outcomes_per_partition,
    report_per_partition,
    rows_by_day,
)
from assets.retry import RETRY_POLICY, retried
from resources import pools
from resources.sage import SageResource
from resources.sp_api import SpApiResource
from resources.warehouse import WarehouseResource
from sage_amazon import deadletters


def _spans(context: dg.AssetExecutionContext, now: datetime) -> tuple[list[date], list[tuple[datetime, datetime]]]:
    from sage_amazon.amazon.orders import windows

    days = [date.fromisoformat(k) for k in context.partition_keys]
    spans = []
    for first, last in windows(days):
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = min(datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1),
                  now - timedelta(minutes=2))
        if end > start:
            spans.append((start, end))
    return days, spans


def _table_md(rows: list[dict], columns: list[str], limit: int = 15) -> str:
    if not rows:
        return "_none_"
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "\n".join("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows[:limit])


def _report_asset(context: dg.AssetExecutionContext, sp_api: SpApiResource, warehouse: WarehouseResource,
                  report_type: str, table: str, parse, preview: list[str]):
    from sage_amazon.amazon import reports
    from sage_amazon.returns import store

    now = datetime.now(UTC)
    days, spans = _spans(context, now)
    api = sp_api.get_client()
    rows: list[dict] = []
    drift: list[str] = []
    try:
        for text in reports.fetch_reports(api, report_type, spans, poll_seconds=sp_api.report_poll_seconds):
            parsed, problems = parse(reports.parse_flat_file(text), now.replace(tzinfo=None))
            rows.extend(parsed)
            drift.extend(problems)
    finally:
        api.close()
    written = {}
    if not drift:
        with warehouse.write() as con:
            written = store.replace_days(con, {table: rows}, days)
    if written:  # each day its own count, not the run's
        report_per_partition(context, rows_by_day(rows, store.DAY_COLUMN[table]))
    yield dg.MaterializeResult(metadata={
        "dagster/row_count": written.get(table, 0), "days": len(days), "sp_api_calls": int(api.total_calls),
        "units": sum(r["quantity"] for r in rows), "preview": dg.MetadataValue.md(_table_md(rows, preview))})
    yield dg.AssetCheckResult(check_name="no_schema_drift", passed=not drift,
                              metadata={"problems": "; ".join(drift)[:500] or "-"})


def _drift_check(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec("no_schema_drift", asset=asset, blocking=True,
                             description="The report has the columns the flow needs (nothing written otherwise)")


@dg.asset(
    kinds={"amazon", "duckdb"},
    metadata={"dagster/table_name": "raw.amazon_fba_returns"},
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=pools.SP_API,  # the raw write is one short warehouse session after the report
    retry_policy=RETRY_POLICY,
    check_specs=[_drift_check("amazon_fba_returns")],
    description="FBA customer returns (GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA) by return day (UTC): order, SKU, "
                "quantity, fulfilment centre, detailed disposition, reason, status, licence plate number",
)
@retried
def amazon_fba_returns(context: dg.AssetExecutionContext, sp_api: SpApiResource, warehouse: WarehouseResource):
    from sage_amazon.returns import datasets, store

    yield from _report_asset(context, sp_api, warehouse, datasets.FBA_RETURNS_REPORT, store.FBA_RETURNS,
                             datasets.parse_fba_returns,
                             ["return_date", "amazon_order_id", "sku", "quantity", "detailed_disposition", "reason"])


@dg.asset(
    kinds={"amazon", "duckdb"},
    metadata={"dagster/table_name": "raw.amazon_mfn_returns"},
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=pools.SP_API,
    retry_policy=RETRY_POLICY,
    check_specs=[_drift_check("amazon_mfn_returns")],
    description="Merchant-fulfilled returns (GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE) by return request day: "
                "order, SKU, quantity, RMA, reason, resolution, A-to-z / SAFE-T claim, refunded amount",
)
@retried
def amazon_mfn_returns(context: dg.AssetExecutionContext, sp_api: SpApiResource, warehouse: WarehouseResource):
    from sage_amazon.returns import datasets, store

    yield from _report_asset(context, sp_api, warehouse, datasets.MFN_RETURNS_REPORT, store.MFN_RETURNS,
                             datasets.parse_mfn_returns,
                             ["return_date", "amazon_order_id", "sku", "quantity", "reason", "refunded_amount"])


@dg.asset(
    kinds={"amazon", "duckdb"},
    metadata={"dagster/table_name": "raw.amazon_refund_transactions"},
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=pools.SP_API,
    retry_policy=RETRY_POLICY,
    description="Refund transactions from Finances 2024-06-19 listTransactions by posted day (UTC): refunds, "
                "chargebacks, A-to-z / SAFE-T claims and retrocharges, with one row per item "
                "(raw.amazon_refund_items: SKU, quantity, principal, shipping, gift wrap, tax, promotion, withheld "
                "tax, fees, other), every page of every marketplace",
)
@retried
def amazon_refund_transactions(context: dg.AssetExecutionContext, sp_api: SpApiResource,
                               warehouse: WarehouseResource) -> dg.MaterializeResult:
    from sage_amazon.returns import datasets, store

    now = datetime.now(UTC)
    days, spans = _spans(context, now)
    api = sp_api.get_client()
    transactions: list[dict] = []
    try:
        for start, end in spans:
            transactions.extend(datasets.fetch_transactions(api, api.settings.marketplaces, start, end, now))
    finally:
        api.close()
    headers, items = datasets.refund_rows(transactions, now.replace(tzinfo=None))
    with warehouse.write() as con:
        written = store.replace_days(con, {store.REFUNDS: headers, store.REFUND_ITEMS: items}, days)
    report_per_partition(context, rows_by_day(headers, store.DAY_COLUMN[store.REFUNDS]),
                         amounts_by_day(headers, "total_amount", day_field=store.DAY_COLUMN[store.REFUNDS]))
    by_type: dict[str, int] = {}
    for h in headers:
        by_type[h["transaction_type"]] = by_type.get(h["transaction_type"], 0) + 1
    return dg.MaterializeResult(metadata={
        "dagster/row_count": written.get(store.REFUNDS, 0), "items": written.get(store.REFUND_ITEMS, 0),
        "transactions_read": len(transactions), "by_type": dg.MetadataValue.json(by_type),
        "sp_api_calls": int(api.total_calls), "days": len(days),
        "preview": dg.MetadataValue.md(_table_md(headers, ["posted_date", "transaction_type", "amazon_order_id",
                                                           "currency", "total_amount"]))})


@dg.asset(
    kinds={"sage"},
    deps=["stg_amazon_returns"],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=pools.SAGE,
    retry_policy=RETRY_POLICY,
    tags={deadletters.FLOW_TAG: "return_receipts"},  # = sage_amazon.returns.restock.FLOW
    description="Returned units back into Sage's stock once per returned line, by disposition (returns.yaml): "
                "sellable to the marketplace's FBA (or merchant) site, damaged and the like with a non-sellable X3 "
                "status / Sage 500 bin (X3 miscellaneous receipt SMR; Sage 500 inventory adjustment, timInvtTran "
                "710), through the posting ledger (flow return_receipts). Unknown order or SKU, more units back "
                "than shipped, an unmapped disposition: dead letters",
)
def sage_return_receipts(context: dg.AssetExecutionContext, sage: SageResource,
                         warehouse: WarehouseResource) -> dg.MaterializeResult:
    from assets.retry import transient_as_retry
    from sage_amazon import deadletters, posting_ledger
    from sage_amazon.inventory import rules as inventory_rules
    from sage_amazon.returns import restock

    days = sorted(date.fromisoformat(k) for k in context.partition_keys)
    rules = restock.load()
    inventory = inventory_rules.load(sage.target)
    with sage.opened_target() as target:
        with transient_as_retry(lambda partial: {"counts": dg.MetadataValue.json(dict(partial.counts))}):
            result = restock.receive(warehouse.write, target, days, rules, inventory)
    with warehouse.write() as con:
        letters = deadletters.summary(con, restock.FLOW)
        ledger = posting_ledger.counts(con, restock.FLOW)
    counts = result.counts
    context.log.info(f"return receipts ({rules.mode}): {dict(counts)}")
    report_outcomes_per_partition(context, result.by_day, {**OUTCOME_NAMES, "not_posted_report_only": "report_only"})
    return dg.MaterializeResult(metadata={
        "dagster/row_count": counts["posted"] + counts["adopted"], "mode": rules.mode, "sage_target": sage.target,
        "posted": counts["posted"], "adopted": counts["adopted"], "already_posted": counts["already_posted"],
        "not_posted_report_only": counts["report_only"], "dead_lettered": counts["dead_lettered"],
        "open_dead_letters": letters["open"], "ledger": dg.MetadataValue.json(ledger),
        "dead_letter_reasons": dead_letter_reasons(letters["top_reasons"]),
        "preview": dg.MetadataValue.md(_table_md(result.samples, ["record", "outcome", "detail"])),
    })


@dg.asset(
    kinds={"sage"},
    deps=["amazon_refund_transactions"],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=pools.SAGE,
    retry_policy=RETRY_POLICY,
    tags={deadletters.FLOW_TAG: "refund_credit_notes"},  # = sage_amazon.returns.credit_notes.FLOW
    description="With `revenue: sage_invoices` and `documents: credit_notes` (accounts.yaml): each refund becomes "
                "one credit note for the "
                "marketplace's Sage customer equal to the refund to the cent: one line per SKU with the promotion "
                "taken back as its discount, shipping and gift wrap as freight, the tax refunded (X3 SIH credit memo "
                "whose lines name the order and its invoice; Sage 500 AR credit memo through the AR import "
                "spARapiInvoiceIns, posted, applied to the order's invoice), reference AMZ-RF-<refund id> shared "
                "with the settlement's credit notes, through the posting ledger (flow refund_credit_notes). "
                "Otherwise none (the default `revenue: settlement`, or `documents: journal_only`): the settlement "
                "journal already carries the refund",
)
def sage_refund_credit_notes(context: dg.AssetExecutionContext, sage: SageResource,
                             warehouse: WarehouseResource) -> dg.MaterializeResult:
    from assets.retry import transient_as_retry
    from sage_amazon import deadletters, posting_ledger
    from sage_amazon.returns import credit_notes

    days = sorted(date.fromisoformat(k) for k in context.partition_keys)
    revenue, documents = credit_notes.revenue_source(), credit_notes.documents_mode()
    why_none = credit_notes.why_no_notes(revenue, documents)
    if why_none:
        context.log.info(why_none)
        return dg.MaterializeResult(metadata={"dagster/row_count": 0, "revenue": revenue, "documents": documents,
                                              "posted": 0, "why_no_credit_notes": why_none})
    with sage.opened_target() as target:
        with transient_as_retry(lambda partial: {"counts": dg.MetadataValue.json(dict(partial.counts))}):
            result = credit_notes.create(warehouse.write, target, days, revenue, documents)
    with warehouse.write() as con:
        letters = deadletters.summary(con, credit_notes.FLOW)
        ledger = posting_ledger.counts(con, credit_notes.FLOW)
    counts = result.counts
    report_outcomes_per_partition(context, result.by_day, OUTCOME_NAMES)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": counts["posted"] + counts["adopted"], "revenue": revenue, "sage_target": sage.target,
        "posted": counts["posted"], "adopted": counts["adopted"], "already_posted": counts["already_posted"],
        "dead_lettered": counts["dead_lettered"], "open_dead_letters": letters["open"],
        "ledger": dg.MetadataValue.json(ledger),
        "dead_letter_reasons": dead_letter_reasons(letters["top_reasons"]),
        "preview": dg.MetadataValue.md(_table_md(result.samples, ["record", "outcome", "detail"])),
    })
