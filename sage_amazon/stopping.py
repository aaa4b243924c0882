"""Stop means stop: a process-wide "stop requested" flag the loads check between chunks.

The command line sets it on SIGTERM / Ctrl-C (sage_amazon.runner). A load that posts to Sage in chunks
enters each chunk through `chunk()`: once a stop is requested no new chunk starts (`Stopped` is raised
instead), while a chunk already sent to Sage finishes and records its outcomes. `wait_idle` lets the
runner wait until no chunk is in flight before it leaves. No dagster here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sage_amazon.errors import TransientError


class Stopped(TransientError):
    """The operator asked to stop: what was done is recorded, the rest is left for the next run."""


_requested = threading.Event()
_cond = threading.Condition()
_in_flight = 0
_reason = ""


def request(reason: str = "stop requested") -> None:
    """Ask every load to stop at its next safe point (callable from a signal handler)."""
    global _reason
    _reason = _reason or reason
    _requested.set()


def requested() -> bool:
    return _requested.is_set()


def reason() -> str:
    return _reason or "stop requested"


def reset() -> None:
    """For tests and long-lived processes: forget an earlier stop request."""
    global _reason
    _requested.clear()
    _reason = ""


def check(what: str = "") -> None:
    """Raise `Stopped` if a stop was requested (a safe point: nothing is in flight)."""
    if _requested.is_set():
        raise Stopped(f"{reason()}: {what}" if what else reason())


@contextmanager
def chunk(what: str = "") -> Iterator[None]:
    """One unit of work that must not be cut in half (a chunk sent to Sage and its outcome write).
    Refused with `Stopped` once a stop was requested; once entered, it runs to its end."""
    global _in_flight
    with _cond:
        check(what)
        _in_flight += 1
    try:
        yield
    finally:
        with _cond:
            _in_flight -= 1
            _cond.notify_all()


def in_flight() -> int:
    return _in_flight


def wait_idle(timeout: float) -> bool:
    """Wait until no chunk is in flight (True), or `timeout` seconds (False)."""
    deadline = time.monotonic() + timeout
    with _cond:
        while _in_flight > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            _cond.wait(left)
    return True
