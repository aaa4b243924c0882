"""Fault injection: a share of 500/503 answers, added latency, dropped connections, FATAL reports and
duplicated notifications. Set by CLI flags or SANDBOX_AMAZON_FAULT_* environment variables."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field


@dataclass
class Faults:
    error_rate: float = 0.0  # share of API calls answered 500 or 503
    latency_ms: int = 0  # added to every API call
    drop_rate: float = 0.0  # share of API calls whose connection is cut mid-response
    fatal_rate: float = 0.0  # share of requested reports that end FATAL
    duplicate_rate: float = 0.0  # share of notifications delivered twice
    rng: random.Random = field(default_factory=lambda: random.Random(7), repr=False)

    @classmethod
    def from_env(cls, **overrides: float | int | None) -> Faults:
        def env(name: str, default: float) -> float:
            return float(os.environ.get(f"SANDBOX_AMAZON_FAULT_{name.upper()}", default))

        values = {name: env(name, 0) for name in ("error_rate", "latency_ms", "drop_rate", "fatal_rate",
                                                  "duplicate_rate")}
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["latency_ms"] = int(values["latency_ms"])
        return cls(**values)  # type: ignore[arg-type]

    def roll(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate
