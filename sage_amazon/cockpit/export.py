"""Workbooks for the accountant (issue 16.11): the cockpit's tables, or one settlement whole, as xlsx.

`cockpit_workbook`: Overview (marts.settlement_overview), Flows (marts.flow_overview), Dead letters, and, where
the warehouse has them, Tie-out (marts.settlement_order_tieout) and Reconciliation (marts.settlement_reconciliation).
`settlement_workbook`: Summary (its overview and reconciliation rows as label/value), Journal lines, Trace (each
settlement row and the journal line it is summarised into) and Raw rows. Money is written from Decimal as an exact
number (Excel shows it with two decimals), dates as dates; openpyxl is imported only here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sage_amazon.warehouse import table_exists

if TYPE_CHECKING:
    import duckdb

MAX_SHEET_NAME = 31  # Excel's limit


class UnknownSettlement(LookupError):
    """No row of the warehouse names this settlement."""


@dataclass(frozen=True)
class Sheet:
    name: str
    columns: list[str]
    rows: list[tuple]


def _query(con: duckdb.DuckDBPyConnection, name: str, sql: str, params: list | None = None) -> Sheet:
    cur = con.execute(sql, params or [])
    return Sheet(name, [d[0] for d in cur.description], cur.fetchall())


def _table(con: duckdb.DuckDBPyConnection, name: str, table: str, where: str = "", params: list | None = None,
           order: str = "") -> Sheet | None:
    if not table_exists(con, table):
        return None
    return _query(con, name, f"SELECT * FROM {table} {where} {order}", params)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones: the warehouse's times are UTC
    if isinstance(value, list | dict | tuple):
        return str(value)
    return value


def write_workbook(path: Path, sheets: list[Sheet]) -> Path:
    """One worksheet per sheet: a bold header row, frozen, filters on, columns sized to their text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        ws = book.create_sheet(sheet.name[:MAX_SHEET_NAME])
        ws.append(sheet.columns)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            ws.append([_cell(v) for v in row])
        for index, column in enumerate(sheet.columns, start=1):
            values = [row[index - 1] for row in sheet.rows]
            letter = get_column_letter(index)
            if values and any(isinstance(v, Decimal) for v in values):
                for cell in ws[letter][1:]:
                    cell.number_format = "#,##0.00"
            elif any(isinstance(v, datetime) for v in values):
                for cell in ws[letter][1:]:
                    cell.number_format = "yyyy-mm-dd hh:mm"
            width = max([len(str(column)), *(len(str(v)) for v in values[:500] if v is not None)])
            ws.column_dimensions[letter].width = min(max(width + 2, 8), 60)
        ws.freeze_panes = "A2"
        if sheet.columns:
            ws.auto_filter.ref = f"A1:{get_column_letter(len(sheet.columns))}{max(len(sheet.rows) + 1, 1)}"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def cockpit_sheets(con: duckdb.DuckDBPyConnection) -> list[Sheet]:
    """The cockpit's tables brought up to date (a write connection): overview, flows, dead letters, tie-outs."""
    from sage_amazon.cockpit import deadletters, overview

    overview.refresh(con)
    deadletters.refresh(con)
    sheets = [
        _table(con, "Overview", overview.SETTLEMENTS),
        _table(con, "Flows", overview.FLOWS, order="ORDER BY flow"),
        _table(con, "Dead letters", deadletters.TABLE, order="ORDER BY flow, first_seen, record_key"),
        _table(con, "Tie-out", "marts.settlement_order_tieout"),
        _table(con, "Reconciliation", "marts.settlement_reconciliation", order="ORDER BY settlement_id"),
    ]
    return [s for s in sheets if s is not None]


def settlement_sheets(con: duckdb.DuckDBPyConnection, settlement_id: str) -> list[Sheet]:
    """One settlement whole: summary, journal lines, trace, raw rows. UnknownSettlement if nothing names it."""
    from sage_amazon.cockpit import overview

    row = next((r for r in overview.refresh(con).settlements if r["settlement_id"] == settlement_id), None)
    if row is None:
        raise UnknownSettlement(f"settlement {settlement_id} is not in the warehouse (import it, or check the id "
                                "with `sage-amazon deadletter list --flow settlement`)")
    summary = [(k, v) for k, v in row.items()]
    reconciliation = _table(con, "r", "marts.settlement_reconciliation", "WHERE settlement_id = ?", [settlement_id])
    if reconciliation and reconciliation.rows:
        known = {k for k, _ in summary}
        summary += [(k, v) for k, v in zip(reconciliation.columns, reconciliation.rows[0], strict=True)
                    if k not in known]
    by_id = ("WHERE settlement_id = ?", [settlement_id])
    sheets = [
        Sheet("Summary", ["item", "value"], summary),
        _table(con, "Journal lines", "marts.journal_settlement_lines", *by_id),
        _table(con, "Trace", "marts.journal_settlement_trace", *by_id, order="ORDER BY row_no"),
        _table(con, "Raw rows", "raw.settlement_lines", *by_id),
    ]
    return [s for s in sheets if s is not None]
