"""The fast path: one DuckDB SELECT that reads a settlement file and yields raw.settlement_lines rows.

Every column is read as text with explicit names (taken from the file's own header, so extra columns
such as ``promotion-id`` are tolerated and order does not matter), then amounts are cast to
DECIMAL(18,2) and timestamps to TIMESTAMPTZ in the same pass. The CSV sniffer is never trusted with
amounts (it would read them as DOUBLE). Values are trimmed first: real files carry ``32.09    ``.
A value that cannot be read becomes NULL here and is then reported with its line by
`landing.find_bad_line`, which applies the same rules in Python (`values.py`).
"""

from __future__ import annotations

from sage_amazon.amazon.settlement.layout import V1_AMOUNT_PAIRS, FileLayout
from sage_amazon.amazon.settlement.summary import MARKETPLACES
from sage_amazon.amazon.settlement.values import TZ_SUFFIXES

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
    ("marketplace", "VARCHAR"),  # the code of the line's own marketplace-name (US, CA, MX ...); NULL if blank
)


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _iso(col: str, day_first: bool) -> str:
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
        f"WHEN suffix({expr}, {sql_str(s)}) THEN left({expr}, length({expr}) - {len(s)}) || '{o}'"
        for s, o in TZ_SUFFIXES.items())
    return f"(CASE {cases} ELSE {expr} END)"


def _local_date(col: str, layout: FileLayout) -> str:
    """The posting day as written (offset ignored); ISO dates need no rewriting, which is fast."""
    if col == "NULL":
        return "NULL"
    fast = f"TRY_CAST(left(ltrim({col}), 10) AS DATE)"
    if layout.day_first:
        return f"coalesce({fast}, TRY_CAST(left({_iso(col, True)}, 10) AS DATE))"
    return fast


def _timestamp(col: str, layout: FileLayout) -> str:
    """TIMESTAMPTZ; the common '... UTC' form takes a fast path, anything else the general rewrite
    (COALESCE only evaluates the fallback for rows the fast path could not read)."""
    general = f"TRY_CAST({_iso(col, layout.day_first)} AS TIMESTAMPTZ)"
    if layout.day_first:
        return general
    return f"coalesce(TRY_CAST(replace({col}, ' UTC', '+00:00') AS TIMESTAMPTZ), {general})"


def _amount(col: str, decimal_comma: bool) -> str:
    """DECIMAL(18,2), exactly: a value with more than two decimals becomes NULL (then reported with its
    line and column) instead of being rounded by the cast. LIKE keeps this check nearly free."""
    t = _trimmed(col)
    if decimal_comma:
        text = f"(CASE WHEN contains({t}, ',') THEN replace(replace({t}, '.', ''), ',', '.') ELSE {t} END)"
        too_fine = f"({t} LIKE '%,___%' OR (NOT contains({t}, ',') AND {t} LIKE '%.___%'))"
    else:
        text, too_fine = t, f"{t} LIKE '%.___%'"
    return f"CASE WHEN {too_fine} THEN NULL ELSE TRY_CAST({text} AS DECIMAL(18,2)) END"


def _trimmed(col: str) -> str:
    """The value without surrounding blanks; trimmed only when it has some (copying every string costs more
    than the whole CSV read of a column)."""
    return f"(CASE WHEN prefix({col}, ' ') OR suffix({col}, ' ') THEN trim({col}) ELSE {col} END)"


def _text(col: str) -> str:
    """A value without surrounding blanks; blank-only is empty (NULL), as an empty field is. Used where a blank
    would change a meaning (currency, total-amount, an amount's presence); other text is kept as written and
    the account rules match it trimmed (stg_settlement_categories), which costs nothing per line."""
    return col if col == "NULL" else f"nullif(trim({col}), '')"


def _marketplace(col: str) -> str:
    """The account map's code of a marketplace-name (www. and case ignored); NULL when blank or unknown
    ("Non-Amazon" for multi-channel orders): such lines belong to the settlement's own marketplace."""
    if col == "NULL":
        return "NULL"
    names = {**MARKETPLACES, **{f"www.{k}": v for k, v in MARKETPLACES.items() if not k.startswith("www.")}}
    pairs = ", ".join(f"{sql_str(k)}: {sql_str(v)}" for k, v in names.items())
    return f"(MAP {{{pairs}}})[lower(trim({col}))]"  # one lookup per line (a CASE would evaluate per branch)


