"""The reports finance files with (sage_amazon/ledger/reports.py) as assets of the month_end flow: each rebuilds its
warehouse table and shows it in its metadata (a table and a Markdown preview); `sage-amazon report NAME FILE.csv|
FILE.xlsx` exports it."""

import dagster as dg

from resources import pools
from resources.warehouse import WarehouseResource


def _report(context: dg.AssetExecutionContext, warehouse: WarehouseResource, name: str, totals: tuple[str, ...]):
    from decimal import Decimal

    from sage_amazon.ledger import reports

    with warehouse.write() as con:
        try:
            sheet = reports.build(con, name)
        except reports.NoData as exc:
            context.log.info(str(exc))
            return dg.MaterializeResult(metadata={"dagster/row_count": 0, "note": str(exc)})
    kinds = {int: "int", Decimal: "string"}
    schema = dg.TableSchema(columns=[dg.TableColumn(c, kinds.get(type(next((r[i] for r in sheet.rows
                                                                            if r[i] is not None), "")), "string"))
                                     for i, c in enumerate(sheet.columns)])
    records = [dg.TableRecord({c: (v if isinstance(v, int) else "" if v is None else str(v))
                               for c, v in zip(sheet.columns, row, strict=True)}) for row in sheet.rows[:500]]
    index = {c: i for i, c in enumerate(sheet.columns)}
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(sheet.rows),
        "months": len({r[0] for r in sheet.rows}),
        **{t: f"{sum((r[index[t]] or 0 for r in sheet.rows), Decimal(0)):.2f}" for t in totals},
        "table": dg.MetadataValue.table(records, schema=schema),
        "preview": dg.MetadataValue.md(reports.markdown(sheet)),
        "export": dg.MetadataValue.text(f"sage-amazon report {name} FILE.xlsx (or .csv) [--month YYYY-MM]"),
    })


@dg.asset(
    kinds={"duckdb"}, pool=pools.DUCKDB_WRITE, deps=["facilitator_tax_by_state"],
    metadata={"dagster/table_name": "marts.us_sales_tax_summary"},
    description="US marketplace facilitator tax per month, marketplace and ship-to state: tax Amazon collected, "
                "remitted, and left for the seller to remit (ties to the posted tax_collected / tax_withheld lines).",
)
def us_sales_tax_summary(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    return _report(context, warehouse, "sales-tax", ("tax_collected", "tax_remitted_by_amazon", "seller_to_remit"))


@dg.asset(
    kinds={"duckdb"}, pool=pools.DUCKDB_WRITE, deps=["settlement_cogs", "journal_settlement_lines"],
    metadata={"dagster/table_name": "marts.sku_margin_summary"},
    description="COGS and margin per month, marketplace and SKU: units sold, returned and net, revenue and Amazon's "
                "per-item fees (converted at the settlement journal's rate), COGS at the Sage cost, margin and "
                "margin %; units still waiting for a Sage item or cost leave the margin empty.",
)
def sku_margin_summary(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    return _report(context, warehouse, "margin", ("revenue", "amazon_fees", "cogs"))
