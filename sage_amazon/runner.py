"""Running the graph without the UI: the one runner behind `sage-amazon run`, `settlement import` and
`deadletter replay`. A Dagster-side module (like definitions.py): it imports dagster, and the domain
reaches it only from the command line, inside the command's function.

- `run_pipeline`: the whole graph for a range of days, in stages Dagster can run (one ranged run for the
  daily and unpartitioned assets, one run per settlement partition), each stage an asset job selected by
  graph, executed in this process and recorded in the instance (the UI shows the runs).
- settlement discovery before the settlement stage (what the discovery sensor does), then every
  settlement not posted yet (the daily reconciliation schedule's rule).
- `replay_flows`: re-runs the assets that write a flow's dead letters, with what they read.
- `run_settlement`: one settlement's job for `sage-amazon settlement import`.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from assets.flow import SETTLEMENT_ID_TAG, TRIGGER_TAG
from assets.partitions import settlement_partitions
from assets.sql_models import LAYER_TAG
from resources.sp_api import SpApiResource
from sage_amazon import deadletters, stopping
from sensors.settlements import reconciliation_requests

_STAGE_TIME, _STAGE_SETTLEMENT = "time", "settlement"


def exit_now(code: int) -> None:
    """Leave without interpreter teardown after a command that ran Dagster: everything is written and
    closed by now, and DuckDB's bindings otherwise print pages of "nanobind: leaked instance" lines."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _project_defs() -> dg.Definitions:
    from sage_amazon.definitions import defs

    return defs


def _kind(asset_node) -> str:
    pdef = asset_node.partitions_def
    if pdef is None:
        return "none"
    return _STAGE_SETTLEMENT if isinstance(pdef, dg.DynamicPartitionsDefinition) else _STAGE_TIME


def plan_stages(graph=None) -> list[tuple[str, list[dg.AssetKey]]]:
    """Split the asset graph into runs that can execute in order.

    Unpartitioned and daily assets share a run (one ranged run over the days), then settlement assets
    run once per settlement id; an asset downstream of a settlement asset starts the next stage.
    """
    graph = graph or _project_defs().resolve_asset_graph()
    index: dict[dg.AssetKey, int] = {}
    for level in graph.toposorted_asset_keys_by_level:
        for key in level:
            node = graph.get(key)
            kind = _kind(node)
            stage = 0
            for parent in node.parent_keys:
                if parent not in index:
                    continue
                # within a stage the time run goes first, so only leaving the settlement runs needs a new stage
                parent_kind = _kind(graph.get(parent))
                compatible = parent_kind != _STAGE_SETTLEMENT or kind == _STAGE_SETTLEMENT
                stage = max(stage, index[parent] + (0 if compatible else 1))
            index[key] = stage
    stages: dict[tuple[int, str], list[dg.AssetKey]] = {}
    for key, stage in index.items():
        group = _STAGE_SETTLEMENT if _kind(graph.get(key)) == _STAGE_SETTLEMENT else _STAGE_TIME
        stages.setdefault((stage, group), []).append(key)
    order = sorted(stages, key=lambda sg: (sg[0], sg[1] == _STAGE_SETTLEMENT))
    return [(group, sorted(stages[(stage, group)])) for stage, group in order]


@dg.logger
def _progress_logger(init_context):
    """Prints one short line per step outcome and materialization, for a person watching `run`."""
    import logging

    class _Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            event = getattr(record, "dagster_event", None)
            if event is None:
                return
            name = event.event_type_value
            if name == "ASSET_MATERIALIZATION":
                _watch.materialized(event.event_specific_data.materialization.metadata)
            if name in ("STEP_SUCCESS", "STEP_FAILURE", "ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION"):
                step = event.step_key or ""
                if name == "STEP_FAILURE":
                    error = event.event_specific_data.error
                    # the first exception that is not Dagster's wrapper: the product's own line (it names the
                    # system and its setting), not the socket error it was raised from
                    while error is not None and error.cause is not None and (error.cls_name or "").startswith("Dagster"):
                        error = error.cause
                    message = user_line(error.message if error is not None else "failed")
                    _watch.failed(step, message)
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


# ---- watching a run: pool waits, stop requests, dead runs ------------------------------------------------

PID_TAG, HOST_TAG, INVOCATION_TAG = "sage_amazon/pid", "sage_amazon/host", "sage_amazon/invocation"
EXIT_OK, EXIT_FAILED, EXIT_ATTENTION = 0, 1, 3  # all posted / a stage failed / dead letters or refusals
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


def _seconds(name: str, default: float) -> float:
    try:
        return max(float(os.environ.get(name, default)), 1.0)
    except ValueError:
        return default


