"""The VAT summary finance files with (issue 17.5): per return period and registration, the boxes of the return
(UK VAT100 boxes 1-9, German UStVA Kennzahlen, OSS per member state, Canada's GST34 lines), summed from every
settlement's marts.settlement_vat_boxes (the SQL model of the decided VAT lines), kept in marts.vat_return_summary
and exported as CSV or XLSX (`sage-amazon vat summary`).

Return periods are calendar quarters (2026-Q3), or months for the registrations the profile names under
`monthly_returns` (a German monthly filer)."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

BOXES = "marts.settlement_vat_boxes"
TABLE = "marts.vat_return_summary"
COLUMNS = ("return_period", "registration", "registration_country", "form", "box", "amount", "settlements")
FORM_ORDER = {"UK VAT100": 1, "DE UStVA": 2, "OSS": 3, "CA GST34": 4}


def build_boxes(con: duckdb.DuckDBPyConnection, settlement_id: str) -> int:
    """Materialize the settlement's partition of marts.settlement_vat_boxes (needs marts.settlement_vat)."""
    from sage_amazon import sql_models

    model = sql_models.parse_model(sql_models.SQL_ROOT / "marts" / "settlement_vat_boxes.sql")
    return sql_models.materialize(con, model, settlement_id).row_count


def return_period(period: str, monthly: bool = False) -> str:
    """'2026-08' -> '2026-Q3' (or '2026-08' for a monthly filer)."""
    if monthly:
        return period
    year, month = period.split("-")
    return f"{year}-Q{(int(month) - 1) // 3 + 1}"


def build(con: duckdb.DuckDBPyConnection, monthly: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Replace marts.vat_return_summary from every settlement's boxes; returns its rows."""
    from sage_amazon.warehouse import table_exists

    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (return_period VARCHAR, registration VARCHAR, "
                "registration_country VARCHAR, form VARCHAR, box VARCHAR, amount DECIMAL(18,2), settlements INTEGER)")
    totals: dict[tuple[str, str, str, str, str], list] = {}
    if table_exists(con, BOXES):
        for period, reg, country, form, box, amount, sid in con.execute(
                f"SELECT period, registration, registration_country, form, box, amount, settlement_id "
                f"FROM {BOXES}").fetchall():
            key = (return_period(period, reg in monthly), reg, country, form, box)
            entry = totals.setdefault(key, [Decimal("0.00"), set()])
            entry[0] += Decimal(amount)
            entry[1].add(sid)
    rows = [dict(zip(COLUMNS, (*key, total, len(sids)), strict=True))
            for key, (total, sids) in sorted(totals.items(), key=lambda kv: _order(kv[0]))]
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM {TABLE}")
        if rows:
            con.executemany(f"INSERT INTO {TABLE} VALUES ({', '.join('?' for _ in COLUMNS)})",
                            [[r[c] for c in COLUMNS] for r in rows])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return rows


def _order(key: tuple) -> tuple:
    period, reg, _, form, box = key
    number = "".join(ch for ch in box if ch.isdigit())
    return period, FORM_ORDER.get(form, 9), reg, int(number) if number else 0, box


def read(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, TABLE):
        return []
    cur = con.execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE}")
    return sorted((dict(zip(COLUMNS, r, strict=True)) for r in cur.fetchall()),
                  key=lambda r: _order((r["return_period"], r["registration"], "", r["form"], r["box"])))


def boxes(rows: list[dict[str, Any]], return_period_: str, registration: str, form: str) -> dict[str, Decimal]:
    """box -> amount of one return."""
    return {r["box"]: r["amount"] for r in rows if r["return_period"] == return_period_
            and r["registration"] == registration and r["form"] == form}


def export(rows: list[dict[str, Any]], path: Path) -> Path:
    """Write the summary as CSV (amounts as exact decimal text) or XLSX, by the file's suffix."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        from sage_amazon.cockpit.export import Sheet, write_workbook

        return write_workbook(path, [Sheet("VAT summary", list(COLUMNS), [tuple(r[c] for c in COLUMNS)
                                                                          for r in rows])])
    if path.suffix.lower() != ".csv":
        raise ValueError(f"{path}: the VAT summary is written as .csv or .xlsx, not {path.suffix or 'no suffix'!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([f"{r[c]:.2f}" if isinstance(r[c], Decimal) else r[c] for c in COLUMNS])
    return path


def markdown(rows: list[dict[str, Any]]) -> str:
    """The summary as a markdown table (the asset's metadata)."""
    head = "| return period | registration | form | box | amount |\n|---|---|---|---|---:|"
    body = [f"| {r['return_period']} | {r['registration']} | {r['form']} | {r['box']} | {r['amount']:.2f} |"
            for r in rows]
    return "\n".join([head, *body])
