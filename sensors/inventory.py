"""The inventory flow's job and schedule: every 30 minutes the current UTC day's FBA inventory and Sage stock are
read again, the discrepancy recomputed and (mode adjust) the FBA sites adjusted once per day, site and item."""

from datetime import UTC

import dagster as dg

from assets import inventory
from assets.flow import FLOW_TAG, TRIGGER_TAG

inventory_job = dg.define_asset_job(
    "inventory_job",
    selection=dg.AssetSelection.groups(inventory.FLOW),
    description="FBA inventory and Sage stock of the day, the FBA discrepancy and its adjustments",
    tags={FLOW_TAG: inventory.FLOW},
    executor_def=dg.in_process_executor,
)


@dg.schedule(job=inventory_job, cron_schedule="*/30 * * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every 30 minutes: today's FBA inventory and Sage stock, discrepancy and adjustments")
def inventory_schedule(context: dg.ScheduleEvaluationContext):
    day = context.scheduled_execution_time.astimezone(UTC).date().isoformat()
    return dg.RunRequest(run_key=None, partition_key=day, tags={TRIGGER_TAG: "schedule"})
