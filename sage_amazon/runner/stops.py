"""Stopping a command: exit codes, `RunStopped`, SIGTERM / Ctrl-C asking for a stop at the next safe point
(sage_amazon.stopping), a second signal leaving at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from sage_amazon import stopping

EXIT_OK, EXIT_FAILED, EXIT_ATTENTION = 0, 1, 3  # all posted / a stage failed / dead letters or refusals
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


def exit_now(code: int) -> None:
    """Leave without interpreter teardown after a command that ran Dagster: everything is written and
    closed by now, and DuckDB's bindings otherwise print pages of "nanobind: leaked instance" lines."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class RunStopped(Exception):
    """The run was stopped (signal) or gave up waiting (pool slot); `code` is the exit status."""

    def __init__(self, line: str, code: int) -> None:
        super().__init__(line)
        self.code = code


_signals_installed: list[bool] = []


def install_stop_handlers() -> None:
    """SIGTERM and Ctrl-C ask for a stop at the next safe point (sage_amazon.stopping); a second one
    leaves at once (what is in flight is 'sending' in the ledger, re-checked by the next run)."""
    if _signals_installed or threading.current_thread() is not threading.main_thread():
        return

    def handler(signo, _frame):
        name = "SIGINT" if signo == signal.SIGINT else "SIGTERM"
        if stopping.requested():
            print(f"\nsage-amazon: {name} again: leaving now", file=sys.stderr, flush=True)
            exit_now(EXIT_SIGINT if signo == signal.SIGINT else EXIT_SIGTERM)
        stopping.request(f"stopped by {name}")
        _signals_installed.append(signo == signal.SIGINT)
        print(f"\nsage-amazon: {name} received: stopping at the next safe point (no posting is cut in half)",
              file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    _signals_installed.append(False)


def stop_code() -> int:
    return EXIT_SIGINT if any(_signals_installed[1:]) else EXIT_SIGTERM
