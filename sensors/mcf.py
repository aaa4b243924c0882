"""The mcf flow's jobs, schedule and sensor: every 15 minutes the whole flow (new and cancelled Sage orders to
Amazon, statuses, shipments to Sage); a FULFILLMENT_ORDER_STATUS notification (the mcf queue) asks for the status part
at once (Amazon's statuses and shipments, then the deliveries in Sage)."""

import dagster as dg

from assets import mcf
from assets.flow import FLOW_TAG, TRIGGER_TAG
from resources.notifications import SqsResource
from sensors.notifications import apply, start_tick

mcf_job = dg.define_asset_job(
    "mcf_job",
    selection=dg.AssetSelection.groups(mcf.FLOW),
    description="Sage orders of other channels to Amazon MCF (preview, create once, cancel), statuses and shipments "
                "back, tracking posted to the Sage orders",
    tags={FLOW_TAG: mcf.FLOW},
    executor_def=dg.in_process_executor,
)

mcf_status_job = dg.define_asset_job(
    "mcf_status_job",
    selection=dg.AssetSelection.groups(mcf.FLOW) & dg.AssetSelection.assets("amazon_mcf_orders").downstream(),
    description="FULFILLMENT_ORDER_STATUS notifications: MCF statuses and shipments read, tracking posted to Sage",
    tags={FLOW_TAG: mcf.FLOW},
    executor_def=dg.in_process_executor,
)


@dg.schedule(job=mcf_job, cron_schedule="*/15 * * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every 15 minutes: new and cancelled Sage orders of the MCF channels, statuses, tracking")
def mcf_schedule(context: dg.ScheduleEvaluationContext):
    return dg.RunRequest(run_key=None, tags={TRIGGER_TAG: "schedule"})


NOTIFICATION_TYPE = "FULFILLMENT_ORDER_STATUS"
MAX_MESSAGES = 200
BATCH_TAG = "sage_amazon/mcf_batch"  # the run's key: the sensor finds the run's outcome by it


def notified_order(body: str) -> str | None:
    """The SellerFulfillmentOrderId of a FULFILLMENT_ORDER_STATUS message (SNS-wrapped or not); None for another
    notification type (not ours)."""
    from sage_amazon.amazon.queues import unwrap

    doc = unwrap(body)
    if doc is None or (doc.get("NotificationType") or doc.get("notificationType")) != NOTIFICATION_TYPE:
        return None
    payload = doc.get("Payload") or doc.get("payload") or {}
    status = payload.get("FulfillmentOrderStatusNotification") or {}
    return str(status.get("SellerFulfillmentOrderId") or "?")


def plan_runs(messages, ledger, now) -> tuple[list[dg.RunRequest], object]:
    """(one status run for the notifications received, queue actions) (pure: testable). A notification leaves the
    queue once its run succeeded; another notification type is deleted at once."""
    groups, act = ledger.take_groups(messages, lambda body: "status" if notified_order(body) else None, mcf.FLOW)
    requests = []
    if "status" in groups:
        bodies, handles = groups["status"]
        batch = ledger.add("mcf-status", bodies, handles, now)
        if batch is not None:
            requests.append(dg.RunRequest(run_key=batch.key, job_name=mcf_status_job.name,
                                          tags={TRIGGER_TAG: NOTIFICATION_TYPE, BATCH_TAG: batch.key}))
            act.log.append(f"{len(bodies)} FULFILLMENT_ORDER_STATUS notification(s) -> run {batch.key}")
    return requests, act


@dg.sensor(job=mcf_status_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="FULFILLMENT_ORDER_STATUS notifications (the mcf queue) -> MCF statuses, shipments and tracking "
                       "read and posted near real time; a notification is deleted once its run succeeded")
def fulfillment_order_status_sensor(context: dg.SensorEvaluationContext, mcf_queue: SqsResource):
    import json

    from sage_amazon.amazon.notification_runs import VISIBILITY_SECONDS, InFlight

    ledger, now, waiting_result = start_tick(context, mcf_queue, InFlight, BATCH_TAG, NOTIFICATION_TYPE, "MCF status")
    if waiting_result is not None:
        return waiting_result
    messages = mcf_queue.receive_batch(MAX_MESSAGES, visibility_timeout=VISIBILITY_SECONDS)
    requests, actions = plan_runs(messages, ledger, now)
    apply(context, mcf_queue, actions)
    cursor = json.dumps(ledger.to_cursor())
    if not requests:
        return dg.SensorResult(skip_reason="no new FULFILLMENT_ORDER_STATUS notification", cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)
