"""Cost of goods sold per settlement (sage_amazon/ledger/cogs.py) as an asset of the settlements flow: each
period's units sold and returned per SKU, valued at the Sage item's cost (marts.settlement_cogs), posted once as a
COGS journal against inventory; a period missing a Sage item, cost or quantity waits as a dead letter."""

import dagster as dg

from assets.partitions import settlement_partitions
from assets.retry import RETRY_POLICY, retried
from resources import pools
from resources.sage import SageResource
from resources.warehouse import WarehouseResource
from sage_amazon import deadletters


@dg.asset(
    kinds={"sage"}, partitions_def=settlement_partitions, pool=pools.SAGE,
    deps=["journal_settlement_lines"],
    retry_policy=RETRY_POLICY,
    tags={deadletters.FLOW_TAG: "settlement"},  # `sage-amazon deadletter replay --flow settlement`
    metadata={"dagster/table_name": "marts.settlement_cogs"},
    check_specs=[dg.AssetCheckSpec("settlement_cogs_complete", asset="settlement_cogs", blocking=False, partitions_def=settlement_partitions,
                                   description="Every period's COGS journal is posted: none waits for a Sage "
                                               "item, a cost or a quantity.")],
    description="Cost of goods sold of the settlement: per period and SKU the units sold less the refunded units "
                "that came back (cogs.yaml), at the Sage item's cost (X3 item-site average cost, Sage 500 standard "
                "cost), posted once per period as COGS against inventory (COGS-<id>-<YYYYMM>).",
)
@retried
def settlement_cogs(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sage: SageResource):
    from sage_amazon.ledger import cogs

    with sage.opened_target() as target:
        report = cogs.run(warehouse.write, target, context.partition_key, sage.target)
    md = {
        "dagster/row_count": len(report.rows),
        "units_sold": sum(r.units_sold for r in report.rows),
        "units_returned": sum(r.units_returned for r in report.rows),
        "cogs": f"{sum(r.cost for r in report.rows):.2f}",
        "posted": dg.MetadataValue.json({**report.already, **report.adopted, **report.posted}),
        "waiting": dg.MetadataValue.json(report.waiting),
        "dead_letters": dg.MetadataValue.json(report.dead_letters),
        "disabled": report.disabled,
    }
    if report.transient:
        raise dg.Failure(description=f"COGS journal(s) not posted yet: {'; '.join(report.transient.values())}"[:1000],
                         metadata=md, allow_retries=True)
    for ref, why in report.dead_letters.items():
        context.log.warning(f"{ref}: {why} (dead letter, retried on the next run)")
    yield dg.MaterializeResult(metadata=md)
    yield dg.AssetCheckResult(check_name="settlement_cogs_complete", passed=not report.waiting,
                              severity=dg.AssetCheckSeverity.WARN,
                              description="; ".join(f"{ref}: {why}" for ref, why in report.waiting.items())[:1000]
                              if report.waiting else "every COGS journal posted")
