"""Inventory both ways (issue 14). Thin: the work is in sage_amazon.inventory.

- amazon_fba_inventory: getInventorySummaries (details=true, every page, every marketplace) for the UTC day;
- sage_stock: Sage's physical, allocated and available stock per site and item for the UTC day.

Amazon and Sage only say what the stock is now: a partition other than the current UTC day keeps what was
recorded that day (a re-run never writes today's figures under an earlier day).
"""

from datetime import UTC, date, datetime

import dagster as dg

from assets.flow import dead_letter_reasons
from assets.partitions import (
    OUTCOME_NAMES,
    daily_partitions,
    report_outcomes_per_partition,
    rows_per_day_from,
)
from assets.retry import RETRY_POLICY, retried
from resources import pools
from resources.sage import SageResource
from resources.sp_api import SpApiResource
from resources.warehouse import WarehouseResource
from sage_amazon import deadletters


class FbaInventoryConfig(dg.Config):
    """Bodies of FBA_INVENTORY_AVAILABILITY_CHANGES notifications (the inventory sensor's runs): only those SKUs are
    updated in the current day (after a full read if the day has none yet). Empty: the full read."""

    notifications: list[str] = []


def _day(context: dg.AssetExecutionContext) -> date:
    """The day a run acts on: its partition, or the last day of a ranged run (Amazon and Sage only say what the
    stock is now, so the earlier days of a range keep what was recorded on them)."""
    return max(date.fromisoformat(k) for k in context.partition_keys)


def _is_current(day: date, now: datetime) -> bool:
    return day >= now.date()


def _table_md(rows: list[dict], columns: list[str], limit: int = 15) -> str:
    if not rows:
        return "_none_"
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "\n".join("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows[:limit])


@dg.asset(
    kinds={"amazon", "duckdb"},
    metadata={"dagster/table_name": "raw.amazon_fba_inventory"},
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),  # a range: only its current day is read or acted on
    pool=pools.SP_API,  # the raw write is one short warehouse session after the calls
    retry_policy=RETRY_POLICY,
    description="FBA inventory per UTC day, marketplace and SKU: every quantity getInventorySummaries gives with "
                "details=true (fulfillable, inbound working/shipped/receiving, reserved by kind, researching, "
                "unfulfillable by kind), all pages of every configured marketplace",
)
@rows_per_day_from("raw.amazon_fba_inventory")  # each day its own row count, not the run's
@retried
def amazon_fba_inventory(context: dg.AssetExecutionContext, config: FbaInventoryConfig, sp_api: SpApiResource,
                         warehouse: WarehouseResource) -> dg.MaterializeResult:
    import json

    from sage_amazon.inventory import fba, store

    day = _day(context)
    now = datetime.now(UTC)
    if not _is_current(day, now):
        with warehouse.write() as con:
            store.ensure(con)
            kept = con.execute(f"SELECT count(*) FROM {store.FBA_TABLE} WHERE snapshot_date = ?", [day]).fetchone()[0]
        context.log.info(f"{day} is past: Amazon serves only today's inventory; {kept} recorded row(s) kept")
        return dg.MaterializeResult(metadata={"dagster/row_count": int(kept), "sp_api_calls": 0, "kept": True})
    if config.notifications:
        notified = [r for body in config.notifications for r in fba.notification_rows(json.loads(body), now)]
        notified = [r for r in notified if r["snapshot_date"] == day]
        with warehouse.write() as con:
            store.ensure(con)
            have = con.execute(f"SELECT count(*) FROM {store.FBA_TABLE} WHERE snapshot_date = ? "
                               "AND source = 'getInventorySummaries'", [day]).fetchone()[0]
            if have:
                applied = store.upsert_fba_rows(con, notified)
        if have:
            context.log.info(f"{applied} FBA inventory change(s) of {len(notified)} notified applied to {day}")
            return dg.MaterializeResult(metadata={"dagster/row_count": applied, "sp_api_calls": 0,
                                                  "notifications": len(config.notifications),
                                                  "preview": dg.MetadataValue.md(_table_md(notified, [
                                                      "marketplace_id", "sku", "fulfillable", "reserved_total"]))})
        # the day has no full snapshot yet: read it all (the notified changes are in it)
    api = sp_api.get_client()
    try:
        marketplaces = api.settings.marketplaces
        rows = fba.fetch_all(api, marketplaces, day, now)
    finally:
        api.close()
    with warehouse.write() as con:
        n = store.replace_fba_day(con, day, rows)
    totals = {c: sum(r[c] for r in rows) for c in ("fulfillable", "reserved_total", "inbound_shipped",
                                                   "inbound_working", "inbound_receiving", "researching",
                                                   "unfulfillable_total")}
    return dg.MaterializeResult(metadata={
        "dagster/row_count": n, "marketplaces": len(marketplaces), "sp_api_calls": int(api.total_calls),
        "pages": int(api.total_calls - sum(api.retries.values())),
        "totals": dg.MetadataValue.json(totals),
        "preview": dg.MetadataValue.md(_table_md(rows, ["marketplace_id", "sku", "fulfillable", "reserved_total",
                                                         "inbound_shipped", "unfulfillable_total"])),
    })


