"""What the first lines of a settlement file say: format (V2 / V1), delimiter, compression, locale, summary.

Only the header, the summary row and a sample of lines are read here (in Python); the rest of the
file is read by DuckDB (`sql.py`).
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

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

_DAYFIRST = re.compile(r"^\d{1,2}[./]\d{1,2}[./]\d{4}")
# a decimal comma: "95,00", "-19,5", "1.234,56" (never "1,500": three digits after a comma are thousands)
_DECIMAL_COMMA = re.compile(r"^[+-]?[\d.]*,\d{1,2}$")


class SettlementFileError(ValueError):
    """A settlement file that cannot be read. The message names the file, line, column and value."""

    def __init__(self, path: Path | str, message: str, *, line: int | None = None, column: str | None = None,
                 value: str | None = None):
        self.path = str(path)
        self.line = line
        self.column = column
        self.value = value
        self.reason = message
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column:
            where += f", column {column!r}"
        if value is not None and repr(value) not in message:
            where += f", value {value!r}"
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

    def amount_columns(self) -> list[str]:
        if self.file_format == "V2":
            return ["amount"]
        return [pair[1] for pair in V1_AMOUNT_PAIRS if pair[1] in self.columns]


def normalize_name(name: str) -> str:
    return name.strip().strip("\ufeff").strip('"').strip().lower().replace("_", "-").replace(" ", "-")


def is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def open_binary(path: Path, compression: str):
    return gzip.open(path, "rb") if compression == "gzip" else path.open("rb")


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def split_row(text: str, columns: tuple[str, ...], delimiter: str) -> dict[str, str]:
    """One data line as {column: value}, values stripped of surrounding blanks."""
    parts = text.split(delimiter)
    return {name: (parts[i].strip() if i < len(parts) else "") for i, name in enumerate(columns)}


def _read_head(path: Path, compression: str, sample_lines: int) -> list[str]:
    lines: list[str] = []
    try:
        with open_binary(path, compression) as handle:
            for _ in range(sample_lines):
                raw = handle.readline()
                if not raw:
                    break
                lines.append(decode(raw).rstrip("\r\n"))
    except (EOFError, OSError, zlib.error) as exc:
        raise SettlementFileError(path, f"cannot read compressed data ({exc})", line=len(lines) + 1) from None
    if not lines or not lines[0].strip():
        raise SettlementFileError(path, "empty file: no header line", line=1)
    return lines


def _header(path: Path, header: str) -> tuple[str, tuple[str, ...]]:
    header = header.lstrip("\ufeff")
    delimiter = "\t" if "\t" in header else ("," if "," in header else ("|" if "|" in header else "\t"))
    columns = tuple(normalize_name(c) for c in header.split(delimiter))
    seen: set[str] = set()
    for name in columns:
        if name and name in seen:
            raise SettlementFileError(path, "duplicate column in header", line=1, column=name)
        seen.add(name)
    return delimiter, columns


def _file_format(path: Path, columns: tuple[str, ...]) -> str:
    seen = set(columns)
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
    return file_format


def _summary(path: Path, lines: list[str], columns: tuple[str, ...], delimiter: str) -> dict[str, str]:
    if len(lines) < 2 or not lines[1].strip():
        raise SettlementFileError(path, "no summary row after the header", line=2)
    summary = split_row(lines[1], columns, delimiter)
    if not summary.get("settlement-id") or not summary.get("total-amount"):
        raise SettlementFileError(path, "the first row after the header must be the settlement summary "
                                  "(settlement-id and total-amount filled)", line=2,
                                  column="total-amount" if summary.get("settlement-id") else "settlement-id")
    if not summary.get("currency"):
        raise SettlementFileError(path, "the settlement summary has no currency", line=2, column="currency")
    return summary


def _decimal_comma(summary: dict[str, str], lines: list[str], columns: tuple[str, ...], delimiter: str) -> bool:
    """European files write 95,00: decided on the total, else on the first amounts of the sample."""
    total = summary["total-amount"]
    if _DECIMAL_COMMA.match(total):
        return True
    if "." in total:
        return False
    amount_columns = [c for c in columns if c == "amount" or c.endswith("-amount")]
    for text in lines[2:]:
        row = split_row(text, columns, delimiter)
        hits = [row[c] for c in amount_columns if row.get(c)]
        if any(_DECIMAL_COMMA.match(h) for h in hits):
            return True
        if any("." in h for h in hits):
            return False
    return False


def sniff(path: Path | str, sample_lines: int = 400) -> FileLayout:
    """Read the header, the summary row and a sample of lines; decide format and locale."""
    path = Path(path)
    if not path.exists():
        raise SettlementFileError(path, "file not found")
    compression = "gzip" if is_gzip(path) else "none"
    lines = _read_head(path, compression, sample_lines)
    delimiter, columns = _header(path, lines[0])
    file_format = _file_format(path, columns)
    summary = _summary(path, lines, columns, delimiter)
    day_first = bool(_DAYFIRST.match(summary.get("settlement-start-date", "")))
    decimal_comma = _decimal_comma(summary, lines, columns, delimiter)
    return FileLayout(path, file_format, columns, delimiter, compression, decimal_comma, day_first, summary)


def read_settlement_id(path: Path | str) -> str:
    """The settlement id of a file (from its summary row), without reading the rest."""
    return sniff(path, sample_lines=2).summary["settlement-id"]


def raw_file_name(settlement_id: str, source_path: Path | str | None = None) -> str:
    suffix = ".txt.gz" if source_path is not None and is_gzip(Path(source_path)) else ".txt"
    safe = re.sub(r"[^0-9A-Za-z_-]", "_", settlement_id)
    return f"{safe}{suffix}"
