"""Backfills that finish the job (issue 16.7).

A backfill launched from the UI on order days (say amazon_orders for a week) materializes only what was selected:
the Sage loads (sage_sales_orders, sage_shipment_updates...) are unpartitioned and were left out, so the days were
read but nothing reached Sage. When such a backfill has completed successfully, `backfill_finish_sensor` launches one
run of what it left out downstream in the daily flows (the day models over the backfill's first..last day, then the
Sage loads), run key `finish-<backfill id>`: once per backfill. A backfill that already selected its Sage loads (or
failed) gets nothing; a failed one is named in the sensor's log.
"""

from __future__ import annotations

import time

import dagster as dg

from assets.flow import FLOW_TAG, TRIGGER_TAG
from assets.inventory import FLOW as INVENTORY
from assets.orders import FLOW as ORDERS
from assets.returns import FLOW as RETURNS
from assets.shipments import FLOW as SHIPMENTS

DAILY_FLOWS = (ORDERS, SHIPMENTS, RETURNS, INVENTORY)  # daily partitions and their unpartitioned Sage loads
BACKFILL_TAG = "sage_amazon/backfill"  # the backfill a finishing run completes
FIRST_LOOK_BACK_SECONDS = 86400  # the sensor's first tick finishes backfills completed in the last day

backfill_finish_job = dg.define_asset_job(
    "backfill_finish_job",
    selection=dg.AssetSelection.groups(*DAILY_FLOWS),
    description="What a UI backfill of days left out downstream (day models, Sage loads): launched by "
                "backfill_finish_sensor over the backfill's days, so a backfill of order days posts them to Sage",
    executor_def=dg.in_process_executor,
)


def _is_daily(node) -> bool:
    return isinstance(node.partitions_def, dg.TimeWindowPartitionsDefinition)


def finishing_keys(graph, backfilled: set[dg.AssetKey]) -> list[dg.AssetKey]:
    """The assets of the daily flows downstream of a backfill's assets that it did not include."""
    flows = dg.AssetSelection.groups(*DAILY_FLOWS).resolve(graph)
    below = dg.AssetSelection.assets(*backfilled).downstream().resolve(graph)
    return sorted((below & flows) - backfilled,
                  key=lambda k: k.to_user_string())


def finish_request(graph, backfill_id: str, partitions: dict[dg.AssetKey, set[str]]) -> dg.RunRequest | None:
    """The run that finishes a completed backfill (assets -> partition keys it materialized), or None."""
    days = sorted(p for key, keys in partitions.items() if key in graph.get_all_asset_keys()
                  and _is_daily(graph.get(key)) for p in keys)
    keys = finishing_keys(graph, {k for k in partitions if k in graph.get_all_asset_keys()})
    if not days or not keys:
        return None
    flow = next((graph.get(k).group_name for k in sorted(partitions, key=lambda k: k.to_user_string())
                 if k in graph.get_all_asset_keys()), ORDERS)
    return dg.RunRequest(
        run_key=f"finish-{backfill_id}",
        job_name=backfill_finish_job.name,
        asset_selection=keys,
        tags={"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1],
              FLOW_TAG: flow if flow in DAILY_FLOWS else ORDERS, TRIGGER_TAG: f"backfill {backfill_id}",
              BACKFILL_TAG: backfill_id},
    )


def backfill_partitions(backfill) -> dict[dg.AssetKey, set[str]]:
    """What an asset backfill targeted: asset -> partition keys (unpartitioned assets: an empty set)."""
    found: dict[dg.AssetKey, set[str]] = {}
    data = backfill.asset_backfill_data
    if data is None:
        return found
    for akpk in data.target_subset.iterate_asset_partitions():
        keys = found.setdefault(akpk.asset_key, set())
        if akpk.partition_key is not None:
            keys.add(akpk.partition_key)
    return found


@dg.sensor(job=backfill_finish_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="After a UI backfill of days completed successfully: one run of what it left out downstream "
                       "(day models, then the Sage loads) over its days, so the days reach Sage")
def backfill_finish_sensor(context: dg.SensorEvaluationContext):
    from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus

    since = float(context.cursor) if context.cursor else time.time() - FIRST_LOOK_BACK_SECONDS
    done = [BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED, BulkActionStatus.COMPLETED_FAILED,
            BulkActionStatus.FAILED]
    backfills = context.instance.get_backfills(filters=BulkActionsFilter(statuses=done), limit=100)
    graph = context.repository_def.asset_graph
    newest, requests = since, []
    for backfill in backfills:
        ended = backfill.backfill_end_timestamp or backfill.backfill_timestamp
        if ended <= since or not backfill.is_asset_backfill:
            continue
        newest = max(newest, ended)
        if backfill.status not in (BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED):
            context.log.warning(f"backfill {backfill.backfill_id} ended {backfill.status.value}: not finished "
                                "(fix the failure, then backfill again)")
            continue
        request = finish_request(graph, backfill.backfill_id, backfill_partitions(backfill))
        if request is not None:
            context.log.info(f"backfill {backfill.backfill_id}: finishing {len(request.asset_selection)} asset(s) "
                             f"over {request.tags['dagster/asset_partition_range_start']}.."
                             f"{request.tags['dagster/asset_partition_range_end']}")
            requests.append(request)
    context.update_cursor(str(newest))
    return requests or dg.SkipReason("no completed backfill left anything out")
