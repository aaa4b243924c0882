"""A command's session around its runs: the project's definitions, when the command began (`RUN_STARTED`,
the summary counts what changed since), what it does first (`begin`: recover dead runs, refresh a stale readers'
snapshot, take the signals), the readers' snapshot after, and the summary of a stopped command.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

import dagster as dg

from .progress import show_waits, user_line
from .recovery import recover_dead_runs
from .stops import RunStopped, exit_now, install_stop_handlers

RUN_STARTED: list[datetime] = []  # when this command's run began (the summary counts what changed since)


def project_defs() -> dg.Definitions:
    from sage_amazon.definitions import defs

    return defs


def embedded_instance() -> dg.DagsterInstance:
    from sage_amazon import config, instance

    home = instance.ensure_home(config.load().dagster_home)
    os.environ.setdefault("DAGSTER_HOME", str(home))
    return dg.DagsterInstance.get()


def begin(instance: dg.DagsterInstance, own_warehouse: bool) -> None:
    """Before a run: recover what a killed command left (runs, pool slots), bring a stale readers'
    snapshot up to date, and take the stop signals."""
    if not RUN_STARTED:
        RUN_STARTED.append(datetime.now(UTC))
    install_stop_handlers()
    show_waits()
    for line in recover_dead_runs(instance):
        print(f"  ↺ {line}", flush=True)
    if own_warehouse:
        try:
            _refresh_stale_snapshot()
        except Exception as exc:  # noqa: BLE001 - the readers' copy is a convenience, never a reason to fail
            print(f"  ! readers' snapshot not refreshed: {user_line(str(exc))}", flush=True)


def refresh_reader_snapshot() -> None:
    from sage_amazon import config
    from sage_amazon.warehouse import Warehouse

    try:
        Warehouse(config.load().warehouse_path, lock_timeout=60.0).refresh_snapshot()
    except Exception as exc:  # noqa: BLE001 - a stale copy for readers must not fail the run
        print(f"  ! readers' snapshot not refreshed: {user_line(str(exc))}", flush=True)


def _refresh_stale_snapshot() -> None:
    from sage_amazon import config
    from sage_amazon.warehouse import Warehouse

    Warehouse(config.load().warehouse_path, lock_timeout=60.0).refresh_snapshot_if_stale()


def finish_stopped(stop: RunStopped) -> None:
    """For `import --run` and `deadletter replay`: what was done and what was not, then the stop's exit."""
    from sage_amazon import config, run_summary

    if RUN_STARTED:
        outcome = run_summary.read(config.load().warehouse_path, RUN_STARTED[0])
        for f in outcome.flows:
            print(f"  {f.label}: {f.posted} posted, {f.refused} refused by Sage, {f.dead_lettered} dead letter(s), "
                  f"{f.not_sent + f.in_flight} left for the next run", flush=True)
    print(f"sage-amazon: {stop}: what was posted is recorded; the rest is left for the next command",
          file=sys.stderr, flush=True)
    exit_now(stop.code)
