"""Reports finance files with (issue 17.5): tables in the warehouse, shown by the month_end flow's assets and
exported by `sage-amazon report <name> FILE.csv|FILE.xlsx`.

- sales_tax: US marketplace facilitator tax per month, marketplace and ship-to state (from marts.facilitator_tax_
  by_state, the per-journal-line split that ties to the posted tax_collected / tax_withheld lines): tax Amazon
  collected, withheld and remitted, and what is left for the seller to remit;
- margin: per month, marketplace and SKU, units sold / returned / net (marts.settlement_cogs), revenue (item
  principal and promotions, refunds deducted) and the Amazon fees charged per item (ItemFees lines) from the
  settlement lines, converted at the rate of the settlement journal of that period, COGS at the Sage cost
  (status ok rows), margin and margin %; beside them the units lost, damaged or liquidated and their cost
  (Inventory losses, not in the margin: Amazon's reimbursement for them is not a sale). Units waiting for a Sage item or cost are counted in `units_without_cost`
  and leave margin NULL: never a margin on a guessed cost;
- deferred: the orders behind each month's deferred accrual (marts.deferred_accrual_orders).

Money is Decimal (DECIMAL(18,2)); months are YYYY-MM; a month filter keeps one month.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from sage_amazon.cockpit.export import Sheet, write_workbook
from sage_amazon.warehouse import table_exists

if TYPE_CHECKING:
    import duckdb

SALES_TAX_TABLE = "marts.us_sales_tax_summary"
MARGIN_TABLE = "marts.sku_margin_summary"
DEFERRED_TABLE = "marts.deferred_accrual_orders"

SALES_TAX_SQL = """
SELECT period AS month, marketplace, state, any_value(currency) AS currency,
       CAST(sum(collected) AS DECIMAL(18, 2)) AS tax_collected,
       CAST(-sum(withheld) AS DECIMAL(18, 2)) AS tax_remitted_by_amazon,
       CAST(sum(seller_owes) AS DECIMAL(18, 2)) AS seller_to_remit,
       CAST(sum(orders) AS INTEGER) AS orders, count(DISTINCT settlement_id) AS settlements
FROM marts.facilitator_tax_by_state
GROUP BY ALL ORDER BY month, marketplace, state
"""

MARGIN_SQL = """
WITH rep AS (
    SELECT settlement_id, marketplace, coalesce(settlement_end_date, deposit_date) AS end_date
    FROM raw.settlement_reports
),
lines AS (
    SELECT l.settlement_id,
           strftime(date_trunc('month', coalesce(l.posted_date, rep.end_date)), '%Y-%m') AS period,
           coalesce(l.marketplace, rep.marketplace, '') AS marketplace, trim(l.sku) AS sku,
           sum(CASE WHEN (lower(trim(l.amount_type)) = 'itemprice' AND lower(trim(l.amount_description)) = 'principal')
                         OR (lower(trim(l.amount_type)) = 'promotion'
                             AND lower(trim(l.amount_description)) = 'principal')
                    THEN l.amount ELSE 0 END) AS revenue,
           sum(CASE WHEN lower(trim(l.amount_type)) = 'itemfees' THEN l.amount ELSE 0 END) AS fees
    FROM raw.settlement_lines AS l JOIN rep USING (settlement_id)
    WHERE nullif(trim(l.sku), '') IS NOT NULL
    GROUP BY ALL
),
rates AS (
    SELECT settlement_id, period, max(rate) AS rate, any_value(company_currency) AS company_currency
    FROM marts.journal_settlement_lines GROUP BY ALL
),
costs AS (
    SELECT settlement_id, period, marketplace, sku,
           sum(units_sold) AS units_sold, sum(units_returned) AS units_returned, sum(net_units) AS net_units,
           sum(CASE WHEN status = 'ok' THEN cost END) AS cogs,
           sum(CASE WHEN status <> 'ok' THEN abs(net_units) + abs(coalesce(units_written_off, 0)) ELSE 0 END)
               AS units_without_cost,
           sum(coalesce(units_written_off, 0)) AS units_written_off,
           sum(CASE WHEN status = 'ok' THEN coalesce(write_off_cost, 0) END) AS write_off_cost,
           any_value(currency) AS cost_currency
    FROM marts.settlement_cogs GROUP BY ALL
),
joined AS (
    SELECT coalesce(l.period, c.period) AS month, coalesce(l.marketplace, c.marketplace) AS marketplace,
           coalesce(l.sku, c.sku) AS sku, coalesce(c.units_sold, 0) AS units_sold,
           coalesce(c.units_returned, 0) AS units_returned, coalesce(c.net_units, 0) AS net_units,
           coalesce(c.units_without_cost, 0) AS units_without_cost,
           coalesce(c.units_written_off, 0) AS units_written_off, coalesce(c.write_off_cost, 0) AS write_off_cost,
           CAST(round(coalesce(l.revenue, 0) * r.rate, 2) AS DECIMAL(18, 2)) AS revenue,
           CAST(round(coalesce(l.fees, 0) * r.rate, 2) AS DECIMAL(18, 2)) AS amazon_fees,
           coalesce(c.cogs, 0) AS cogs, coalesce(r.company_currency, c.cost_currency) AS currency
    FROM lines AS l
    FULL JOIN costs AS c USING (settlement_id, period, marketplace, sku)
    LEFT JOIN rates AS r ON r.settlement_id = coalesce(l.settlement_id, c.settlement_id)
        AND r.period = coalesce(l.period, c.period)
)
SELECT month, marketplace, sku, any_value(currency) AS currency,
       CAST(sum(units_sold) AS INTEGER) AS units_sold, CAST(sum(units_returned) AS INTEGER) AS units_returned,
       CAST(sum(net_units) AS INTEGER) AS net_units, CAST(sum(units_without_cost) AS INTEGER) AS units_without_cost,
       CAST(sum(revenue) AS DECIMAL(18, 2)) AS revenue, CAST(sum(amazon_fees) AS DECIMAL(18, 2)) AS amazon_fees,
       CAST(sum(cogs) AS DECIMAL(18, 2)) AS cogs,
       CASE WHEN sum(units_without_cost) = 0 AND count(revenue) = count(*)
            THEN CAST(sum(revenue) + sum(amazon_fees) - sum(cogs) AS DECIMAL(18, 2)) END AS margin,
       CASE WHEN sum(units_without_cost) = 0 AND sum(revenue) <> 0
            THEN CAST(round(100 * (sum(revenue) + sum(amazon_fees) - sum(cogs)) / sum(revenue), 1) AS DECIMAL(9, 1))
       END AS margin_pct,
       CAST(sum(units_written_off) AS INTEGER) AS units_written_off,
       CAST(sum(write_off_cost) AS DECIMAL(18, 2)) AS write_off_cost
