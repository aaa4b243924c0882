"""The cockpit's assets: thin, they call sage_amazon.cockpit and report what a finance user or an operator reads
at a glance, numbers as numbers (the UI plots them) beside the exact text."""

import dagster as dg

from assets.partitions import settlement_partitions
from resources import pools
from resources.warehouse import WarehouseResource

DEAD_LETTER_ROWS = 200  # rows shown in the UI; marts.open_dead_letters holds them all
# the assets that write dead letters (tag sage_amazon/dead_letter_flow; a test keeps the list in step): the list
# is read after them, so `sage-amazon run` refreshes the cockpit in its last stage and the lineage shows why
DEAD_LETTER_WRITERS = ("sage_sales_orders", "sage_shipment_updates", "amazon_shipment_confirmations",
                       "settlement_journal_postings", "settlement_cogs", "sage_fba_adjustments",
                       "amazon_mfn_quantities", "sage_return_receipts", "sage_refund_credit_notes",
                       "deferred_accrual", "settlement_vat_journals", "amazon_listings", "amazon_mcf_orders",
                       "sage_mcf_deliveries")


def dead_letter_metadata(con) -> dict:
    """Open dead letters per flow (an int each, so the UI plots them) and the list itself as a table."""
    from sage_amazon.cockpit import deadletters as cockpit

    counts = cockpit.refresh(con)
    rows = cockpit.open_rows(con, limit=DEAD_LETTER_ROWS)
    schema = dg.TableSchema(columns=[
        dg.TableColumn("flow", "string"), dg.TableColumn("record", "string"), dg.TableColumn("reason", "string"),
        dg.TableColumn("attempts", "int"), dg.TableColumn("first_seen", "string"),
        dg.TableColumn("last_seen", "string")])
    records = [dg.TableRecord({"flow": r["flow"], "record": r["record_key"], "reason": r["reason"],
                               "attempts": int(r["attempts"]), "first_seen": f"{r['first_seen']:%Y-%m-%d %H:%M}",
                               "last_seen": f"{r['last_seen']:%Y-%m-%d %H:%M}"}) for r in rows]
    total = sum(counts.values())
    md: dict = {
        "dagster/row_count": dg.MetadataValue.int(total),
        "open_total": dg.MetadataValue.int(total),
        **{f"open_{flow}": dg.MetadataValue.int(n) for flow, n in sorted(counts.items())},
        "open_dead_letters": dg.MetadataValue.table(records, schema=schema),
        "replay": dg.MetadataValue.md(
            "Fix the cause (a SKU alias, a mapping), then launch **deadletter_replay_job** with `flow` and/or "
            "`reason` as config (or `sage-amazon deadletter replay --flow F --reason R`)."),
    }
    if total > len(records):
        md["shown"] = dg.MetadataValue.text(f"the first {len(records)} of {total} (by flow, oldest first); "
                                            "all of them in marts.open_dead_letters")
    return md