def user_line(message: str) -> str:
    """The user's one line: the first line of the error, without a `module.Class: ` prefix."""
    import re

    text = " ".join((message or "").strip().splitlines()[:1]).strip() or "failed"
    return re.sub(r"^(?:[A-Za-z_][\w]*\.)+[A-Za-z_]\w*: ", "", text)


class RunStopped(Exception):
    """The run was stopped (signal) or gave up waiting (pool slot); `code` is the exit status."""

    def __init__(self, line: str, code: int) -> None:
        super().__init__(line)
        self.code = code


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


_watch = _Watch()


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


def _end_runs(instance: dg.DagsterInstance, invocation: str, message: str, canceled: bool) -> None:
    """Mark the runs of one execution canceled (stop) or failed (gave up) and free their slots."""
    for run in instance.get_runs(dg.RunsFilter(tags={INVOCATION_TAG: invocation})):
        if not run.is_finished:
            if canceled:
                instance.report_run_canceled(run, message)
            else:
                instance.report_run_failed(run, message)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


_signals_installed: list[bool] = []


def _show_waits() -> None:
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


def _stop_code() -> int:
    return EXIT_SIGINT if any(_signals_installed[1:]) else EXIT_SIGTERM


def execute(job_def, instance: dg.DagsterInstance, **kwargs):
    """execute_in_process on a worker thread, so this thread keeps the signals (Dagster only takes them
    over on the main thread) and watches the run: a stop request waits for the chunk in flight, then ends
    the run; a pool slot not granted within SAGE_AMAZON_POOL_WAIT_SECONDS ends it with one line.
    Raises RunStopped in both cases, after marking the run and freeing its slots."""
    if stopping.requested():
        raise RunStopped(stopping.reason(), _stop_code())
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
                raise RunStopped(stopping.reason(), _stop_code())
        if time.monotonic() < next_look or not worker.is_alive():
            continue
        next_look = time.monotonic() + 1.0
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


def run_pipeline(
    start: str,
    end: str,
    instance: dg.DagsterInstance | None = None,
    definitions: dg.Definitions | None = None,
    settlements_to_run=None,
) -> list[tuple[str, bool, str]]:
    """Materialize every asset in stage order for days [start, end]. Returns (stage label, ok, run id).

    Runs are recorded in the instance of DAGSTER_HOME unless one is given, so the UI shows them.
    """
    if instance is None:
        with dg.DagsterInstance.get() as home_instance:
            return run_pipeline(start, end, home_instance, definitions, settlements_to_run)
    own_warehouse = definitions is None  # the project's warehouse, whose reader snapshot we refresh
    _begin(instance, own_warehouse)
    definitions = definitions or _project_defs()
    settlements_to_run = settlements_to_run or _pending_settlements
    graph = definitions.resolve_asset_graph()
    stages = plan_stages(graph)
    jobs = [dg.define_asset_job(f"cli_run_stage_{i}", selection=keys) for i, (_, keys) in enumerate(stages)]
    run_defs = dg.Definitions.merge(definitions, dg.Definitions(jobs=jobs, loggers={"progress": _progress_logger}))
    outcomes: list[tuple[str, bool, str]] = []

    def run_stage(i: int, keys: list[dg.AssetKey], label: str, **kwargs) -> None:
        print(f"▶ {label}: {', '.join(k.to_user_string() for k in keys)}", flush=True)
        try:
            result = execute(run_defs.resolve_job_def(f"cli_run_stage_{i}"), instance,
                             run_config={"loggers": {"progress": {}}}, **kwargs)
        except RunStopped as stop:
            stop.stage = label
            raise
        outcomes.append((label, result.success, result.run_id))

    try:
        for i, (group, keys) in enumerate(stages):
            if group == _STAGE_SETTLEMENT:
                pdef = graph.get(keys[0]).partitions_def
                for settlement_id in settlements_to_run(instance, pdef):
                    run_stage(i, keys, f"settlement {settlement_id}", partition_key=settlement_id)
            elif any(graph.get(k).partitions_def is not None for k in keys):
                tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
                run_stage(i, keys, f"days {start}..{end}", tags=tags)
            else:
                run_stage(i, keys, "unpartitioned")
        if any(step == "settlement discovery" for step, _ in _watch.failures):
            outcomes.append(("settlement discovery", False, ""))
    except RunStopped as stop:
        stop.outcomes = outcomes
        raise
    finally:
        if own_warehouse:
            _refresh_reader_snapshot()
    return outcomes


RUN_STARTED: list[datetime] = []  # when this command's run began (the summary counts what changed since)