FROM joined
GROUP BY month, marketplace, sku ORDER BY month, marketplace, sku
"""

# name -> (warehouse table it is kept in, the query building it from its sources (None: kept by its flow),
#          the tables the query needs)
REPORTS: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "sales-tax": (SALES_TAX_TABLE, SALES_TAX_SQL, ("marts.facilitator_tax_by_state",)),
    "margin": (MARGIN_TABLE, MARGIN_SQL, ("raw.settlement_lines", "raw.settlement_reports",
                                          "marts.journal_settlement_lines", "marts.settlement_cogs")),
    "deferred": (DEFERRED_TABLE, None, (DEFERRED_TABLE,)),
}


class NoData(LookupError):
    """The warehouse holds nothing a report is built from yet."""


def build(con: duckdb.DuckDBPyConnection, name: str) -> Sheet:
    """Rebuild a report's table from its sources (a report kept by its flow is read as it is); its rows."""
    table, sql, sources = REPORTS[name]
    missing = [t for t in sources if not table_exists(con, t)]
    if missing:
        raise NoData(f"report {name}: the warehouse has no {', '.join(missing)} yet (run the settlements first)")
    if sql is not None:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {sql}")
    return read(con, name)


def read(con: duckdb.DuckDBPyConnection, name: str, month: str | None = None) -> Sheet:
    table = REPORTS[name][0]
    if not table_exists(con, table):
        raise NoData(f"report {name}: {table} is not built yet (materialize it, or `sage-amazon report {name}`)")
    where, params = ("WHERE month = ?", [month]) if month else ("", [])
    order = "ORDER BY month, marketplace" + (", sku" if name == "margin" else ", state" if name == "sales-tax"
                                             else ", shipped_on, order_id")
    cur = con.execute(f"SELECT * FROM {table} {where} {order}", params)
    return Sheet(name, [d[0] for d in cur.description], cur.fetchall())


def write(path: Path, sheet: Sheet) -> Path:
    """FILE.csv (one header row, amounts as written, dates ISO) or FILE.xlsx (one worksheet)."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return write_workbook(path, [sheet])
    if suffix != ".csv":
        raise ValueError(f"{path}: the export is written as .csv or .xlsx, got {suffix or 'no suffix'!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(sheet.columns)
        out.writerows(["" if v is None else v for v in row] for row in sheet.rows)
    return path


def markdown(sheet: Sheet, limit: int = 50) -> str:
    """The first rows as a Markdown table (asset metadata)."""
    if not sheet.rows:
        return "_no rows_"
    head = "| " + " | ".join(sheet.columns) + " |\n|" + "---|" * len(sheet.columns) + "\n"
    body = "\n".join("| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in sheet.rows[:limit])
    more = f"\n\n_{len(sheet.rows) - limit} more rows: `sage-amazon report {sheet.name} FILE.xlsx`_" \
        if len(sheet.rows) > limit else ""
    return head + body + more
