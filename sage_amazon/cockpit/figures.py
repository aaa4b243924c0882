"""One settlement's figures as finance charts them over time (issue 16.2): Amazon's total, the deposit, money by
role of the account map (sales, refunds, marketplace fees, FBA fees, storage fees, advertising, reimbursements...),
the fee rate (marketplace and FBA fees per 100 of sales), FBA fees per unit, orders and units.

`refresh(con, sid)` rewrites the settlement's rows of marts.settlement_figures (settlement_id, currency, figure,
amount DECIMAL(18,4)) and returns them. Exact Decimals; the cockpit asset adds a float beside each for the plots.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from sage_amazon.warehouse import table_exists

if TYPE_CHECKING:
    import duckdb

TABLE = "marts.settlement_figures"
CENT, BASIS = Decimal("0.01"), Decimal("0.0001")
FEE_ROLES = ("marketplace_fees", "fba_fees")  # the fee rate's fees


def _one(con, sql: str, params: list):
    row = con.execute(sql, params).fetchone()
    return row[0] if row else None


def compute(con: duckdb.DuckDBPyConnection, settlement_id: str) -> tuple[str, dict[str, Decimal]]:
    """(currency, figures) of a landed settlement; ("", {}) before it is landed."""
    if not table_exists(con, "raw.settlement_reports"):
        return "", {}
    report = con.execute("SELECT currency, total_amount FROM raw.settlement_reports WHERE settlement_id = ?",
                         [settlement_id]).fetchone()
    if report is None:
        return "", {}
    currency, total = report
    figures: dict[str, Decimal] = {"total": total}
    if table_exists(con, "marts.journal_settlement_lines"):
        deposit = _one(con, """SELECT CAST(-sum(amount) AS DECIMAL(18, 2)) FROM marts.journal_settlement_lines
                               WHERE settlement_id = ? AND line_kind = 'bank'""", [settlement_id])
        figures["deposit"] = deposit if deposit is not None else Decimal("0.00")
    if table_exists(con, "staging.stg_settlement_categories"):
        for role, amount in con.execute(
                """SELECT role, CAST(sum(amount) AS DECIMAL(18, 2)) FROM staging.stg_settlement_categories
                   WHERE settlement_id = ? GROUP BY role ORDER BY role""", [settlement_id]).fetchall():
            figures[role] = amount
    if table_exists(con, "raw.settlement_lines"):
        orders, units = con.execute(
            """SELECT count(DISTINCT order_id), coalesce(sum(quantity_purchased), 0) FROM raw.settlement_lines
               WHERE settlement_id = ? AND transaction_type = 'Order' AND amount_type = 'ItemPrice'
                 AND amount_description = 'Principal'""", [settlement_id]).fetchone()
        figures["orders"], figures["units"] = Decimal(int(orders)), Decimal(int(units))
    fees = -sum((figures.get(role, Decimal(0)) for role in FEE_ROLES), Decimal(0))
    sales = figures.get("sales", Decimal(0))
    if sales > 0:
        figures["fee_rate_percent"] = (fees * 100 / sales).quantize(BASIS, ROUND_HALF_UP)
    if figures.get("units"):
        figures["fba_fees_per_unit"] = (-figures.get("fba_fees", Decimal(0)) / figures["units"]).quantize(
            BASIS, ROUND_HALF_UP)
    return currency or "", figures


def refresh(con: duckdb.DuckDBPyConnection, settlement_id: str) -> tuple[str, dict[str, Decimal]]:
    currency, figures = compute(con, settlement_id)
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {TABLE} (settlement_id VARCHAR NOT NULL, currency VARCHAR,
                    figure VARCHAR NOT NULL, amount DECIMAL(18, 4) NOT NULL)""")
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM {TABLE} WHERE settlement_id = ?", [settlement_id])
        if figures:
            con.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?)",
                            [[settlement_id, currency, name, value] for name, value in figures.items()])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return currency, figures