def _begin(instance: dg.DagsterInstance, own_warehouse: bool) -> None:
    """Before a run: recover what a killed command left (runs, pool slots), bring a stale readers'
    snapshot up to date, and take the stop signals."""
    if not RUN_STARTED:
        RUN_STARTED.append(datetime.now(UTC))
    install_stop_handlers()
    _show_waits()
    for line in recover_dead_runs(instance):
        print(f"  ↺ {line}", flush=True)
    if own_warehouse:
        try:
            _refresh_stale_snapshot()
        except Exception as exc:  # noqa: BLE001 - the readers' copy is a convenience, never a reason to fail
            print(f"  ! readers' snapshot not refreshed: {user_line(str(exc))}", flush=True)


def _refresh_reader_snapshot() -> None:
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


def _discover_settlements(instance: dg.DagsterInstance, pdef: dg.DynamicPartitionsDefinition) -> None:
    """Before the settlement runs: fetch new settlement reports (as the discovery sensor does) and make
    a partition of every settlement kept under the data dir, including files imported by hand."""
    import json

    from sage_amazon import config
    from sage_amazon.ledger import intake

    raw_dir = config.load().raw_dir
    folder = intake.settlements_dir(raw_dir)
    folder.mkdir(parents=True, exist_ok=True)
    cursor_file = folder / ".run_discovery_cursor.json"
    try:
        cursor = json.loads(cursor_file.read_text()) if cursor_file.exists() else {}
    except ValueError:  # unreadable: start over (getReports lists the reports again; kept files are not re-stored)
        cursor = {}
    stored = None
    try:
        found = intake.discover(SpApiResource.from_env().get_client(), raw_dir, cursor, max_downloads=500)
    except Exception as exc:  # noqa: BLE001 - Amazon down, a wrong secret: one line, the kept settlements still run
        from sage_amazon.errors import one_line

        line = user_line(one_line(exc))
        _watch.failed("settlement discovery", line)
        print(f"  ✗ settlement discovery: {line}", flush=True)
    else:
        stored = len(found.stored)
        tmp = cursor_file.with_name(f"{cursor_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(found.cursor, sort_keys=True))
        os.replace(tmp, cursor_file)  # two runs at once never leave (or read) half a cursor
        for error in found.errors:
            print(f"  ! settlement discovery: {error}", flush=True)
    from sage_amazon.ledger import reissue  # unreadable files and reissues on hold (dead letters), not run

    try:
        screened = reissue.screen(raw_dir, config.load().warehouse_path, found.rejected if stored is not None else [])
    except Exception as exc:  # noqa: BLE001 - a wrong accounts.yaml `reissue`, the warehouse busy: one line
        from sage_amazon.errors import one_line

        screened = [f"settlements not screened for holds and reissues: {user_line(one_line(exc))}"]
    for line in screened:
        print(f"  ! {line}", flush=True)
    on_disk = set()
    for manifest in folder.glob("*.json"):
        try:
            on_disk.add(str(json.loads(manifest.read_text())["settlement_id"]))
        except (ValueError, KeyError):
            continue
    existing = set(pdef.get_partition_keys(dynamic_partitions_store=instance))
    new = sorted(on_disk - existing)
    if new:
        instance.add_dynamic_partitions(pdef.name, new)
    print(f"▶ settlements: {stored or 0} new report(s) fetched, {len(new)} new partition(s)", flush=True)


def _pending_settlements(instance: dg.DagsterInstance, pdef: dg.DynamicPartitionsDefinition) -> list[str]:
    """New settlement reports fetched, then every settlement not landed or not fully posted yet
    (the daily reconciliation schedule's rule)."""
    from datetime import UTC, datetime

    from sage_amazon import config

    _discover_settlements(instance, pdef)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    pending = [r.partition_key for r in reconciliation_requests(instance, config.load().warehouse_path, day)]
    done = len(pdef.get_partition_keys(dynamic_partitions_store=instance)) - len(pending)
    if done:
        print(f"  {done} settlement(s) already posted and reconciled: not run again", flush=True)
    return [key for key in pending if key is not None]


def replay_flows(
    flows: list[str], record_keys: dict[str, list[str]], instance: dg.DagsterInstance | None = None
) -> bool:
    """Re-run, for each flow, the assets that write its dead letters (tag deadletters.FLOW_TAG, values
    comma-separated) with their upstream mappings and SQL models, so a fixed mapping takes effect.
    Unpartitioned upstream runs once; a settlement-partitioned chain runs for the partitions named by
    the dead letters' record keys ("<partition key>:<record>"). Extraction from Amazon is not repeated.
    """
    if instance is None:
        with dg.DagsterInstance.get() as home_instance:
            return replay_flows(flows, record_keys, home_instance)
    _begin(instance, own_warehouse=True)
    definitions = _project_defs()
    graph = definitions.resolve_asset_graph()
    ok = True
    for flow in flows:
        loads = [
            key
            for key in graph.get_all_asset_keys()
            if flow in graph.get(key).tags.get(deadletters.FLOW_TAG, "").split(",")
        ]
        if not loads:
            print(f"no asset writes dead letters for flow {flow!r}; nothing to replay", flush=True)
            ok = False
            continue
        # a multi-asset (several mapping tables from one step) runs whole
        upstream = dg.AssetSelection.assets(*loads).upstream().required_multi_asset_neighbors().resolve(graph)
        once = sorted(k for k in upstream if graph.get(k).partitions_def is None)
        # daily SQL models (the order models, by purchase day): rebuilt for the days of the records, with `once`
        days = _record_days(flow, record_keys.get(flow, []))
        if days:  # the daily SQL models of those days, and a daily load itself (inventory: today's)
            once = sorted({*once, *(k for k in upstream if _kind(graph.get(k)) == _STAGE_TIME
                                    and (LAYER_TAG in graph.get(k).tags or k in loads))})
        per_settlement = sorted(k for k in upstream if _kind(graph.get(k)) == _STAGE_SETTLEMENT)
        jobs = [dg.define_asset_job(f"replay_{flow}_{i}", selection=keys) for i, keys in enumerate([once, per_settlement]) if keys]
        run_defs = dg.Definitions.merge(definitions, dg.Definitions(jobs=jobs, loggers={"progress": _progress_logger}))
        run_config = {"loggers": {"progress": {}}}
        if once:
            print(f"▶ replay {flow}: {', '.join(k.to_user_string() for k in once)}", flush=True)
            tags = {TRIGGER_TAG: "replay"}
            if days:
                tags |= {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}
            result = execute(run_defs.resolve_job_def(f"replay_{flow}_0"), instance, run_config=run_config, tags=tags)
            ok = ok and result.success
        if per_settlement:
            pdef = graph.get(per_settlement[0]).partitions_def
            existing = set(pdef.get_partition_keys(dynamic_partitions_store=instance))
            wanted = sorted({key.split(":", 1)[0] for key in record_keys.get(flow, [])} & existing)
            for partition_key in wanted:
                print(f"▶ replay {flow} [{partition_key}]", flush=True)
                result = execute(run_defs.resolve_job_def(f"replay_{flow}_{1 if once else 0}"), instance,
                                 run_config=run_config, partition_key=partition_key, tags={TRIGGER_TAG: "replay"})
                ok = ok and result.success
    _refresh_reader_snapshot()
    return ok


def _record_days(flow: str, record_keys: list[str]) -> list[str]:
    """The daily partitions holding a flow's dead-lettered records (orders: their purchase days; the inventory
    flows: today, the only day Amazon and Sage state stock for)."""
    if flow in ("fba_adjustments", "mfn_quantities") and record_keys:
        from datetime import UTC, datetime

        return [datetime.now(UTC).date().isoformat()]
    from sage_amazon.returns.replay import DAYS_OF  # the returns flows: return days, refunds' posted days

    if (flow != "orders" and flow not in DAYS_OF) or not record_keys:
        return []
    from sage_amazon import config
    from sage_amazon.orders.partitions import days_of_orders
    from sage_amazon.warehouse import Warehouse

    with Warehouse(config.load().warehouse_path).write() as con:  # the live file, not the readers' snapshot
        return DAYS_OF.get(flow, days_of_orders)(con, record_keys)


# ---- one settlement (`sage-amazon settlement import`) ---------------------------------------------------


def embedded_instance() -> dg.DagsterInstance:
    from sage_amazon import config, instance

    home = instance.ensure_home(config.load().dagster_home)
    os.environ.setdefault("DAGSTER_HOME", str(home))
    return dg.DagsterInstance.get()


def add_settlement_partition(settlement_id: str, instance: dg.DagsterInstance | None = None) -> bool:
    """Add the settlement id as a partition of `settlement_ids`; False if it was there already."""
    instance = instance or embedded_instance()
    if instance.has_dynamic_partition(settlement_partitions.name, settlement_id):
        return False
    instance.add_dynamic_partitions(settlement_partitions.name, [settlement_id])
    return True


def run_settlement(settlement_id: str, instance: dg.DagsterInstance | None = None) -> tuple[bool, str]:
    """Run the settlement job for one partition in this process: (success, run id)."""
    instance = instance or embedded_instance()
    _begin(instance, own_warehouse=True)
    # one progress line per step, like `run` (not Dagster's DEBUG console log)
    run_defs = dg.Definitions.merge(_project_defs(), dg.Definitions(loggers={"progress": _progress_logger}))
    try:
        result = execute(run_defs.resolve_job_def("settlement_job"), instance, partition_key=settlement_id,
                         run_config={"loggers": {"progress": {}}},
                         tags={SETTLEMENT_ID_TAG: settlement_id, TRIGGER_TAG: "import"})
    finally:
        _refresh_reader_snapshot()
    return result.success, result.run_id
