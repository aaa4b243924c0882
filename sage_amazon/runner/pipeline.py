"""`sage-amazon run`: the whole graph for a range of days, stage by stage, each stage an asset job selected
from the graph, executed in this process and recorded in the instance (the UI shows the runs).
"""

from __future__ import annotations

import dagster as dg

from .discovery import pending_settlements
from .execution import execute
from .planning import STAGE_SETTLEMENT, plan_stages
from .progress import progress_logger, watch
from .session import begin, project_defs, refresh_reader_snapshot
from .stops import RunStopped


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
    begin(instance, own_warehouse)
    definitions = definitions or project_defs()
    settlements_to_run = settlements_to_run or pending_settlements
    graph = definitions.resolve_asset_graph()
    stages = plan_stages(graph)
    jobs = [dg.define_asset_job(f"cli_run_stage_{i}", selection=keys) for i, (_, keys) in enumerate(stages)]
    run_defs = dg.Definitions.merge(definitions, dg.Definitions(jobs=jobs, loggers={"progress": progress_logger}))
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
            if group == STAGE_SETTLEMENT:
                pdef = graph.get(keys[0]).partitions_def
                for settlement_id in settlements_to_run(instance, pdef):
                    run_stage(i, keys, f"settlement {settlement_id}", partition_key=settlement_id)
            elif any(graph.get(k).partitions_def is not None for k in keys):
                tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
                run_stage(i, keys, f"days {start}..{end}", tags=tags)
            else:
                run_stage(i, keys, "unpartitioned")
        if any(step == "settlement discovery" for step, _ in watch.failures):
            outcomes.append(("settlement discovery", False, ""))
    except RunStopped as stop:
        stop.outcomes = outcomes
        raise
    finally:
        if own_warehouse:
            refresh_reader_snapshot()
    return outcomes
