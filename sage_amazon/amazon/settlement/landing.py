"""Landing a settlement file: raw.settlement_lines (one partition per settlement) and raw.settlement_reports.

`land` reads the file with the fast path (`sql.py`) inside one transaction; when a value cannot be
read, `find_bad_line` scans the file in Python for the first bad line and the error names the file,
line, column and value. Nothing is left behind: a refused file lands nothing.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from sage_amazon.amazon.settlement.layout import (
    FileLayout,
    SettlementFileError,
    decode,
    open_binary,
    sniff,
    split_row,
)
from sage_amazon.amazon.settlement.sql import LINE_COLUMNS, select_lines_sql
from sage_amazon.amazon.settlement.summary import (
    SettlementSummary,
    home_marketplace_name,
    marketplace_code,
    summary_values,
)
from sage_amazon.amazon.settlement.values import parse_amount, parse_local_date

SETTLEMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("settlement_id", "VARCHAR"),
    ("file_format", "VARCHAR"),
    ("settlement_start", "TIMESTAMPTZ"),
    ("settlement_end", "TIMESTAMPTZ"),
    ("settlement_start_date", "DATE"),  # the days as written in the file (marketplace day)
    ("settlement_end_date", "DATE"),
    ("deposit_date", "DATE"),
    ("total_amount", "DECIMAL(18,2)"),
    ("currency", "VARCHAR"),
    ("marketplace_name", "VARCHAR"),
    ("marketplace", "VARCHAR"),
    ("line_count", "BIGINT"),
    ("source_file", "VARCHAR"),
    ("file_sha256", "VARCHAR"),
    ("source", "VARCHAR"),
    ("loaded_at", "TIMESTAMPTZ"),
)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_tables(con, schema: str = "raw") -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    cols = ", ".join(f"{n} {t}" for n, t in LINE_COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {schema}.settlement_lines ({cols})")
    # warehouses created before a column existed gain it (older partitions keep NULL there)
    for name, sql_type in LINE_COLUMNS:
        con.execute(f"ALTER TABLE {schema}.settlement_lines ADD COLUMN IF NOT EXISTS {name} {sql_type}")
    cols = ", ".join(f"{n} {t}" for n, t in SETTLEMENT_COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {schema}.settlement_reports ({cols})")


# ---------------------------------------------------------------------------------------------
# errors


def _bad_value(layout: FileLayout, row: dict[str, str], line_no: int) -> SettlementFileError | None:
    """The first value of a detail row the fast path could not read (same rules as sql.py)."""
    if layout.file_format == "V2" and not row.get("amount"):
        return SettlementFileError(layout.path, "empty amount", line=line_no, column="amount", value="")
    for column in layout.amount_columns():
        if not row.get(column):
            continue
        try:
            parse_amount(row[column], layout.decimal_comma)
        except ValueError as exc:
            return SettlementFileError(layout.path, str(exc), line=line_no, column=column, value=row[column])
    if row.get("posted-date"):
        try:
            parse_local_date(row["posted-date"], layout.day_first)
        except ValueError as exc:
            return SettlementFileError(layout.path, str(exc), line=line_no, column="posted-date",
                                       value=row["posted-date"])
    return None


def find_bad_line(layout: FileLayout) -> SettlementFileError:
    """Slow path after the fast path found a bad value: scan in Python for the first bad line/column."""
    line_no = 0
    try:
        with open_binary(layout.path, layout.compression) as handle:
            for raw in handle:
                line_no += 1
                if line_no <= 2:
                    continue
                text = decode(raw).rstrip("\r\n")
                if not text.strip():
                    continue
                row = split_row(text, layout.columns, layout.delimiter)
                if row.get("total-amount"):
                    continue
                error = _bad_value(layout, row, line_no)
                if error is not None:
                    return error
    except (EOFError, OSError, zlib.error) as exc:
        return SettlementFileError(layout.path, f"truncated or corrupt compressed file ({exc})", line=line_no + 1)
    return SettlementFileError(layout.path, "a value could not be read but the line-by-line scan accepts every "
                               "line: please report this file", column=", ".join(layout.amount_columns()))


def _count_lines(layout: FileLayout) -> int:
    n = 0
    try:
        with open_binary(layout.path, layout.compression) as handle:
            for _ in handle:
                n += 1
    except (EOFError, OSError, zlib.error):
        pass
    return n


def _duckdb_error(layout: FileLayout, exc: Exception) -> SettlementFileError:
    text = str(exc)
    if "GZIP" in text.upper() or "compress" in text.lower():
        return SettlementFileError(layout.path, "truncated or corrupt gzip data", line=_count_lines(layout) + 1)
    match = re.search(r"CSV Error on Line: (\d+)", text)
    if match and "Maximum line size" in text:
        return _oversized(layout, int(match.group(1)))
    if match:
        found = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
        reason = "malformed row"
        column = None
        if found:
            expected, got = int(found.group(1)), int(found.group(2))
            reason = f"row has {got} columns, the header has {expected}"
            column = f"column {expected + 1}" if got > expected else None
        return SettlementFileError(layout.path, reason, line=int(match.group(1)), column=column)
    if "unicode" in text.lower() or "utf-8" in text.lower():
        line = re.search(r"[Ll]ine:? (\d+)", text)
        return SettlementFileError(layout.path, "not valid UTF-8 text", line=int(line.group(1)) if line else None)
    return SettlementFileError(layout.path, text.splitlines()[0] if text else repr(exc))


def _oversized(layout: FileLayout, line: int) -> SettlementFileError:
    """A line over DuckDB's max_line_size (1 MB): name its longest field (the column) and its start."""
    column, size, start = None, 0, ""
    try:
        with open_binary(layout.path, layout.compression) as handle:
            for no, raw in enumerate(handle, start=1):
                if no == line:
                    for name, value in zip(layout.columns, decode(raw).rstrip("\r\n").split(layout.delimiter),
                                           strict=False):
                        if len(value) > size:
                            column, size, start = name, len(value), value[:20]
                    break
    except (EOFError, OSError, zlib.error):
        pass
    return SettlementFileError(layout.path, f"a field of {size:,} characters: a line may not exceed 1 MB",
                               line=line, column=column, value=start + "..." if size > 20 else start)


