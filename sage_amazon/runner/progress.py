"""What a person watching a command sees: one line per step outcome, materialization and check
(`progress_logger`), pool-wait lines (`show_waits`), and what the run's steps reported (`watch`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg


def user_line(message: str) -> str:
    """The user's one line: the first line of the error, without a `module.Class: ` prefix."""
    import re

    text = " ".join((message or "").strip().splitlines()[:1]).strip() or "failed"
    return re.sub(r"^(?:[A-Za-z_][\w]*\.)+[A-Za-z_]\w*: ", "", text)


@dataclass
class _Watch:
    """What the progress logger saw, read by the thread that waits for the run (module-level: one run at a time)."""

    failures: list[tuple[str, str]] = field(default_factory=list)  # (step, one line)
    skipped: int = 0  # records the loads did not need to send (already posted, waiting for Amazon, ...)

    def failed(self, step: str, line: str) -> None:
        self.failures.append((step, line))

    def materialized(self, metadata) -> None:
        for key in ("already_posted", "skipped_waiting_for_amazon", "skipped_cancelled_before_posting"):
            value = metadata.get(key)
            if value is not None and isinstance(getattr(value, "value", None), int):
                self.skipped += value.value


watch = _Watch()


@dg.logger
def progress_logger(init_context):
    """Prints one short line per step outcome and materialization, for a person watching `run`."""
    import logging

    class _Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            event = getattr(record, "dagster_event", None)
            if event is None:
                return
            name = event.event_type_value
            if name == "ASSET_MATERIALIZATION":
                watch.materialized(event.event_specific_data.materialization.metadata)
            if name in ("STEP_SUCCESS", "STEP_FAILURE", "ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION"):
                step = event.step_key or ""
                if name == "STEP_FAILURE":
                    error = event.event_specific_data.error
                    # the first exception that is not Dagster's wrapper: the product's own line (it names the
                    # system and its setting), not the socket error it was raised from
                    while error is not None and error.cause is not None and (error.cls_name or "").startswith("Dagster"):
                        error = error.cause
                    message = user_line(error.message if error is not None else "failed")
                    watch.failed(step, message)
                    print(f"  ✗ {step}: {message[:300]}", flush=True)
                elif name == "ASSET_MATERIALIZATION":
                    mat = event.event_specific_data.materialization
                    rows = mat.metadata.get("dagster/row_count")
                    part = f" [{mat.partition}]" if mat.partition else ""
                    suffix = f" ({rows.value} rows)" if rows is not None else ""
                    print(f"  ✓ {mat.asset_key.to_user_string()}{part}{suffix}", flush=True)
                elif name == "ASSET_CHECK_EVALUATION":
                    ev = event.event_specific_data
                    mark = "✓" if ev.passed else "!"
                    print(f"    {mark} check {ev.asset_key.to_user_string()}:{ev.check_name}", flush=True)

    log = logging.getLogger("sage_amazon.run")
    log.setLevel(logging.DEBUG)  # Dagster logs materializations at DEBUG
    log.handlers = [_Handler()]
    log.propagate = False
    return log


def show_waits() -> None:
    """Wait lines (logger sage_amazon.waits) on the terminal, once each: the run's log in the UI gets them
    through the instance's managed_python_loggers."""
    import logging

    log = logging.getLogger("sage_amazon.waits")
    if any(getattr(h, "_sage_amazon_cli", False) for h in log.handlers):
        return

    class _Print(logging.Handler):
        _sage_amazon_cli = True

        def emit(self, record: logging.LogRecord) -> None:
            print(f"  … {record.getMessage()}", flush=True)

    log.addHandler(_Print(logging.INFO))
    log.setLevel(logging.INFO)
    log.propagate = False
