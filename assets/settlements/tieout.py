"""The order-level tie-out (sage_amazon/ledger/tieout.py) as an asset of the settlements flow: after each
settlement's journals, marts.settlement_order_tieout is rebuilt (per Amazon order id: open items, settled but
never invoiced, differences, ageing, refunds against credit notes) and four non-blocking checks report on it."""

import dagster as dg

from assets.partitions import settlement_partitions
from resources import pools
from resources.warehouse import WarehouseResource

CHECKS = {
    "tieout_settled_not_invoiced": "Orders Amazon settled that have no sales order in Sage (revenue: sage_invoices).",
    "tieout_amount_differences": "Orders settled for another amount than their Sage sales order's total.",
    "tieout_refunds_credited": "Refunds in the settlements against the refund credit notes in Sage (revenue: "
                               "sage_invoices): refunded but not credited, credited for another amount.",
    "tieout_open_items_ageing": "Sales orders sent to Sage and not settled by Amazon after 60 days.",
}


@dg.asset(
    kinds={"duckdb"}, partitions_def=settlement_partitions, pool=pools.DUCKDB_WRITE,
    deps=["journal_settlement_lines"],
    metadata={"dagster/table_name": "marts.settlement_order_tieout"},
    check_specs=[dg.AssetCheckSpec(name, asset="settlement_order_tieout", blocking=False, description=text, partitions_def=settlement_partitions)
                 for name, text in CHECKS.items()],
    description="Per Amazon order id, what Sage invoiced (the orders flow's sales orders) against what the "
                "settlements paid: open items, settled but never invoiced, amount differences, ageing "
                "(`sage-amazon settlement tieout`).",
)
def settlement_order_tieout(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from sage_amazon.ledger import tieout
    from sage_amazon.mapping import accounts

    with warehouse.write() as con:
        as_of = tieout.default_as_of(con)
        count = tieout.build(con, as_of)
        rows = tieout.rows(con, as_of)
    amap = accounts.load()
    summary = tieout.summarize(rows, as_of, amap.revenue, amap.documents)
    yield dg.MaterializeResult(metadata={
        "dagster/row_count": count, "as_of": str(as_of), "revenue": summary.revenue,
        **{f"orders_{k}": v for k, v in summary.counts.items()},
        **{f"amount_{k}": f"{v:.2f}" for k, v in summary.amounts.items()},
        **{f"orders_{k}": v for k, v in summary.refund_counts.items()},
    })
    for outcome in tieout.outcomes(summary):
        yield dg.AssetCheckResult(check_name=outcome.name, passed=bool(outcome.passed),
                                  description=outcome.description, severity=dg.AssetCheckSeverity.WARN,
                                  metadata=outcome.metadata)
