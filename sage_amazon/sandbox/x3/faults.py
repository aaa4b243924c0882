"""Faults the sandbox can play, switchable at start (CLI flags) or at run time (tests)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Faults:
    pool_busy: int = 0  # refuse the next N SOAP calls with HTTP 500 "No web services accepted"; -1: always
    slow: float = 0.0  # seconds added to every SOAP answer
    lose_replies: int = 0  # commit the next N writes, then drop the reply; -1: always
    queued: float = 0.0  # seconds every SOAP call waits in the pool before X3 runs it (the client may give up first)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def take(self, name: str) -> bool:
        """Consume one occurrence of a counted fault."""
        with self._lock:
            left = getattr(self, name)
            if left == 0:
                return False
            if left > 0:
                setattr(self, name, left - 1)
            return True

    def clear(self) -> None:
        with self._lock:
            self.pool_busy, self.slow, self.lose_replies, self.queued = 0, 0.0, 0, 0.0


@dataclass
class Stats:
    """What the sandbox observed, for tests: SOAP calls in flight now and at most."""

    in_flight: int = 0
    peak_in_flight: int = 0
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def enter(self) -> None:
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def reset(self) -> None:
        with self._lock:
            self.peak_in_flight, self.calls = self.in_flight, 0