@dg.asset(
    kinds={"sage", "duckdb"},
    metadata={"dagster/table_name": "raw.sage_stock"},
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),  # a range: only its current day is read or acted on
    pool=pools.SAGE,
    retry_policy=RETRY_POLICY,
    description="Sage stock per UTC day, site and item: physical, allocated, available and unit cost (X3 STOCK and "
                "ITMMVT through api1 REST; Sage 500 timWhseBinInvt and timInventory through SQL), for the sites "
                "inventory.yaml names (FBA sites and the sites selling merchant-fulfilled stock)",
)
@rows_per_day_from("raw.sage_stock")  # each day its own row count, not the run's
@retried
def sage_stock(context: dg.AssetExecutionContext, sage: SageResource,
               warehouse: WarehouseResource) -> dg.MaterializeResult:
    from sage_amazon.inventory import rules as inventory_rules
    from sage_amazon.inventory import stock, store

    day = _day(context)
    now = datetime.now(UTC)
    if not _is_current(day, now):
        with warehouse.write() as con:
            store.ensure(con)
            kept = con.execute(f"SELECT count(*) FROM {store.STOCK_TABLE} WHERE snapshot_date = ?", [day]).fetchone()[0]
        context.log.info(f"{day} is past: Sage serves only today's stock; {kept} recorded row(s) kept")
        return dg.MaterializeResult(metadata={"dagster/row_count": int(kept), "kept": True})
    cfg = inventory_rules.load(sage.target)
    sites = sorted({*cfg.fba_sites, *cfg.mfn_sites.values()})
    with sage.opened_target() as target:
        rows = stock.read(target, sites, cfg.unsellable_bins)
        if target.name == "x3":  # X3 keeps the item status on ITMMASTER, not on the stock
            active = {i.code: i.active for i in target.read_items()}
            from dataclasses import replace

            rows = [replace(r, active=active.get(r.item, False)) for r in rows]
    with warehouse.write() as con:
        n = store.replace_stock_day(con, day, sage.target, rows, now)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": n, "sage_target": sage.target, "sites": ", ".join(sites),
        "preview": dg.MetadataValue.md(_table_md(
            [{"site": r.site, "item": r.item, "physical": r.physical, "allocated": r.allocated,
              "available": r.available} for r in rows], ["site", "item", "physical", "allocated", "available"])),
    })


@dg.asset(
    kinds={"yaml", "duckdb"},
    metadata={"dagster/table_name": "ref.fba_site_map"},
    pool=pools.DUCKDB_WRITE,
    description="inventory.yaml's FBA sites: which Sage site holds the FBA stock of which marketplace "
                "(ref.fba_site_map), for the configured Sage target",
)
def fba_site_map(warehouse: WarehouseResource, sage: SageResource) -> dg.MaterializeResult:
    from sage_amazon.inventory import rules as inventory_rules

    cfg = inventory_rules.load(sage.target)
    rows = [(site, mp) for site, mps in sorted(cfg.fba_sites.items()) for mp in mps]
    with warehouse.write() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS ref")
        con.execute("CREATE OR REPLACE TABLE ref.fba_site_map (site VARCHAR NOT NULL, marketplace_id VARCHAR NOT NULL)")
        if rows:
            con.executemany("INSERT INTO ref.fba_site_map VALUES (?, ?)", rows)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(rows), "mode": cfg.mode, "reason_code": cfg.reason_code,
        "sites": dg.MetadataValue.md("\n".join(f"- {s}: {', '.join(m)}" for s, m in cfg.fba_sites.items()) or "_none_"),
    })


