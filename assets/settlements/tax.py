"""US marketplace facilitator tax per state (sage_amazon/ledger/facilitator_tax.py) as an asset of the settlements
flow: after each settlement's journals, marts.facilitator_tax_by_state holds the tax collected and withheld per
journal line and ship-to state, and a check says whether the states sum to the posted lines."""

import dagster as dg

from assets.partitions import settlement_partitions
from resources import pools
from resources.warehouse import WarehouseResource


@dg.asset(
    kinds={"duckdb"}, partitions_def=settlement_partitions, pool=pools.DUCKDB_WRITE,
    deps=["journal_settlement_lines", "journal_settlement_trace"],
    metadata={"dagster/table_name": "marts.facilitator_tax_by_state"},
    check_specs=[dg.AssetCheckSpec("facilitator_tax_ties_out", asset="facilitator_tax_by_state", blocking=False, partitions_def=settlement_partitions,
                                   description="The states' tax collected and withheld sum to the settlement's "
                                               "tax_collected and tax_withheld journal lines.")],
    description="US marketplace facilitator tax per journal line and ship-to state: what Amazon collected from "
                "buyers and withheld to remit (posted gross to their own accounts), and what is left for the "
                "seller to remit; the state is the order's, as the orders flow landed it (else unknown).",
)
def facilitator_tax_by_state(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from sage_amazon.ledger import facilitator_tax

    with warehouse.write() as con:
        rows = facilitator_tax.build(con, context.partition_key)
        untied = facilitator_tax.ties_out(con, context.partition_key)
    yield dg.MaterializeResult(metadata={
        "dagster/row_count": len(rows),
        "states": len({r.state for r in rows}),
        "collected": f"{sum(r.collected for r in rows):.2f}",
        "withheld": f"{sum(r.withheld for r in rows):.2f}",
        "seller_owes": f"{sum(r.seller_owes for r in rows):.2f}",
        "unknown_state_orders": sum(r.orders for r in rows if r.state == facilitator_tax.UNKNOWN),
    })
    yield dg.AssetCheckResult(check_name="facilitator_tax_ties_out", passed=not untied,
                              severity=dg.AssetCheckSeverity.WARN,
                              description="; ".join(untied)[:1000] if untied else "every tax line ties to its states")
