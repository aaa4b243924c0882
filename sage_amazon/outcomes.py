"""What a load did to each record: counts per outcome, overall and per day, and a few samples for the UI."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar


@dataclass
class Outcomes:
    SAMPLES: ClassVar[int] = 50  # samples kept for the UI
    DETAIL_WIDTH: ClassVar[int | None] = None  # characters of a sample's detail kept (None: all)

    counts: Counter = field(default_factory=Counter)
    by_day: defaultdict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # ISO day -> counts
    samples: list[dict[str, Any]] = field(default_factory=list)

    def tally(self, outcome: str, day: date | None = None, n: int = 1) -> None:
        self.counts[outcome] += n
        if day is not None:
            self.by_day[day.isoformat()][outcome] += n

    def add(self, outcome: str, key: str, detail: str = "", day: date | None = None) -> None:
        self.tally(outcome, day)
        if len(self.samples) < self.SAMPLES:
            self.samples.append({"record": key, "outcome": outcome, "detail": detail[: self.DETAIL_WIDTH]})
