"""Amazon settlement flat files (V2 and the older V1 layout) read into DuckDB.

The fast path is DuckDB's own CSV reader: every column is read as text with explicit names (taken
from the file's own header, so extra columns such as ``promotion-id`` are tolerated and order does
not matter), then amounts are cast to DECIMAL(18,2) and timestamps to TIMESTAMPTZ in one SQL pass.
The sniffer is never trusted with amounts (it would read them as DOUBLE).

Facts the parser relies on (see shared/design/amazon-sp-api.md section 3):
- the first data row is the settlement summary: settlement-id, the three dates, total-amount,
  currency; detail rows leave total-amount blank;
- the detail amounts add up exactly to total-amount;
- dates come as ``2026-06-16 00:00:00 UTC``, ISO-8601 with an offset, or day-first
  (``16.06.2026 ...`` / ``16/06/2026 ...``) in European files, whose amounts use a decimal comma.

A malformed file raises `SettlementFileError` naming the file, the line and the column. Nothing is
left behind: landing runs in one transaction.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

V2_COLUMNS = (
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount",
    "currency", "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id",
    "marketplace-name", "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date",
    "posted-date-time", "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku",
    "quantity-purchased",
)
V2_REQUIRED = (
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount",
    "currency", "transaction-type", "amount-type", "amount-description", "amount", "posted-date",
)
# V1 keeps one column pair per kind of amount; each pair becomes one V2-style line.
# (type column or None, amount column, amount-type written to the line, description if no type column)
V1_AMOUNT_PAIRS = (
    ("price-type", "price-amount", "ItemPrice", None),
    ("item-related-fee-type", "item-related-fee-amount", "ItemFees", None),
    ("shipment-fee-type", "shipment-fee-amount", "Shipment-Fees", None),
    ("order-fee-type", "order-fee-amount", "Order-Fees", None),
    ("promotion-type", "promotion-amount", "Promotion", None),
    ("direct-payment-type", "direct-payment-amount", "Direct-Payment", None),
    (None, "misc-fee-amount", "other-transaction", "MiscFee"),
    ("other-fee-reason-description", "other-fee-amount", "other-transaction", "Other Fee"),
    (None, "other-amount", "other-transaction", None),  # description = transaction-type
)
V1_REQUIRED = (
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount",
    "currency", "transaction-type", "posted-date", "price-type", "price-amount",
    "item-related-fee-type", "item-related-fee-amount", "other-amount",
)

# The columns of raw.settlement_lines, in order.
LINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("settlement_id", "VARCHAR"),
    ("transaction_type", "VARCHAR"),
    ("order_id", "VARCHAR"),
    ("merchant_order_id", "VARCHAR"),
    ("adjustment_id", "VARCHAR"),
    ("shipment_id", "VARCHAR"),
    ("marketplace_name", "VARCHAR"),
    ("amount_type", "VARCHAR"),
    ("amount_description", "VARCHAR"),
    ("amount", "DECIMAL(18,2)"),
    ("currency", "VARCHAR"),
    ("fulfillment_id", "VARCHAR"),
    ("posted_date", "DATE"),
    ("posted_at", "TIMESTAMPTZ"),
    ("order_item_code", "VARCHAR"),
    ("merchant_order_item_id", "VARCHAR"),
    ("merchant_adjustment_item_id", "VARCHAR"),
    ("sku", "VARCHAR"),
    ("quantity_purchased", "INTEGER"),
    ("promotion_id", "VARCHAR"),
)
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

# marketplace-name (lower case) -> marketplace code of the account map
MARKETPLACES = {
    "amazon.com": "US", "www.amazon.com": "US", "amazon.ca": "CA", "amazon.com.mx": "MX",
    "amazon.co.uk": "UK", "www.amazon.co.uk": "UK", "amazon.de": "DE", "www.amazon.de": "DE",
    "amazon.fr": "FR", "amazon.it": "IT", "amazon.es": "ES", "amazon.nl": "NL", "amazon.se": "SE",
    "amazon.pl": "PL", "amazon.com.be": "BE", "amazon.co.jp": "JP", "amazon.com.au": "AU",
}
CURRENCY_MARKETPLACE = {"USD": "US", "GBP": "UK", "EUR": "DE", "CAD": "CA", "MXN": "MX", "JPY": "JP", "AUD": "AU"}

# time zone abbreviations seen in Seller Central downloads
_TZ_SUFFIXES = {
    " UTC": "+00:00", " GMT": "+00:00", " PST": "-08:00", " PDT": "-07:00", " CET": "+01:00",
    " CEST": "+02:00", " BST": "+01:00", " MEZ": "+01:00", " MESZ": "+02:00", " JST": "+09:00",
}
_DAYFIRST = re.compile(r"^\d{1,2}[./]\d{1,2}[./]\d{4}")
_DECIMAL_COMMA = re.compile(r"^-?[\d.]*,\d{1,2}$")


class SettlementFileError(ValueError):
    """A settlement file that cannot be read. The message names the file, line and column."""

    def __init__(self, path: Path | str, message: str, *, line: int | None = None, column: str | None = None):
        self.path = str(path)
        self.line = line
        self.column = column
        self.reason = message
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class FileLayout:
    """What the first lines of a file say about it."""

    path: Path
    file_format: str  # "V2" | "V1"
    columns: tuple[str, ...]  # normalized header names, in file order
    delimiter: str
    compression: str  # "gzip" | "none"
    decimal_comma: bool
    day_first: bool
    summary: dict[str, str] = field(default_factory=dict)
    encoding: str = "utf-8"  # "latin-1" for files saved by hand in a Western European code page


@dataclass(frozen=True)
class SettlementSummary:
    settlement_id: str
    file_format: str
    settlement_start: datetime | None
    settlement_end: datetime | None
    deposit_date: date | None
    total_amount: Decimal
    currency: str
    marketplace_name: str
    marketplace: str
    line_count: int
    source_file: str
    file_sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "settlement_id": self.settlement_id,
            "file_format": self.file_format,
            "settlement_start": self.settlement_start.isoformat() if self.settlement_start else None,
            "settlement_end": self.settlement_end.isoformat() if self.settlement_end else None,
            "deposit_date": self.deposit_date.isoformat() if self.deposit_date else None,
            "total_amount": str(self.total_amount),
            "currency": self.currency,
            "marketplace_name": self.marketplace_name,
            "marketplace": self.marketplace,
            "line_count": self.line_count,
            "source_file": self.source_file,
            "file_sha256": self.file_sha256,
        }


# ---------------------------------------------------------------------------------------------
# header and summary (Python, first lines only)


def normalize_name(name: str) -> str:
    return name.strip().strip("\ufeff").strip('"').strip().lower().replace("_", "-").replace(" ", "-")


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _open_text(path: Path, compression: str):
    raw = gzip.open(path, "rb") if compression == "gzip" else path.open("rb")
    return raw


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def sniff(path: Path | str, sample_lines: int = 400) -> FileLayout:
    """Read the header, the summary row and a sample of lines; decide format and locale."""
    path = Path(path)
    if not path.exists():
        raise SettlementFileError(path, "file not found")
    compression = "gzip" if _is_gzip(path) else "none"
    lines: list[str] = []
    try:
        with _open_text(path, compression) as handle:
            for _ in range(sample_lines):
                raw = handle.readline()
                if not raw:
                    break
                lines.append(_decode(raw).rstrip("\r\n"))
    except (EOFError, OSError, zlib.error) as exc:
        raise SettlementFileError(path, f"cannot read compressed data ({exc})", line=len(lines) + 1) from None
    if not lines or not lines[0].strip():
        raise SettlementFileError(path, "empty file: no header line", line=1)
    header = lines[0].lstrip("\ufeff")
    delimiter = "\t" if "\t" in header else ("," if "," in header else ("|" if "|" in header else "\t"))
    columns = tuple(normalize_name(c) for c in header.split(delimiter))
    seen: set[str] = set()
    for name in columns:
        if name and name in seen:
            raise SettlementFileError(path, "duplicate column in header", line=1, column=name)
        seen.add(name)
    if "amount-type" in seen or "amount" in seen:
        file_format, required = "V2", V2_REQUIRED
    elif "price-type" in seen or "item-related-fee-type" in seen:
        file_format, required = "V1", V1_REQUIRED
    else:
        raise SettlementFileError(
            path, "not a settlement flat file: the header has neither amount-type/amount (V2) "
            "nor price-type/item-related-fee-type (V1)", line=1)
    for name in required:
        if name not in seen:
            raise SettlementFileError(path, f"missing column {name!r} in the {file_format} header",
                                      line=1, column=name)
    if len(lines) < 2 or not lines[1].strip():
        raise SettlementFileError(path, "no summary row after the header", line=2)
    values = lines[1].split(delimiter)
    summary = {name: (values[i].strip() if i < len(values) else "") for i, name in enumerate(columns)}
    if not summary.get("settlement-id") or not summary.get("total-amount"):
        raise SettlementFileError(path, "the first row after the header must be the settlement summary "
                                  "(settlement-id and total-amount filled)", line=2,
                                  column="total-amount" if summary.get("settlement-id") else "settlement-id")
    if not summary.get("currency"):
        raise SettlementFileError(path, "the settlement summary has no currency", line=2, column="currency")
    # locale: day-first dates and decimal commas go together in European files, but decide each
    day_first = bool(_DAYFIRST.match(summary.get("settlement-start-date", "")))
    amount_columns = [c for c in columns if c == "amount" or c.endswith("-amount")]
    idx = [columns.index(c) for c in amount_columns]
    decimal_comma = bool(_DECIMAL_COMMA.match(summary["total-amount"]))
    if not decimal_comma and "." not in summary["total-amount"]:
        for text in lines[2:]:
            parts = text.split(delimiter)
            hits = [parts[i].strip() for i in idx if i < len(parts) and parts[i].strip()]
            if any(_DECIMAL_COMMA.match(h) for h in hits):
                decimal_comma = True
                break
            if any("." in h for h in hits):
                break
    return FileLayout(path, file_format, columns, delimiter, compression, decimal_comma, day_first, summary)


# ---------------------------------------------------------------------------------------------
# value normalisation, shared by the SQL fast path and the Python error finder


def parse_amount(text: str, decimal_comma: bool) -> Decimal:
    value = text.strip()
    if decimal_comma and "," in value:
        value = value.replace(".", "").replace(",", ".")
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", value):
        raise ValueError(f"not an amount: {text!r}")
    if "." in value and len(value.split(".", 1)[1]) > 2:
        raise ValueError(f"amount {text!r} has more than two decimals (it would be rounded)")
    try:
        return Decimal(value).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None


def _iso_text(text: str, day_first: bool) -> str:
    value = text.strip()
    if day_first:
        match = re.match(r"^(\d{1,2})[./](\d{1,2})[./](\d{4})(.*)$", value)
        if match:
            d, m, y, rest = match.groups()
            value = f"{y}-{int(m):02d}-{int(d):02d}{rest}"
    for suffix, offset in _TZ_SUFFIXES.items():
        if value.endswith(suffix):
            value = value[: -len(suffix)] + offset
            break
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    return value


def parse_timestamp(text: str, day_first: bool) -> datetime:
    value = _iso_text(text, day_first)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date/time: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def parse_local_date(text: str, day_first: bool) -> date:
    """The calendar date as written in the file (the marketplace's own day), offset ignored."""
    value = _iso_text(text, day_first)
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ValueError(f"not a date: {text!r}") from None


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_iso(col: str, day_first: bool) -> str:
    """SQL text expression: the column rewritten to ISO-8601 with a numeric offset."""
    expr = f"trim({col})"
    if day_first:
        expr = (f"(CASE WHEN regexp_matches({expr}, '^\\d{{1,2}}[./]\\d{{1,2}}[./]\\d{{4}}') THEN "
                f"regexp_replace({expr}, '^(\\d{{1,2}})[./](\\d{{1,2}})[./](\\d{{4}})', "
                f"'\\3-\\2-\\1') ELSE {expr} END)")
        # one-digit day/month: pad through strptime-free rewrite
        expr = (f"regexp_replace(regexp_replace({expr}, '^(\\d{{4}})-(\\d)-', '\\1-0\\2-'),"
                f" '^(\\d{{4}}-\\d{{2}})-(\\d)(\\D|$)', '\\1-0\\2\\3')")
    cases = " ".join(
        f"WHEN suffix({expr}, {_sql_str(s)}) THEN left({expr}, length({expr}) - {len(s)}) || '{o}'"
        for s, o in _TZ_SUFFIXES.items())
    return f"(CASE {cases} ELSE {expr} END)"


def _sql_local_date(col: str, layout: FileLayout) -> str:
    """The posting day as written (offset ignored); ISO dates need no rewriting, which is fast."""
    if col == "NULL":
        return "NULL"
    fast = f"TRY_CAST(left({col}, 10) AS DATE)"
    if layout.day_first:
        return f"coalesce({fast}, TRY_CAST(left({_sql_iso(col, True)}, 10) AS DATE))"
    return fast


def _sql_timestamp(col: str, layout: FileLayout) -> str:
    """TIMESTAMPTZ; the common '... UTC' form takes a fast path, anything else the general rewrite
    (COALESCE only evaluates the fallback for rows the fast path could not read)."""
    general = f"TRY_CAST({_sql_iso(col, layout.day_first)} AS TIMESTAMPTZ)"
    if layout.day_first:
        return general
    return f"coalesce(TRY_CAST(replace({col}, ' UTC', '+00:00') AS TIMESTAMPTZ), {general})"


def _sql_amount(col: str, decimal_comma: bool) -> str:
    """DECIMAL(18,2), exactly: a value with more than two decimals becomes NULL (then reported with its
    line and column) instead of being rounded by the cast. LIKE keeps this check nearly free."""
    if decimal_comma:
        text = f"(CASE WHEN contains({col}, ',') THEN replace(replace(trim({col}), '.', ''), ',', '.') ELSE {col} END)"
        too_fine = f"({col} LIKE '%,___%' OR (NOT contains({col}, ',') AND {col} LIKE '%.___%'))"
    else:
        text, too_fine = col, f"{col} LIKE '%.___%'"
    # the cast itself ignores surrounding blanks
    return f"CASE WHEN {too_fine} THEN NULL ELSE TRY_CAST({text} AS DECIMAL(18,2)) END"


def _nz(col: str) -> str:
    # DuckDB's reader already turns empty fields into NULL; blank-only fields are treated as empty too
    return col


# ---------------------------------------------------------------------------------------------
# the fast path


def _read_csv_sql(layout: FileLayout) -> str:
    cols = ", ".join(f"{_sql_str(name or f'column{i}')}: 'VARCHAR'" for i, name in enumerate(layout.columns))
    return (
        f"read_csv({_sql_str(str(layout.path))}, delim={_sql_str(layout.delimiter)}, header=true, "
        f"columns={{{cols}}}, auto_detect=false, quote='', escape='', null_padding=true, "
        f"compression={_sql_str(layout.compression)}, max_line_size=1048576"
        + (f", encoding={_sql_str(layout.encoding)}" if layout.encoding != "utf-8" else "") + ")"
    )


def _select_lines_sql(layout: FileLayout, settlement_id: str) -> str:
    """One SELECT producing raw.settlement_lines rows (plus a bad_* diagnostic) from the file."""
    has = set(layout.columns)

    def q(name: str) -> str:
        return '"' + name + '"' if name in has else "NULL"

    sid = _sql_str(settlement_id)
    posted_src = "posted-date-time" if "posted-date-time" in has else "posted-date"
    common = {
        "settlement_id": sid,
        "transaction_type": _nz(q("transaction-type")),
        "order_id": _nz(q("order-id")),
        "merchant_order_id": _nz(q("merchant-order-id")),
        "adjustment_id": _nz(q("adjustment-id")),
        "shipment_id": _nz(q("shipment-id")),
        "marketplace_name": _nz(q("marketplace-name")),
        "currency": f"coalesce({_nz(q('currency'))}, {_sql_str(layout.summary['currency'])})",
        "fulfillment_id": _nz(q("fulfillment-id")),
        "posted_date": _sql_local_date(q("posted-date"), layout),
        "posted_at": _sql_timestamp(q(posted_src), layout) if posted_src in has else "NULL",
        "order_item_code": _nz(q("order-item-code")),
        "merchant_order_item_id": _nz(q("merchant-order-item-id")),
        "merchant_adjustment_item_id": _nz(q("merchant-adjustment-item-id")),
        "sku": _nz(q("sku")),
        "quantity_purchased": f"TRY_CAST({_nz(q('quantity-purchased'))} AS INTEGER)",
        "promotion_id": _nz(q("promotion-id")),
    }
    detail = f"({q('total-amount')} IS NULL OR trim({q('total-amount')}) = '')"

    def select(amount_type: str, description: str, amount_col: str, extra_where: str) -> str:
        cols = dict(common)
        cols["amount_type"] = amount_type
        cols["amount_description"] = description
        cols["amount"] = _sql_amount(q(amount_col), layout.decimal_comma)
        order = [c for c, _ in LINE_COLUMNS]
        body = ", ".join(f"{cols[c]} AS {c}" for c in order)
        where = detail + (f" AND {extra_where}" if extra_where else "")
        return f"SELECT {body} FROM src WHERE {where}"

    if layout.file_format == "V2":
        body = select(_nz(q("amount-type")), _nz(q("amount-description")), "amount", "")
    else:
        parts = []
        for type_col, amount_col, amount_type, fixed in V1_AMOUNT_PAIRS:
            if amount_col not in has:
                continue
            if type_col and type_col in has:
                desc = f"coalesce({_nz(q(type_col))}, {_sql_str(fixed or '')}, {_nz(q('transaction-type'))})"
                if not fixed:
                    desc = f"coalesce({_nz(q(type_col))}, {_nz(q('transaction-type'))})"
            elif fixed:
                desc = _sql_str(fixed)
            elif "other-fee-reason-description" in has and "other-fee-amount" in has:
                # V1 puts reimbursement reasons (WAREHOUSE_DAMAGE ...) next to other-amount
                desc = (f"coalesce(CASE WHEN {_nz(q('other-fee-amount'))} IS NULL THEN "
                        f"{_nz(q('other-fee-reason-description'))} END, {_nz(q('transaction-type'))})")
            else:
                desc = _nz(q("transaction-type"))
            parts.append(select(_sql_str(amount_type), desc, amount_col, f"{_nz(q(amount_col))} IS NOT NULL"))
        body = " UNION ALL ".join(parts)
    return f"WITH src AS (SELECT * FROM {_read_csv_sql(layout)}) {body}"


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
    cols = ", ".join(f"{n} {t}" for n, t in SETTLEMENT_COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {schema}.settlement_reports ({cols})")


def _summary_from_layout(layout: FileLayout, sha: str) -> dict[str, Any]:
    s = layout.summary
    path = layout.path

    def ts(name: str) -> datetime | None:
        if not s.get(name):
            return None
        try:
            return parse_timestamp(s[name], layout.day_first)
        except ValueError as exc:
            raise SettlementFileError(path, str(exc), line=2, column=name) from None

    try:
        total = parse_amount(s["total-amount"], layout.decimal_comma)
    except ValueError as exc:
        raise SettlementFileError(path, str(exc), line=2, column="total-amount") from None
    def day(name: str) -> date | None:
        if not s.get(name):
            return None
        try:
            return parse_local_date(s[name], layout.day_first)
        except ValueError as exc:
            raise SettlementFileError(path, str(exc), line=2, column=name) from None

    deposit = None
    if s.get("deposit-date"):
        try:
            deposit = parse_local_date(s["deposit-date"], layout.day_first)
        except ValueError as exc:
            raise SettlementFileError(path, str(exc), line=2, column="deposit-date") from None
    return {
        "settlement_id": s["settlement-id"],
        "file_format": layout.file_format,
        "settlement_start": ts("settlement-start-date"),
        "settlement_end": ts("settlement-end-date"),
        "settlement_start_date": day("settlement-start-date"),
        "settlement_end_date": day("settlement-end-date"),
        "deposit_date": deposit,
        "total_amount": total,
        "currency": s["currency"].upper(),
        "file_sha256": sha,
    }


def find_bad_line(layout: FileLayout) -> SettlementFileError:
    """Slow path after the fast path found a bad value: scan in Python for the first bad line/column."""
    path = layout.path
    cols = layout.columns
    amount_cols = ["amount"] if layout.file_format == "V2" else [p[1] for p in V1_AMOUNT_PAIRS if p[1] in cols]
    line_no = 0
    try:
        with _open_text(path, layout.compression) as handle:
            for raw in handle:
                line_no += 1
                if line_no <= 2:
                    continue
                text = _decode(raw).rstrip("\r\n")
                if not text.strip():
                    continue
                parts = text.split(layout.delimiter)
                row = {name: (parts[i].strip() if i < len(parts) else "") for i, name in enumerate(cols)}
                if row.get("total-amount"):
                    continue
                present = [c for c in amount_cols if row.get(c)]
                if layout.file_format == "V2" and not present:
                    return SettlementFileError(path, "empty amount", line=line_no, column="amount")
                for c in present:
                    try:
                        parse_amount(row[c], layout.decimal_comma)
                    except ValueError as exc:
                        return SettlementFileError(path, str(exc), line=line_no, column=c)
                if row.get("posted-date"):
                    try:
                        parse_local_date(row["posted-date"], layout.day_first)
                    except ValueError as exc:
                        return SettlementFileError(path, str(exc), line=line_no, column="posted-date")
    except (EOFError, OSError, zlib.error) as exc:
        return SettlementFileError(path, f"truncated or corrupt compressed file ({exc})", line=line_no + 1)
    return SettlementFileError(path, "a value could not be read (line not found by the slow scan)")


def _count_lines(layout: FileLayout) -> int:
    n = 0
    try:
        with _open_text(layout.path, layout.compression) as handle:
            for _ in handle:
                n += 1
    except (EOFError, OSError, zlib.error):
        pass
    return n


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


def _land(con, path: Path, layout: FileLayout, sha_future, schema: str, source: str,
          marketplace: str | None) -> SettlementSummary:
    head = _summary_from_layout(layout, "")
    sid = head["settlement_id"]
    ensure_tables(con, schema)
    select_sql = _select_lines_sql(layout, sid)
    line_cols = ", ".join(c for c, _ in LINE_COLUMNS)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {schema}.settlement_lines WHERE settlement_id = ?", [sid])
        try:
            con.execute(f"INSERT INTO {schema}.settlement_lines ({line_cols}) {select_sql}")
        except Exception as exc:  # duckdb.Error subclasses; keep duckdb import out of module import
            if "not utf-8 encoded" not in str(exc).lower():
                raise _duckdb_error(layout, exc) from None
            # not UTF-8: a file saved by hand in Latin-1 / Windows-1252; read it again as such
            con.execute("ROLLBACK")
            con.execute("BEGIN TRANSACTION")
            con.execute(f"DELETE FROM {schema}.settlement_lines WHERE settlement_id = ?", [sid])
            layout = replace(layout, encoding="latin-1")
            try:
                con.execute(f"INSERT INTO {schema}.settlement_lines ({line_cols}) {_select_lines_sql(layout, sid)}")
            except Exception as exc2:
                raise _duckdb_error(layout, exc2) from None
        bad_amounts, no_dates, n, mkt = con.execute(
            f"SELECT count(*) FILTER (WHERE amount IS NULL), count(*) FILTER (WHERE posted_date IS NULL), "
            f"count(*), mode(lower(marketplace_name)) FROM {schema}.settlement_lines WHERE settlement_id = ?",
            [sid]).fetchone()
        if bad_amounts or no_dates:
            error = find_bad_line(layout)
            if bad_amounts or error.line is not None:
                raise error
        sha = sha_future.result()
        head["file_sha256"] = sha
        marketplace_name = mkt or ""
        code = marketplace or MARKETPLACES.get(marketplace_name.removeprefix("www.")) or \
            MARKETPLACES.get(marketplace_name) or CURRENCY_MARKETPLACE.get(head["currency"], "")
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


def _duckdb_error(layout: FileLayout, exc: Exception) -> SettlementFileError:
    text = str(exc)
    if "GZIP" in text.upper() or "compress" in text.lower():
        return SettlementFileError(layout.path, "truncated or corrupt gzip data", line=_count_lines(layout) + 1)
    match = re.search(r"CSV Error on Line: (\d+)", text)
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


def read_settlement_id(path: Path | str) -> str:
    """The settlement id of a file (from its summary row), without reading the rest."""
    return sniff(path, sample_lines=2).summary["settlement-id"]


def raw_file_name(settlement_id: str, source_path: Path | str | None = None) -> str:
    suffix = ".txt.gz" if source_path is not None and _is_gzip(Path(source_path)) else ".txt"
    safe = re.sub(r"[^0-9A-Za-z_-]", "_", settlement_id)
    return f"{safe}{suffix}"


def settlement_period_bounds(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return first, nxt - timedelta(days=1)
