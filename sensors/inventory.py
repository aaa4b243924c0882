"""The inventory flow's jobs, schedule and sensor: every 30 minutes the current UTC day's FBA inventory and Sage stock
are read again, the discrepancy recomputed, (mode adjust) the FBA sites adjusted once per day, site and item, and the
changed merchant-fulfilled quantities pushed to Amazon; between two, the FBA_INVENTORY_AVAILABILITY_CHANGES sensor
applies Amazon's notifications to today's FBA inventory and discrepancy."""

import hashlib
import json
from datetime import UTC, datetime

import dagster as dg

from assets import inventory
from assets.flow import FLOW_TAG, TRIGGER_TAG
from resources.notifications import SqsResource

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


# The notification path: the FBA inventory of the day, its SQL models and the discrepancy (no adjustment: those
# run with the schedule, once per day, site and item).
fba_inventory_changes_job = dg.define_asset_job(
    "fba_inventory_changes_job",
    selection=(dg.AssetSelection.groups(inventory.FLOW)
               & dg.AssetSelection.assets("amazon_fba_inventory").downstream()
               - dg.AssetSelection.assets("sage_fba_adjustments")),
    description="FBA_INVENTORY_AVAILABILITY_CHANGES notifications applied to today's FBA inventory and discrepancy",
    tags={FLOW_TAG: inventory.FLOW},
    executor_def=dg.in_process_executor,
)

NOTIFICATION_TYPE = "FBA_INVENTORY_AVAILABILITY_CHANGES"
MAX_MESSAGES = 200  # per tick and run (the run config carries the notification bodies)


def _kind(body: str) -> str:
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("Message"), str):
            doc = json.loads(doc["Message"])
        return str(doc.get("NotificationType") or doc.get("notificationType") or "") if isinstance(doc, dict) else ""
    except (ValueError, TypeError):
        return ""


@dg.sensor(job=fba_inventory_changes_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="FBA_INVENTORY_AVAILABILITY_CHANGES notifications (SQS) -> today's FBA inventory updated near "
                       "real time; other notification types are handed back to their sensors at once")
def fba_inventory_sensor(context: dg.SensorEvaluationContext, sqs: SqsResource):
    messages = sqs.receive_batch(MAX_MESSAGES)
    mine = [m for m in messages if _kind(m.body) == NOTIFICATION_TYPE]
    others = [m.receipt_handle for m in messages if _kind(m.body) != NOTIFICATION_TYPE]
    if others:
        sqs.release(others)  # ORDER_CHANGE, settlement reports...: visible again for their sensors
    if not mine:
        return dg.SensorResult(skip_reason="no FBA_INVENTORY_AVAILABILITY_CHANGES notification")
    day = datetime.now(UTC).date().isoformat()
    bodies = [m.body for m in mine]
    key = "fba-inventory-" + hashlib.sha256("".join(m.message_id for m in mine).encode()).hexdigest()[:16]
    request = dg.RunRequest(
        run_key=key, partition_key=day, job_name=fba_inventory_changes_job.name,
        run_config={"ops": {"amazon_fba_inventory": {"config": {"notifications": bodies}}}},
        tags={TRIGGER_TAG: NOTIFICATION_TYPE})
    # a lost change is not lost for long: the 30-minute schedule reads the whole inventory again
    sqs.delete([m.receipt_handle for m in mine])
    context.log.info(f"{len(mine)} FBA inventory notification(s) -> run {key}; {len(others)} handed back")
    return dg.SensorResult(run_requests=[request])
