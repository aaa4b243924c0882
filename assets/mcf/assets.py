"""Multi-Channel Fulfillment (issue 18.3). Thin: the work is in sage_amazon.mcf.

- sage_mcf_orders (Sage pool): the Sage orders of the channels of mcf.yaml and whether their items are stocked at
  FBA -> raw.sage_mcf_orders;
- amazon_mcf_orders (SP-API pool): each eligible order previewed then created once, Sage cancellations cancelled,
  statuses and shipments followed -> ops.mcf_orders, ops.mcf_shipments (dead letters mcf_orders);
- sage_mcf_deliveries (Sage pool): each Amazon shipment posted once to its Sage order, with carrier and tracking
  (dead letters mcf_deliveries).

Unpartitioned: the state is Sage's orders and what Amazon answered; a re-run sends nothing new.
"""

from datetime import UTC, datetime

import dagster as dg

from assets.flow import TRIGGER_TAG, dead_letter_reasons, table_md
from assets.retry import RETRY_POLICY, retried
from resources import pools
from resources.sage import SageResource
from resources.sp_api import SpApiResource
from resources.warehouse import WarehouseResource
from sage_amazon import deadletters


@dg.asset(
    kinds={"sage", "duckdb"},
    metadata={"dagster/table_name": "raw.sage_mcf_orders"},
    pool=pools.SAGE,
    retry_policy=RETRY_POLICY,
    description="The Sage sales orders of the MCF channels (mcf.yaml: X3 order types / sales sites, Sage 500 "
                "customer classes / order sources), any status, with their lines, the Amazon SKU of each item and "
                "whether every item is stocked at the FBA site; the ship-to only until the order is at Amazon",
)
@retried
def sage_mcf_orders(context: dg.AssetExecutionContext, sage: SageResource,
                    warehouse: WarehouseResource) -> dg.MaterializeResult:
    from sage_amazon.mapping.orders import sku_rules
    from sage_amazon.mcf import channel, rules, store

    mcf_rules = rules.load(sage.target)
    now = datetime.now(UTC)
    with warehouse.write() as con:
        at_amazon = store.known_numbers(con)
    with sage.opened_target() as target:
        rows = channel.read(target, mcf_rules, sku_rules(sage.target).aliases, now.date(), now, at_amazon)
    with warehouse.write() as con:
        written = store.replace_sage_orders(con, rows)
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    return dg.MaterializeResult(metadata={
        "dagster/row_count": written, "sage_target": sage.target, "by_status": dg.MetadataValue.json(by_status),
        "not_at_fba": sum(1 for r in rows if r["status"] == "open" and not r["at_fba"]),
        "preview": dg.MetadataValue.md(table_md(rows, ["sage_number", "channel", "status", "order_date", "at_fba",
                                                        "not_at_fba"]))})


@dg.asset(
    kinds={"amazon"},  # its state (ops.mcf_orders, ops.mcf_shipments) is the flow's ledger, not a dataset
    deps=["sage_mcf_orders"],
    pool=pools.SP_API,
    retry_policy=RETRY_POLICY,
    tags={deadletters.FLOW_TAG: "mcf_orders"},  # = sage_amazon.mcf.fulfil.FLOW
    description="Each open Sage order of the channels whose items are at FBA: getFulfillmentPreview (speed, fees, "
                "whether Amazon can ship), then createFulfillmentOrder once with the Sage order number as "
                "sellerFulfillmentOrderId; an order closed in Sage before shipping: cancelFulfillmentOrder while "
                "Amazon allows; statuses (listAllFulfillmentOrders) and shipments with tracking (getFulfillmentOrder). "
                "Amazon's refusals and unfulfillable orders: dead letters with Amazon's reason",
)
@retried
def amazon_mcf_orders(context: dg.AssetExecutionContext, sp_api: SpApiResource, sage: SageResource,
                      warehouse: WarehouseResource) -> dg.MaterializeResult:
    from sage_amazon.mcf import fulfil, rules

    mcf_rules = rules.load(sage.target)
    api = sp_api.get_client()
    replay = context.run.tags.get(TRIGGER_TAG) == "replay"
    try:
        result = fulfil.sync(warehouse.write, api, mcf_rules, datetime.now(UTC), retry_letters=replay)
    finally:
        api.close()
    with warehouse.write() as con:
        letters = deadletters.summary(con, fulfil.FLOW)
    counts = result.counts
    context.log.info(f"MCF orders: {dict(counts)}")
    return dg.MaterializeResult(metadata={
        "created": counts["created"], "adopted": counts["adopted"], "cancelled": counts["cancelled"],
        "cancel_refused": counts["cancel_refused"], "dead_lettered": counts["dead_lettered"],
        "not_at_fba": counts["not_at_fba"], "status_changes": counts["status"],
        "sp_api_calls": dg.MetadataValue.json(dict(api.calls)), "open_dead_letters": letters["open"],
        "dead_letter_reasons": dead_letter_reasons(letters["top_reasons"]),
        "preview": dg.MetadataValue.md(table_md(result.samples, ["record", "outcome", "detail"]))})


@dg.asset(
    kinds={"sage"},
    deps=["amazon_mcf_orders"],
    pool=pools.SAGE,
    retry_policy=RETRY_POLICY,
    tags={deadletters.FLOW_TAG: "mcf_deliveries"},  # = sage_amazon.mcf.deliveries.FLOW
    description="Each shipment Amazon made for an MCF order posted once to its Sage order: delivered quantities, "
                "ship date, carrier (carriers.yaml) and tracking, as the FBA shipment flow does (posting ledger flow "
                "mcf_deliveries); a shipment Sage refuses is a dead letter",
)
@retried
def sage_mcf_deliveries(context: dg.AssetExecutionContext, sage: SageResource,
                        warehouse: WarehouseResource) -> dg.MaterializeResult:
    from sage_amazon import posting_ledger
    from sage_amazon.mapping.orders import map_carrier
    from sage_amazon.mcf import deliveries

    with sage.opened_target() as target:
        result = deliveries.post(warehouse.write, target, lambda code: map_carrier(code, sage.target))
    with warehouse.write() as con:
        letters = deadletters.summary(con, deliveries.FLOW)
        ledger = posting_ledger.counts(con, deliveries.FLOW)
    counts = result.counts
    return dg.MaterializeResult(metadata={
        "dagster/row_count": counts["posted"], "posted": counts["posted"],
        "already_posted": counts["already_posted"], "dead_lettered": counts["dead_lettered"],
        "open_dead_letters": letters["open"], "ledger": dg.MetadataValue.json(ledger), "sage_target": sage.target,
        "dead_letter_reasons": dead_letter_reasons(letters["top_reasons"]),
        "preview": dg.MetadataValue.md(table_md(result.samples, ["record", "outcome", "detail"]))})
