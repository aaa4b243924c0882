"""Sage items flagged for Amazon -> Amazon listings. Thin: the work is in sage_amazon.listings.

- `sage_listing_items` (Sage pool): the flagged items, their mapped fields and a price per marketplace
  (raw.sage_listing_items);
- `amazon_listings` (SP-API pool): what changed since Amazon accepted it, previewed (VALIDATION_PREVIEW) then
  put/patched; refusals are dead letters (flow `listings`), big price cuts are held.
"""

from datetime import UTC, datetime

import dagster as dg

from assets.flow import TRIGGER_TAG, dead_letter_reasons
from assets.retry import RETRY_POLICY, retried, transient_as_retry
from resources import pools
from resources.sage import SageResource
from resources.sp_api import SpApiResource
from resources.warehouse import WarehouseResource
from sage_amazon import deadletters

FLOW = "listings"  # = sage_amazon.listings.FLOW (kept here so the module loads without importing it)


@dg.asset(
    kinds={"sage", "duckdb"},
    metadata={"dagster/table_name": "raw.sage_listing_items"},
    pool=pools.SAGE,
    retry_policy=RETRY_POLICY,
    description="The Sage items flagged for Amazon (listings.yaml: X3 ITMMASTER category or user field, Sage 500 "
                "timItem column), their mapped fields and a price per marketplace (X3 price lists SPRICLIST, Sage "
                "500 StdPrice)",
)
@retried
def sage_listing_items(context: dg.AssetExecutionContext, sage: SageResource,
                       warehouse: WarehouseResource) -> dg.MaterializeResult:
    from sage_amazon.listings import rules as listing_rules
    from sage_amazon.listings import sage_items

    rules = listing_rules.load(sage.target)
    now = datetime.now(UTC)
    with sage.opened_target() as target:
        items = sage_items.read(target, rules, now.date())  # the price lines valid today (UTC)
    with warehouse.write() as con:
        n = sage_items.store(con, items, sage.target, now)
    rows = "\n".join(f"| {i.code} | {i.title.replace('|', '/')} | "
                     + ", ".join(f"{mp} {p if p is not None else '-'}" for mp, p in sorted(i.prices.items())) + " |"
                     for i in items[:30])
    context.log.info(f"{n} Sage item(s) flagged for Amazon")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": n, "sage_target": sage.target,
        "flag": f"{rules.flag_field} in {', '.join(rules.flag_values)}",
        "preview": dg.MetadataValue.md("| item | title | prices |\n|---|---|---|\n" + rows if rows else "_none_"),
    })


class ListingsConfig(dg.Config):
    approve_price_drops: list[str] = []  # "<marketplace>|<sku>" (or "*") whose held price cut may go


@dg.asset(
    deps=[sage_listing_items],
    kinds={"sage", "amazon"},
    pool=pools.SP_API,  # put/patchListingsItem and the product type definitions spend the SP-API budget
    retry_policy=RETRY_POLICY,
    tags={deadletters.FLOW_TAG: FLOW},
    description="Each flagged Sage item as an Amazon listing per marketplace: VALIDATION_PREVIEW first (Amazon's "
                "issues shown), then putListingsItem (new) or patchListingsItem (changed attributes only); a second "
                "run sends nothing; Amazon's refusals are dead letters with its message and attribute; a price cut "
                "beyond listings.yaml's price_guard is held",
)
def amazon_listings(context: dg.AssetExecutionContext, config: ListingsConfig, sage: SageResource,
                    sp_api: SpApiResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from sage_amazon import posting_ledger
    from sage_amazon.listings import push, sage_items
    from sage_amazon.listings import rules as listing_rules

    rules = listing_rules.load(sage.target)
    with warehouse.read() as con:
        items = sage_items.load(con)
    plan = push.plan(items, rules)
    replay = context.run.tags.get(TRIGGER_TAG) == "replay"  # `deadletter replay`: refused payloads go again
    api = sp_api.get_client()
    try:
        with transient_as_retry(lambda partial: {"counts": dg.MetadataValue.json(dict(partial.counts))}):
            result = push.push(warehouse.write, api, plan, rules, approve=config.approve_price_drops,
                               retry_refused=replay)
    finally:
        api.close()
    with warehouse.write() as con:
        letters = deadletters.summary(con, FLOW)
        ledger = posting_ledger.counts(con, FLOW)
        holds = push.open_holds(con)
    counts = result.counts
    context.log.info(f"listings: {dict(counts)}")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": counts["created"] + counts["updated"],
        "sage_target": sage.target,
        "listings": len(plan.listings),
        "created": counts["created"], "updated": counts["updated"], "unchanged": counts["unchanged"],
        "previewed": counts["previewed"], "dead_lettered": counts["dead_lettered"],
        "refused_unchanged": counts["refused_unchanged"], "price_held": counts["price_held"],
        "open_price_holds": len(holds), "open_dead_letters": letters["open"],
        "put_listings_item_calls": int(api.calls.get("putListingsItem", 0)),
        "patch_listings_item_calls": int(api.calls.get("patchListingsItem", 0)),
        "definitions_calls": int(api.calls.get("getDefinitionsProductType", 0)),
        "sp_api_calls": int(api.total_calls),
        "ledger": dg.MetadataValue.json(ledger),
        "dead_letter_reasons": dead_letter_reasons(letters["top_reasons"]),
        "validation_preview": dg.MetadataValue.md(push.preview_table(result)),
    })
