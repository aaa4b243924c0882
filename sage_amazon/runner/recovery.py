"""Recovering what a dead command left: runs of a process that is gone (kill -9, power loss, OOM) are
marked failed and their pool slots freed; runs carry the pid and host that execute them (`process_tags`).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg

PID_TAG, HOST_TAG = "sage_amazon/pid", "sage_amazon/host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_tags() -> dict[str, str]:
    """Tags naming the process that executes a run in-process, so a later command can tell it is dead."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def recover_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Runs left by a process that is gone (kill -9, power loss, OOM) are marked failed and their pool
    slots freed; slots still held by finished or deleted runs are freed too. Returns one line per fix.
    A run with no pid tag (launched by the daemon) is known dead only when it was created before this
    machine last booted (power loss, reboot); otherwise it is left to the daemon."""
    lines: list[str] = []
    host = socket.gethostname()
    booted = _booted_at()
    unfinished = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
                  dg.DagsterRunStatus.CANCELING]
    for record in instance.get_run_records(dg.RunsFilter(statuses=unfinished), limit=500):
        run = record.dagster_run
        pid = run.tags.get(PID_TAG, "")
        if not pid and booted is not None and record.create_timestamp.timestamp() < booted:
            instance.report_run_failed(run, "the machine restarted while it ran; marked failed by the next "
                                            "sage-amazon command")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            lines.append(f"run {run.run_id[:8]} from before the machine restarted: marked failed, its pool slots freed")
            continue
        if not pid.isdigit() or run.tags.get(HOST_TAG) != host or _alive(int(pid)):
            continue
        instance.report_run_failed(run, f"the process that ran it (pid {pid} on {host}) is gone; "
                                        "marked failed by the next sage-amazon command")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        lines.append(f"run {run.run_id[:8]} of a process that is gone (pid {pid}): marked failed, its pool slots freed")
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return lines
    for pool in sorted(storage.get_concurrency_keys()):
        info = storage.get_concurrency_info(pool)
        holders = {slot.run_id for slot in info.claimed_slots} | {step.run_id for step in info.pending_steps}
        for run_id in sorted(holders):
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                storage.free_concurrency_slots_for_run(run_id)
                lines.append(f"pool {pool}: slot of finished run {run_id[:8]} freed")
    return lines


def _booted_at() -> float | None:
    """When this machine last booted (epoch seconds), from /proc/stat; None where that is not known."""
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None