def _read_csv(layout: FileLayout) -> str:
    cols = ", ".join(f"{sql_str(name or f'column{i}')}: 'VARCHAR'" for i, name in enumerate(layout.columns))
    return (
        f"read_csv({sql_str(str(layout.path))}, delim={sql_str(layout.delimiter)}, header=true, "
        f"columns={{{cols}}}, auto_detect=false, quote='', escape='', null_padding=true, "
        f"compression={sql_str(layout.compression)}, max_line_size=1048576"
        + (f", encoding={sql_str(layout.encoding)}" if layout.encoding != "utf-8" else "") + ")"
    )


def _v1_description(layout: FileLayout, type_col: str | None, fixed: str | None, q) -> str:
    has = set(layout.columns)
    if type_col and type_col in has:
        if fixed:
            return f"coalesce({_text(q(type_col))}, {sql_str(fixed)}, {_text(q('transaction-type'))})"
        return f"coalesce({_text(q(type_col))}, {_text(q('transaction-type'))})"
    if fixed:
        return sql_str(fixed)
    if "other-fee-reason-description" in has and "other-fee-amount" in has:
        # V1 puts reimbursement reasons (WAREHOUSE_DAMAGE ...) next to other-amount
        return (f"coalesce(CASE WHEN {_text(q('other-fee-amount'))} IS NULL THEN "
                f"{_text(q('other-fee-reason-description'))} END, {_text(q('transaction-type'))})")
    return _text(q("transaction-type"))


def select_lines_sql(layout: FileLayout, settlement_id: str) -> str:
    """One SELECT producing the raw.settlement_lines rows of the file (V1 unpivoted into V2 lines)."""
    has = set(layout.columns)

    def q(name: str) -> str:
        return '"' + name + '"' if name in has else "NULL"

    posted_src = "posted-date-time" if "posted-date-time" in has else "posted-date"
    common = {
        "settlement_id": sql_str(settlement_id),
        "currency": f"coalesce(upper({_text(q('currency'))}), {sql_str(layout.summary['currency'].upper())})",
        "posted_date": _local_date(q("posted-date"), layout),
        "posted_at": _timestamp(q(posted_src), layout) if posted_src in has else "NULL",
        "quantity_purchased": f"TRY_CAST({q('quantity-purchased')} AS INTEGER)",
        "marketplace": _marketplace(q("marketplace-name")),
    }
    for name in ("transaction_type", "order_id", "merchant_order_id", "adjustment_id", "shipment_id",
                 "marketplace_name", "fulfillment_id", "order_item_code", "merchant_order_item_id",
                 "merchant_adjustment_item_id", "sku", "promotion_id"):
        common[name] = q(name.replace("_", "-"))
    detail = f"{_text(q('total-amount'))} IS NULL"

    def select(amount_type: str, description: str, amount_col: str, extra_where: str) -> str:
        cols = dict(common, amount_type=amount_type, amount_description=description,
                    amount=_amount(q(amount_col), layout.decimal_comma))
        body = ", ".join(f"{cols[c]} AS {c}" for c, _ in LINE_COLUMNS)
        where = detail + (f" AND {extra_where}" if extra_where else "")
        return f"SELECT {body} FROM src WHERE {where}"

    if layout.file_format == "V2":
        body = select(q("amount-type"), q("amount-description"), "amount", "")
    else:
        parts = [
            select(sql_str(amount_type), _v1_description(layout, type_col, fixed, q), amount_col,
                   f"{_text(q(amount_col))} IS NOT NULL")
            for type_col, amount_col, amount_type, fixed in V1_AMOUNT_PAIRS if amount_col in has
        ]
        body = " UNION ALL ".join(parts)
    return f"WITH src AS (SELECT * FROM {_read_csv(layout)}) {body}"
