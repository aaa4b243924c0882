"""Merchant-fulfilled shipments recorded in Sage, confirmed to Amazon once (confirmShipment).

Thin: the work is in sage_amazon.amazon.shipment_confirmation (posting ledger flow `mfn_shipments`).
"""

import dagster as dg

from assets.retry import RETRY_POLICY, transient_as_retry
from resources import pools
from resources.sage import SageResource
from resources.sp_api import SpApiResource
from resources.warehouse import WarehouseResource
from sage_amazon import deadletters

FLOW = "mfn_shipments"  # = shipment_confirmation.FLOW (kept here so the module loads without importing it)
PUSH_RETRY = RETRY_POLICY  # the one retry policy (assets/retry.py)


@dg.asset(
    kinds={"sage", "amazon"},
    pool=pools.SP_API,  # confirmShipment spends the SP-API budget
    retry_policy=PUSH_RETRY,
    tags={deadletters.FLOW_TAG: FLOW},
    description="Confirms each merchant-fulfilled shipment recorded in Sage (Sage 500) to Amazon once "
                "(Orders v0 confirmShipment: carrier, tracking, items); refusals become dead letters",
)
def amazon_shipment_confirmations(context: dg.AssetExecutionContext, sage: SageResource, sp_api: SpApiResource,
                                  warehouse: WarehouseResource) -> dg.MaterializeResult:
    from sage_amazon import deadletters, posting_ledger
    from sage_amazon.amazon import shipment_confirmation as sc

    api = sp_api.get_client()
    try:  # short warehouse sessions inside the push, none held across a call to Sage or Amazon
        with sage.opened_target() as target, \
                transient_as_retry(lambda partial: {"counts": dg.MetadataValue.json(dict(partial.counts))}):
            result = sc.push_shipments(warehouse.write, target, api)
    finally:
        api.close()
    with warehouse.write() as con:
        letters = deadletters.summary(con, sc.FLOW)
        ledger = posting_ledger.counts(con, sc.FLOW)
    counts = result.counts
    if not result.supported:
        context.log.info(result.reason)
    else:
        context.log.info(f"shipment confirmations: {dict(counts)}")
    if result.transient:
        # everything else is done and recorded; only what Amazon could not take now is tried again (RETRY_POLICY)
        raise dg.Failure(description=f"{len(result.transient)} shipment(s) could not be confirmed now: "
                                     f"{result.transient[:5]}", allow_retries=True)
    reasons = "\n".join(f"| {r.replace('|', '/')} | {n} |" for r, n in letters["top_reasons"])
    return dg.MaterializeResult(metadata={
        "dagster/row_count": counts["pushed"],
        "sage_target": sage.target,
        "supported": result.supported,
        "reason": result.reason or "",
        "pushed": counts["pushed"],
        "skipped": result.skipped,
        "already_pushed": counts["already_pushed"],
        "adopted_from_amazon": counts["adopted"],
        "dead_lettered": counts["dead_lettered"],
        "open_dead_letters": letters["open"],
        "confirm_shipment_calls": int(api.calls.get("confirmShipment", 0)),
        "sp_api_calls": int(api.total_calls),
        "ledger": dg.MetadataValue.json(ledger),
        "dead_letter_reasons": dg.MetadataValue.md(
            "| reason | open |\n|---|---|\n" + reasons if reasons else "_none_"),
        "preview": dg.MetadataValue.md(sc.preview(result)),
    })
