"""Time windows for extraction: a day in UTC, Amazon's two-minute rule, report windows of at most 30 days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sage_amazon.amazon.values import parse_time

MAX_REPORT_DAYS = 30


def day_window(day: date, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[day 00:00, next day 00:00) in UTC, the end clipped to 2 minutes before now (Amazon's rule)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    limit = (now or datetime.now(UTC)) - timedelta(minutes=2)
    return start, min(end, limit)


def span(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00, the day after last 00:00) in UTC, the end clipped to 2 minutes before now."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = min(datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1),
              datetime.now(UTC) - timedelta(minutes=2))
    return start, end


def windows(days: list[date], max_days: int = MAX_REPORT_DAYS) -> list[tuple[date, date]]:
    """Contiguous runs of days cut into windows of at most `max_days`: (first, last) inclusive."""
    out: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if out and day - out[-1][1] == timedelta(days=1) and (day - out[-1][0]).days < max_days:
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def in_window(order: dict[str, Any], start: datetime, end: datetime) -> bool:
    """An order (its `createdTime`) created in [start, end); an order without one is kept for the parser."""
    created = parse_time(order.get("createdTime"))
    if created is None:
        return True  # let the parser report the drift
    return start.replace(tzinfo=None) <= created < end.replace(tzinfo=None)
