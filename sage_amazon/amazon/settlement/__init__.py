"""Amazon settlement flat files (V2 and the older V1 layout) read into DuckDB.

    layout.py   header, format (V2/V1), delimiter, compression, locale, summary row (`sniff`)
    values.py   amounts and dates in Python (summary row, error finder)
    sql.py      the fast path: one DuckDB SELECT reading the whole file into raw.settlement_lines rows
    summary.py  the settlement summary and marketplace codes
    landing.py  `land`: one transaction; a refused file names line, column and value and lands nothing

Facts the parser relies on (see shared/design/amazon-sp-api.md section 3):
- the first data row is the settlement summary: settlement-id, the three dates, total-amount,
  currency; detail rows leave total-amount blank;
- the detail amounts add up exactly to total-amount;
- dates come as ``2026-06-16 00:00:00 UTC``, ISO-8601 with an offset, or day-first
  (``16.06.2026 ...`` / ``16/06/2026 ...``) in European files, whose amounts use a decimal comma;
- values may carry surrounding blanks (``32.09    `` in real Amazon.ca files).
"""

from sage_amazon.amazon.settlement.landing import (
    SETTLEMENT_COLUMNS,
    ensure_tables,
    file_sha256,
    find_bad_line,
    land,
)
from sage_amazon.amazon.settlement.layout import (
    V1_AMOUNT_PAIRS,
    V1_REQUIRED,
    V2_COLUMNS,
    V2_REQUIRED,
    FileLayout,
    SettlementFileError,
    normalize_name,
    raw_file_name,
    read_settlement_id,
    sniff,
)
from sage_amazon.amazon.settlement.sql import LINE_COLUMNS
from sage_amazon.amazon.settlement.summary import (
    CURRENCY_MARKETPLACE,
    MARKETPLACES,
    SettlementSummary,
    marketplace_code,
)
from sage_amazon.amazon.settlement.values import (
    parse_amount,
    parse_local_date,
    parse_timestamp,
    settlement_period_bounds,
)

__all__ = [
    "CURRENCY_MARKETPLACE", "LINE_COLUMNS", "MARKETPLACES", "SETTLEMENT_COLUMNS", "V1_AMOUNT_PAIRS", "V1_REQUIRED",
    "V2_COLUMNS", "V2_REQUIRED", "FileLayout", "SettlementFileError", "SettlementSummary", "ensure_tables",
    "file_sha256", "find_bad_line", "land", "marketplace_code", "normalize_name", "parse_amount",
    "parse_local_date", "parse_timestamp", "raw_file_name", "read_settlement_id", "settlement_period_bounds",
    "sniff",
]
