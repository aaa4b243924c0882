"""Executing one job in this process on a worker thread (`execute`), so the command keeps the signals and
watches the run: a stop request ends it at a chunk boundary, a pool slot not granted in time ends it with one line.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import dagster as dg

from sage_amazon import stopping

from .recovery import process_tags
from .stops import EXIT_FAILED, RunStopped, stop_code

INVOCATION_TAG = "sage_amazon/invocation"  # the runs of one `execute` call


def _seconds(name: str, default: float) -> float:
    try:
        return max(float(os.environ.get(name, default)), 1.0)
    except ValueError:
        return default


def _pool_waits(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[str, list[str]]]:
    """The steps of a run waiting for a pool slot: step -> (pool, runs holding the pool's slots)."""
    storage = instance.event_log_storage
    waits: dict[str, tuple[str, list[str]]] = {}
    try:
        if not storage.supports_global_concurrency_limits:
            return waits
        for pool in storage.get_concurrency_keys():
            info = storage.get_concurrency_info(pool)
            mine = {s.step_key for s in info.claimed_slots if s.run_id == run_id}
            for step in info.pending_steps:
                if step.run_id == run_id and step.step_key not in mine:
                    holders = sorted({s.run_id[:8] for s in info.claimed_slots if s.run_id != run_id})
                    waits[step.step_key] = (pool, holders)
    except Exception:  # noqa: BLE001 - a storage hiccup: looked at again on the next tick
        return {}
    return waits


def _end_runs(instance: dg.DagsterInstance, invocation: str, message: str, canceled: bool) -> None:
    """Mark the runs of one execution canceled (stop) or failed (gave up) and free their slots."""
    for run in instance.get_runs(dg.RunsFilter(tags={INVOCATION_TAG: invocation})):
        if not run.is_finished:
            if canceled:
                instance.report_run_canceled(run, message)
            else:
                instance.report_run_failed(run, message)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


def execute(job_def, instance: dg.DagsterInstance, **kwargs):
    """execute_in_process on a worker thread, so this thread keeps the signals (Dagster only takes them
    over on the main thread) and watches the run: a stop request waits for the chunk in flight, then ends
    the run; a pool slot not granted within SAGE_AMAZON_POOL_WAIT_SECONDS ends it with one line.
    Raises RunStopped in both cases, after marking the run and freeing its slots."""
    if stopping.requested():
        raise RunStopped(stopping.reason(), stop_code())
    invocation = uuid.uuid4().hex
    tags = {**kwargs.pop("tags", {}), **process_tags(), INVOCATION_TAG: invocation}
    box: dict = {}

    def work() -> None:
        try:
            box["result"] = job_def.execute_in_process(instance=instance, raise_on_error=False, tags=tags, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="sage-amazon-run", daemon=True)
    worker.start()
    pool_wait = _seconds("SAGE_AMAZON_POOL_WAIT_SECONDS", 600)
    # each look reads every pool's slots from the instance's storage: once a second it was a quarter of a whole
    # `sage-amazon run`'s CPU (py-spy); a twentieth of the budget, 1 to 5 s, keeps the give-up on time
    look_every = min(max(pool_wait / 20, 1.0), 5.0)
    waiting: dict[str, float] = {}  # step -> since when it waits for a pool slot
    run_id, next_look = None, time.monotonic() + 1.0
    while worker.is_alive():
        worker.join(0.2)
        if stopping.requested() and worker.is_alive():
            grace = _seconds("SAGE_AMAZON_STOP_GRACE_SECONDS", 120)
            if stopping.in_flight():
                print(f"  … finishing the chunk in flight (up to {grace:.0f} s)", flush=True)
            stopping.wait_idle(grace)
            worker.join(2.0)  # a load that just stopped records its outcome and ends its step
            if worker.is_alive():
                _end_runs(instance, invocation, stopping.reason(), canceled=True)
                raise RunStopped(stopping.reason(), stop_code())
        if time.monotonic() < next_look or not worker.is_alive():
            continue
        next_look = time.monotonic() + look_every
        if run_id is None:
            runs = instance.get_runs(dg.RunsFilter(tags={INVOCATION_TAG: invocation}), limit=1)
            run_id = runs[0].run_id if runs else None
            if run_id is None:
                continue
        waits = _pool_waits(instance, run_id)
        for step in list(waiting):
            if step not in waits:
                del waiting[step]
        for step, (pool, holders) in waits.items():
            if not holders:  # the slot is this run's own (its previous step): not a wait worth a line
                continue
            held = f" (held by run {', '.join(holders)})" if holders else ""
            if step not in waiting:
                waiting[step] = time.monotonic()
                print(f"  … {step} waits for a slot of pool {pool}{held}; gives up after {pool_wait:.0f} s",
                      flush=True)
            elif time.monotonic() - waiting[step] > pool_wait:
                line = (f"gave up after {pool_wait:.0f} s waiting for a slot of pool {pool} for {step}{held}: "
                        "is another sage-amazon command or the Dagster daemon still running?")
                _end_runs(instance, invocation, line, canceled=False)
                raise RunStopped(line, EXIT_FAILED)
    if "error" in box:
        raise box["error"]
    return box["result"]