@dg.asset(
    kinds={"duckdb"}, pool=pools.DUCKDB_WRITE, deps=list(DEAD_LETTER_WRITERS),
    metadata={"dagster/table_name": "marts.open_dead_letters"},
    description="Every open dead letter (flow, record, reason, attempts, first and last seen) and how many per "
                "flow. Replay them from the UI with deadletter_replay_job (config: flow, reason).",
)
def open_dead_letters(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.write() as con:
        md = dead_letter_metadata(con)
    context.log.info(f"{md['open_total'].value} open dead letter(s)")
    return dg.MaterializeResult(metadata=md)


SETTLEMENT_ROWS = 100  # newest first in the UI; marts.settlement_overview holds them all


def _day(value) -> str:
    return f"{value:%Y-%m-%d}" if value is not None else ""


def _money(value) -> str:
    return "" if value is None else f"{value:.2f}"


def overview_metadata(overview) -> dict:
    """Numbers as numbers (ints; a float beside each exact Decimal text, for the plots) and the tables."""
    settlements_schema = dg.TableSchema(columns=[
        dg.TableColumn(name, "string") for name in
        ("settlement", "marketplace", "period", "deposit_date", "currency", "total", "deposit", "difference",
         "journals_posted", "sage_numbers", "status", "reason")])
    settlement_records = [dg.TableRecord({
        "settlement": r["settlement_id"], "marketplace": r["marketplace"] or "",
        "period": f"{_day(r['settlement_start'])} – {_day(r['settlement_end'])}" if r["settlement_start"] else "",
        "deposit_date": _day(r["deposit_date"]), "currency": r["currency"] or "",
        "total": _money(r["total_amount"]), "deposit": _money(r["deposit"]), "difference": _money(r["difference"]),
        "journals_posted": f"{r['journals_posted']} of {r['journals']}", "sage_numbers": r["sage_numbers"] or "",
        "status": r["status"], "reason": r["reason"] or ""}) for r in overview.settlements[:SETTLEMENT_ROWS]]
    flows_schema = dg.TableSchema(columns=[
        dg.TableColumn("flow", "string"), dg.TableColumn("posted", "int"), dg.TableColumn("failed", "int"),
        dg.TableColumn("sending", "int"), dg.TableColumn("open_dead_letters", "int")])
    md: dict = {
        "dagster/row_count": dg.MetadataValue.int(len(overview.settlements)),
        "settlements": dg.MetadataValue.table(settlement_records, schema=settlements_schema),
        "flows": dg.MetadataValue.table([dg.TableRecord(dict(r)) for r in overview.flows], schema=flows_schema),
    }
    for status, n in overview.status_counts().items():
        md[f"settlements {status}"] = dg.MetadataValue.int(n)
    for currency, sums in sorted(overview.totals_by_currency().items()):
        for what, amount in sums.items():
            md[f"{what} {currency}"] = dg.MetadataValue.text(f"{amount:.2f}")  # exact
            md[f"{what} {currency} (plot)"] = dg.MetadataValue.float(float(amount))  # for the Plots tab only
    for row in overview.flows:
        md[f"posted {row['flow']}"] = dg.MetadataValue.int(row["posted"])
        md[f"failed {row['flow']}"] = dg.MetadataValue.int(row["failed"])
        md[f"dead letters {row['flow']}"] = dg.MetadataValue.int(row["open_dead_letters"])
    return md


@dg.asset(
    kinds={"duckdb"}, pool=pools.DUCKDB_WRITE,
    deps=["settlement_journal_postings", "settlement_reconciliation", "journal_settlement_lines"],
    metadata={"dagster/table_name": "marts.settlement_overview"},
    description="What finance opens first: one row per settlement (marketplace, period, deposit date, total, "
                "deposit, currency, tied-out difference, journals posted and their Sage numbers, status: posted, "
                "on hold, blocked or waiting, with the reason), settlements per status and totals per currency "
                "as numbers for the Plots tab; per flow, records posted, failed and dead-lettered "
                "(marts.flow_overview). `sage-amazon cockpit export` writes it to xlsx.",
)
def settlement_overview(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from sage_amazon.cockpit import overview

    with warehouse.write() as con:
        result = overview.refresh(con)
    counts = result.status_counts()
    context.log.info(", ".join(f"{n} {status}" for status, n in counts.items()) + " settlement(s)")
    return dg.MaterializeResult(metadata=overview_metadata(result))


COUNT_FIGURES = ("orders", "units")
RATIO_FIGURES = ("fee_rate_percent", "fba_fees_per_unit")


@dg.asset(
    kinds={"duckdb"}, pool=pools.DUCKDB_WRITE, partitions_def=settlement_partitions,
    deps=["settlement_journal_postings", "stg_settlement_categories"],
    metadata={"dagster/table_name": "marts.settlement_figures"},
    description="One settlement's figures for the Plots tab (one point per settlement): total, deposit, money per "
                "role of the account map (sales, refunds, marketplace, FBA and storage fees, advertising...), fee "
                "rate (marketplace + FBA fees per 100 of sales), FBA fees per unit, orders and units. Exact text "
                "beside a float for the plot; marts.settlement_figures holds the exact values.",
)
def settlement_figures(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from sage_amazon.cockpit import figures

    with warehouse.write() as con:
        currency, found = figures.refresh(con, context.partition_key)
    md: dict = {"currency": dg.MetadataValue.text(currency)}
    for name, value in found.items():
        if name in COUNT_FIGURES:
            md[name] = dg.MetadataValue.int(int(value))
        else:
            md[name] = dg.MetadataValue.text(f"{value:.4f}" if name in RATIO_FIGURES else f"{value:.2f}")  # exact
            md[f"{name} (plot)"] = dg.MetadataValue.float(float(value))  # for the Plots tab only
    return dg.MaterializeResult(metadata=md)


REVIEW_ROWS = 200  # rows shown in the UI; marts.mapping_review holds them all


@dg.asset(
    kinds={"duckdb"}, pool=pools.DUCKDB_WRITE, deps=["sage_order_lines", "stg_settlement_categories"],
    metadata={"dagster/table_name": "marts.mapping_review"},
    description="What no mapping covers yet, with suggested matches to confirm: SKUs of orders to post without a "
                "Sage item (suggested items by similarity of the SKU to the item codes and of its title to the "
                "titles of SKUs that map) and settlement fee types in suspense (suggested account-map roles by "
                "similarity to the rules and to fee types already mapped). Each row says what to add to skus.yaml "
                "or accounts.yaml in the mapping folder; then replay the dead letters or re-run the settlement.",
)
def mapping_review(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from sage_amazon import config
    from sage_amazon.mapping import review

    with warehouse.write() as con:
        rows = review.refresh(con, config.load().target)
    schema = dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in
                                     ("kind", "name", "detail", "occurrences", "amount", "suggestions", "fix")])
    records = [dg.TableRecord({"kind": r.kind, "name": r.name, "detail": r.detail, "occurrences": str(r.occurrences),
                               "amount": "" if r.amount is None else f"{r.amount:.2f}",
                               "suggestions": "; ".join(s.text() for s in r.suggestions) or "none above "
                               f"{review.MIN_SCORE:.0f}", "fix": r.fix}) for r in rows[:REVIEW_ROWS]]
    skus = sum(1 for r in rows if r.kind == "sku")
    context.log.info(f"{skus} unmapped SKU(s), {len(rows) - skus} unmapped fee type(s)")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": dg.MetadataValue.int(len(rows)),
        "unmapped_skus": dg.MetadataValue.int(skus),
        "unmapped_fee_types": dg.MetadataValue.int(len(rows) - skus),
        "orders_held_by_unmapped_skus": dg.MetadataValue.int(sum(r.occurrences for r in rows if r.kind == "sku")),
        "review": dg.MetadataValue.table(records, schema=schema),
    })
