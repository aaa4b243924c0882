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
import sys

import dagster as dg

from assets.flow import SETTLEMENT_ID_TAG, TRIGGER_TAG
from assets.partitions import settlement_partitions
from assets.sql_models import LAYER_TAG
from resources.sp_api import SpApiResource
from sage_amazon import deadletters
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


_STAGE_TIME, _STAGE_SETTLEMENT = "time", "settlement"


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
            if name in ("STEP_SUCCESS", "STEP_FAILURE", "ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION"):
                step = event.step_key or ""
                if name == "STEP_FAILURE":
                    error = event.event_specific_data.error
                    while error is not None and error.cause is not None:  # the user's exception, not the wrapper
                        error = error.cause
                    message = error.message.strip() if error is not None else "failed"
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
    definitions = definitions or _project_defs()
    settlements_to_run = settlements_to_run or _pending_settlements
    graph = definitions.resolve_asset_graph()
    stages = plan_stages(graph)
    jobs = [dg.define_asset_job(f"cli_run_stage_{i}", selection=keys) for i, (_, keys) in enumerate(stages)]
    run_defs = dg.Definitions.merge(definitions, dg.Definitions(jobs=jobs, loggers={"progress": _progress_logger}))
    outcomes: list[tuple[str, bool, str]] = []

    def execute(i: int, keys: list[dg.AssetKey], label: str, **kwargs) -> None:
        print(f"▶ {label}: {', '.join(k.to_user_string() for k in keys)}", flush=True)
        result = run_defs.resolve_job_def(f"cli_run_stage_{i}").execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"progress": {}}},
            **kwargs,
        )
        outcomes.append((label, result.success, result.run_id))

    for i, (group, keys) in enumerate(stages):
        if group == _STAGE_SETTLEMENT:
            pdef = graph.get(keys[0]).partitions_def
            for settlement_id in settlements_to_run(instance, pdef):
                execute(i, keys, f"settlement {settlement_id}", partition_key=settlement_id)
        elif any(graph.get(k).partitions_def is not None for k in keys):
            tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
            execute(i, keys, f"days {start}..{end}", tags=tags)
        else:
            execute(i, keys, "unpartitioned")
    if own_warehouse:
        _refresh_reader_snapshot()
    return outcomes


def _refresh_reader_snapshot() -> None:
    from sage_amazon import config
    from sage_amazon.warehouse import Warehouse

    Warehouse(config.load().warehouse_path).refresh_snapshot()


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
    found = intake.discover(SpApiResource.from_env().get_client(), raw_dir, cursor, max_downloads=500)
    tmp = cursor_file.with_name(f"{cursor_file.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(found.cursor, sort_keys=True))
    os.replace(tmp, cursor_file)  # two runs at once never leave (or read) half a cursor
    for error in found.errors:
        print(f"  ! settlement discovery: {error}", flush=True)
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
    print(f"▶ settlements: {len(found.stored)} new report(s) fetched, {len(new)} new partition(s)", flush=True)


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
            result = run_defs.resolve_job_def(f"replay_{flow}_0").execute_in_process(
                instance=instance, raise_on_error=False, run_config=run_config, tags=tags
            )
            ok = ok and result.success
        if per_settlement:
            pdef = graph.get(per_settlement[0]).partitions_def
            existing = set(pdef.get_partition_keys(dynamic_partitions_store=instance))
            wanted = sorted({key.split(":", 1)[0] for key in record_keys.get(flow, [])} & existing)
            for partition_key in wanted:
                print(f"▶ replay {flow} [{partition_key}]", flush=True)
                result = run_defs.resolve_job_def(f"replay_{flow}_{1 if once else 0}").execute_in_process(
                    instance=instance,
                    raise_on_error=False,
                    run_config=run_config,
                    partition_key=partition_key,
                    tags={TRIGGER_TAG: "replay"},
                )
                ok = ok and result.success
    _refresh_reader_snapshot()
    return ok


def _record_days(flow: str, record_keys: list[str]) -> list[str]:
    """The daily partitions holding a flow's dead-lettered records (orders: their purchase days; the inventory
    flows: today, the only day Amazon and Sage state stock for)."""
    if flow in ("fba_adjustments", "mfn_quantities") and record_keys:
        from datetime import UTC, datetime

        return [datetime.now(UTC).date().isoformat()]
    if flow != "orders" or not record_keys:
        return []
    from sage_amazon import config
    from sage_amazon.orders.partitions import days_of_orders
    from sage_amazon.warehouse import Warehouse

    with Warehouse(config.load().warehouse_path).write() as con:  # the live file, not the readers' snapshot
        return days_of_orders(con, record_keys)


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
    # one progress line per step, like `run` (not Dagster's DEBUG console log)
    run_defs = dg.Definitions.merge(_project_defs(), dg.Definitions(loggers={"progress": _progress_logger}))
    result = run_defs.resolve_job_def("settlement_job").execute_in_process(
        instance=instance, partition_key=settlement_id, raise_on_error=False,
        run_config={"loggers": {"progress": {}}},
        tags={SETTLEMENT_ID_TAG: settlement_id, TRIGGER_TAG: "import"})
    return result.success, result.run_id
