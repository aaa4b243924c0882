"""Plain values as Amazon writes them (times, money), shared by the order, report and notification parsers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


def parse_time(value: str | None) -> datetime | None:
    """ISO 8601 (and the reports' '2026-01-05T10:00:00+00:00' / '2026-01-05 10:00:00 UTC') to naive UTC."""
    if not value:
        return None
    text = value.strip().replace(" UTC", "+00:00").replace("Z", "+00:00")
    if " " in text and "T" not in text:
        text = text.replace(" ", "T", 1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def money(value: Any) -> Decimal | None:
    """An amount from a Money object ({amount|Amount}), a string or a number; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        value = value.get("amount", value.get("Amount"))
        if value is None:
            return None
    if isinstance(value, float):
        value = repr(value)  # JSON numbers arrive as float; repr keeps their shortest exact digits
    try:
        return Decimal(str(value).strip()).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None
