"""Amounts and dates of a settlement file, read in Python (summary row, error finder, tests).

The SQL fast path (`sql.py`) applies the same rules; `landing.find_bad_line` relies on both agreeing:
surrounding blanks are ignored, a decimal comma is accepted in European files, more than two
decimals are refused (never rounded).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

# time zone abbreviations seen in Seller Central downloads
TZ_SUFFIXES = {
    " UTC": "+00:00", " GMT": "+00:00", " PST": "-08:00", " PDT": "-07:00", " CET": "+01:00",
    " CEST": "+02:00", " BST": "+01:00", " MEZ": "+01:00", " MESZ": "+02:00", " JST": "+09:00",
}
_AMOUNT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def parse_amount(text: str, decimal_comma: bool) -> Decimal:
    value = text.strip()
    if decimal_comma and "," in value:
        value = value.replace(".", "").replace(",", ".")
    if not _AMOUNT.fullmatch(value):
        raise ValueError(f"not an amount: {text!r}")
    if "." in value and len(value.split(".", 1)[1]) > 2:
        raise ValueError(f"amount {text!r} has more than two decimals (it would be rounded)")
    try:
        return Decimal(value).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None


def iso_text(text: str, day_first: bool) -> str:
    value = text.strip()
    if day_first:
        match = re.match(r"^(\d{1,2})[./](\d{1,2})[./](\d{4})(.*)$", value)
        if match:
            d, m, y, rest = match.groups()
            value = f"{y}-{int(m):02d}-{int(d):02d}{rest}"
    for suffix, offset in TZ_SUFFIXES.items():
        if value.endswith(suffix):
            value = value[: -len(suffix)] + offset
            break
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    return value


def parse_timestamp(text: str, day_first: bool) -> datetime:
    value = iso_text(text, day_first)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date/time: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def parse_local_date(text: str, day_first: bool) -> date:
    """The calendar date as written in the file (the marketplace's own day), offset ignored."""
    value = iso_text(text, day_first)
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ValueError(f"not a date: {text!r}") from None


def settlement_period_bounds(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return first, nxt - timedelta(days=1)
