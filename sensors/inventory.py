"""The inventory flow's jobs, schedule and sensor: every 30 minutes the current UTC day's FBA inventory and Sage stock
are read again, the discrepancy recomputed, (mode adjust) the FBA sites adjusted once per day, site and item, and the
changed merchant-fulfilled quantities pushed to Amazon; between two, the FBA_INVENTORY_AVAILABILITY_CHANGES sensor
applies Amazon's notifications (read from the inventory flow's own queue) to today's FBA inventory and discrepancy.
A notification leaves the queue only once the run applying it succeeded (sage_amazon.amazon.notification_runs, as
the orders sensor): a failed run's notifications come back after a back-off for a new run."""

import json
from datetime import UTC, datetime

import dagster as dg

from assets import inventory
from assets.flow import FLOW_TAG, TRIGGER_TAG
from resources.notifications import SqsResource
from sensors.notifications import apply, start_tick

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
BATCH_TAG = "sage_amazon/inventory_batch"  # the run's key: the sensor finds the run's outcome by it


def plan_run(messages, ledger, day: str, now: datetime):
    """(the run request or None, queue actions) for received messages (pure: testable). Each notification is
    taken once: a duplicate joins its run, or is deleted once that run succeeded; another type is deleted."""
    from sage_amazon.amazon.queues import notification_type

    groups, act = ledger.take_groups(
        messages, lambda body: day if notification_type(body) == NOTIFICATION_TYPE else None, inventory.FLOW)
    if not groups:
        return None, act
    bodies, handles = groups[day]
    batch = ledger.add("fba-inventory", bodies, handles, now)
    if batch is None:
        return None, act
    request = dg.RunRequest(
        run_key=batch.key, partition_key=day, job_name=fba_inventory_changes_job.name,
        run_config={"ops": {"amazon_fba_inventory": {"config": {"notifications": list(bodies.values())}}}},
        tags={TRIGGER_TAG: NOTIFICATION_TYPE, BATCH_TAG: batch.key})
    act.log.append(f"{len(bodies)} FBA inventory notification(s) -> run {batch.key}")
    return request, act


@dg.sensor(job=fba_inventory_changes_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="FBA_INVENTORY_AVAILABILITY_CHANGES notifications (the inventory queue) -> today's FBA inventory "
                       "updated near real time; a notification is deleted once its run succeeded")
def fba_inventory_sensor(context: dg.SensorEvaluationContext, inventory_queue: SqsResource):
    from sage_amazon.amazon.notification_runs import VISIBILITY_SECONDS, InFlight

    ledger, now, waiting_result = start_tick(context, inventory_queue, InFlight, BATCH_TAG, NOTIFICATION_TYPE,
                                             "inventory")
    if waiting_result is not None:
        return waiting_result
    messages = inventory_queue.receive_batch(MAX_MESSAGES, visibility_timeout=VISIBILITY_SECONDS)
    request, actions = plan_run(messages, ledger, now.date().isoformat(), now)
    apply(context, inventory_queue, actions)
    cursor = json.dumps(ledger.to_cursor())
    if request is None:
        return dg.SensorResult(skip_reason="no new FBA_INVENTORY_AVAILABILITY_CHANGES notification", cursor=cursor)
    return dg.SensorResult(run_requests=[request], cursor=cursor)
