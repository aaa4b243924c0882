"""`sage-amazon deadletter replay`: re-runs the assets that write a flow's dead letters, with what they read."""

from __future__ import annotations

import dagster as dg

from assets.flow import TRIGGER_TAG
from assets.sql_models import LAYER_TAG
from sage_amazon import deadletters

from .execution import execute
from .planning import STAGE_SETTLEMENT, STAGE_TIME, stage_kind
from .progress import progress_logger
from .session import begin, project_defs, refresh_reader_snapshot


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
    begin(instance, own_warehouse=True)
    definitions = project_defs()
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
            once = sorted({*once, *(k for k in upstream if stage_kind(graph.get(k)) == STAGE_TIME
                                    and (LAYER_TAG in graph.get(k).tags or k in loads))})
        per_settlement = sorted(k for k in upstream if stage_kind(graph.get(k)) == STAGE_SETTLEMENT)
        jobs = [dg.define_asset_job(f"replay_{flow}_{i}", selection=keys) for i, keys in enumerate([once, per_settlement]) if keys]
        run_defs = dg.Definitions.merge(definitions, dg.Definitions(jobs=jobs, loggers={"progress": progress_logger}))
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
    refresh_reader_snapshot()
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