@dg.asset(
    kinds={"sage"},
    deps=["fba_discrepancy"],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),  # a range: only its current day is read or acted on
    pool=pools.SAGE,
    retry_policy=RETRY_POLICY,
    tags={deadletters.FLOW_TAG: "fba_adjustments"},  # = sage_amazon.inventory.adjust.FLOW
    description="Makes each Sage FBA site follow Amazon's fulfillable units: one adjustment per (day, site, item) "
                "with the inventory.yaml reason code (X3 miscellaneous receipt SMR / issue SMO; Sage 500 inventory "
                "adjustment, timInvtTran 710), through the posting ledger (flow fba_adjustments). Mode report_only "
                "posts nothing; unknown SKUs, unmapped marketplaces and absurd quantities become dead letters",
)
def sage_fba_adjustments(context: dg.AssetExecutionContext, sage: SageResource,
                         warehouse: WarehouseResource) -> dg.MaterializeResult:
    from assets.retry import transient_as_retry
    from sage_amazon import deadletters, posting_ledger
    from sage_amazon.inventory import adjust
    from sage_amazon.inventory import rules as inventory_rules

    day = _day(context)
    cfg = inventory_rules.load(sage.target)
    if not _is_current(day, datetime.now(UTC)):
        context.log.info(f"{day} is past: adjustments are posted for the current day only")
        return dg.MaterializeResult(metadata={"dagster/row_count": 0, "mode": cfg.mode, "skipped_past_day": True})
    with sage.opened_target() as target:
        with transient_as_retry(lambda partial: {"counts": dg.MetadataValue.json(dict(partial.counts))}):
            result = adjust.post_adjustments(warehouse.write, target, day, cfg)
    with warehouse.write() as con:
        letters = deadletters.summary(con, adjust.FLOW)
        ledger = posting_ledger.counts(con, adjust.FLOW)
    counts = result.counts
    context.log.info(f"FBA adjustments ({cfg.mode}): {dict(counts)}")
    # a range acts on its last day only: the earlier days report zeros, not this day's counts
    report_outcomes_per_partition(context, {day.isoformat(): counts},
                                  {**OUTCOME_NAMES, "in_step": "in_step", "not_posted_report_only": "report_only"})
    return dg.MaterializeResult(metadata={
        "dagster/row_count": counts["posted"] + counts["adopted"],
        "mode": cfg.mode, "reason_code": cfg.reason_code, "sage_target": sage.target,
        "posted": counts["posted"], "adopted": counts["adopted"], "already_posted": counts["already_posted"],
        "in_step": counts["in_step"], "not_posted_report_only": counts["report_only"],
        "dead_lettered": counts["dead_lettered"], "open_dead_letters": letters["open"],
        "ledger": dg.MetadataValue.json(ledger),
        "dead_letter_reasons": dead_letter_reasons(letters["top_reasons"]),
        "preview": dg.MetadataValue.md(_table_md(result.samples, ["record", "outcome", "detail"])),
    })


@dg.asset(
    kinds={"amazon"},
    deps=["sage_stock"],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),  # a range: only its current day is read or acted on
    pool=pools.SP_API,  # patchListingsItem / Feeds spend the SP-API budget
    retry_policy=RETRY_POLICY,
    tags={deadletters.FLOW_TAG: "mfn_quantities"},  # = sage_amazon.inventory.push.FLOW
    description="Merchant-fulfilled quantity per marketplace and SKU from Sage's available stock (inventory.yaml "
                "rules: sellable only, percentage, buffer, threshold, cap), pushed only when it changed since the "
                "quantity Amazon last accepted: few SKUs by patchListingsItem (merge on fulfillment_availability), "
                "many in one JSON_LISTINGS_FEED per marketplace; processing-report errors become dead letters",
)
def amazon_mfn_quantities(context: dg.AssetExecutionContext, sp_api: SpApiResource, sage: SageResource,
                          warehouse: WarehouseResource) -> dg.MaterializeResult:
    from assets.retry import transient_as_retry
    from sage_amazon import deadletters
    from sage_amazon.inventory import push
    from sage_amazon.inventory import rules as inventory_rules

    day = _day(context)
    cfg = inventory_rules.load(sage.target)
    if not _is_current(day, datetime.now(UTC)):
        context.log.info(f"{day} is past: quantities are pushed from the current day's stock only")
        return dg.MaterializeResult(metadata={"dagster/row_count": 0, "sp_api_calls": 0, "skipped_past_day": True})
    api = sp_api.get_client()
    try:
        with warehouse.write() as con:
            plan = push.plan(con, day, cfg, sage.target, api.settings.marketplaces)
        with transient_as_retry(lambda partial: {"counts": dg.MetadataValue.json(dict(partial.counts))}):
            result = push.push(warehouse.write, api, plan, cfg, poll_seconds=sp_api.report_poll_seconds)
    finally:
        api.close()
    with warehouse.write() as con:
        letters = deadletters.summary(con, push.FLOW)
    counts = result.counts
    context.log.info(f"MFN quantities: {dict(counts)}; calls {dict(api.calls)}")
    report_outcomes_per_partition(context, {day.isoformat(): counts},
                                  {n: n for n in ("accepted", "unchanged", "dead_lettered", "feed_rejected",
                                                  "feed_pending")}, counted=("accepted",))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": counts["accepted"],
        "planned": len(plan.targets), "unchanged": counts["unchanged"], "accepted": counts["accepted"],
        "dead_lettered": counts["dead_lettered"], "feeds": ", ".join(result.feeds) or "-",
        "feed_rejected": counts["feed_rejected"], "feed_pending": counts["feed_pending"],
        "open_dead_letters": letters["open"],
        # requests that went through (a throttled attempt retried is counted once)
        "patch_calls": int(api.calls["patchListingsItem"] - api.retries["patchListingsItem"]),
        "create_feed_calls": int(api.calls["createFeed"] - api.retries["createFeed"]),
        "sp_api_calls": int(api.total_calls),
        "dead_letter_reasons": dead_letter_reasons(letters["top_reasons"]),
        "quantities": dg.MetadataValue.md(_table_md(
            [{"marketplace": t.marketplace_id, "sku": t.sku, "site": t.site, "available": t.available,
              "quantity": t.quantity} for t in plan.targets],
            ["marketplace", "sku", "site", "available", "quantity"], limit=30)),
        "preview": dg.MetadataValue.md(_table_md(result.samples, ["record", "outcome", "detail"])),
    })