# ---------------------------------------------------------------------------------------------
# landing


def land(con, path: Path | str, *, schema: str = "raw", source: str = "file",
         marketplace: str | None = None) -> SettlementSummary:
    """Parse a settlement file and land it as one partition of `<schema>.settlement_lines`.

    Replaces any earlier landing of the same settlement id (delete + insert, one transaction) and
    upserts its row in `<schema>.settlement_reports`. Raises `SettlementFileError` and lands nothing when
    the file is malformed.
    """
    from concurrent.futures import ThreadPoolExecutor

    path = Path(path)
    layout = sniff(path)
    with ThreadPoolExecutor(max_workers=1) as pool:  # hashing (GIL released) overlaps DuckDB's read
        sha_future = pool.submit(file_sha256, path)
        return _land(con, path, layout, sha_future, schema, source, marketplace)


def _insert_lines(con, layout: FileLayout, sid: str, schema: str) -> FileLayout:
    """Insert the file's lines (inside the caller's transaction); returns the layout that read it."""
    line_cols = ", ".join(c for c, _ in LINE_COLUMNS)
    con.execute(f"DELETE FROM {schema}.settlement_lines WHERE settlement_id = ?", [sid])
    try:
        con.execute(f"INSERT INTO {schema}.settlement_lines ({line_cols}) {select_lines_sql(layout, sid)}")
        return layout
    except Exception as exc:  # duckdb.Error subclasses; keep duckdb import out of module import
        if "not utf-8 encoded" not in str(exc).lower():
            raise _duckdb_error(layout, exc) from None
    # not UTF-8: a file saved by hand in Latin-1 / Windows-1252; read it again as such
    con.execute("ROLLBACK")
    con.execute("BEGIN TRANSACTION")
    con.execute(f"DELETE FROM {schema}.settlement_lines WHERE settlement_id = ?", [sid])
    layout = replace(layout, encoding="latin-1")
    try:
        con.execute(f"INSERT INTO {schema}.settlement_lines ({line_cols}) {select_lines_sql(layout, sid)}")
    except Exception as exc:
        raise _duckdb_error(layout, exc) from None
    return layout


def _land(con, path: Path, layout: FileLayout, sha_future, schema: str, source: str,
          marketplace: str | None) -> SettlementSummary:
    head: dict[str, Any] = summary_values(layout)
    sid = head["settlement_id"]
    ensure_tables(con, schema)
    con.execute("BEGIN TRANSACTION")
    try:
        layout = _insert_lines(con, layout, sid, schema)
        bad_amounts, no_dates, n, names = con.execute(
            f"SELECT count(*) FILTER (WHERE amount IS NULL), count(*) FILTER (WHERE posted_date IS NULL), "
            f"count(*), histogram(lower(marketplace_name)) FILTER (WHERE marketplace_name IS NOT NULL) "
            f"FROM {schema}.settlement_lines WHERE settlement_id = ?", [sid]).fetchone()
        if bad_amounts or no_dates:
            error = find_bad_line(layout)
            if bad_amounts or error.line is not None:
                raise error
        sha = sha_future.result()
        marketplace_name = home_marketplace_name(dict(names or {}), head["currency"])
        code = marketplace or marketplace_code(marketplace_name, head["currency"])
        con.execute(f"DELETE FROM {schema}.settlement_reports WHERE settlement_id = ?", [sid])
        con.execute(
            f"INSERT INTO {schema}.settlement_reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
            [sid, layout.file_format, head["settlement_start"], head["settlement_end"],
             head["settlement_start_date"], head["settlement_end_date"], head["deposit_date"],
             head["total_amount"], head["currency"], marketplace_name, code, int(n), str(path), sha, source])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return SettlementSummary(
        settlement_id=sid, file_format=layout.file_format, settlement_start=head["settlement_start"],
        settlement_end=head["settlement_end"], deposit_date=head["deposit_date"],
        total_amount=head["total_amount"], currency=head["currency"], marketplace_name=marketplace_name,
        marketplace=code, line_count=int(n), source_file=str(path), file_sha256=sha)

