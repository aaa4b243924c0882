"""The returns flow's job and schedule: every day after midnight UTC, the previous day's FBA and merchant returns and
refund transactions are read (and the current day's so far every 6 hours), the returns tied to their orders."""

import dagster as dg

from assets import returns
from assets.flow import FLOW_TAG, TRIGGER_TAG
from resources.notifications import SqsResource
from sensors.notifications import apply, start_tick

returns_job = dg.define_asset_job(
    "returns_job",
    selection=dg.AssetSelection.groups(returns.FLOW),
    description="FBA and merchant returns and refund transactions of a day, tied to their orders",
    tags={FLOW_TAG: returns.FLOW},
    executor_def=dg.in_process_executor,
)


@dg.schedule(job=returns_job, cron_schedule="30 */6 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every 6 hours: the current UTC day's returns and refunds; at 00:30 the day before, whole")
def returns_schedule(context: dg.ScheduleEvaluationContext):
    from datetime import UTC, timedelta

    at = context.scheduled_execution_time.astimezone(UTC)
    day = (at - timedelta(hours=1)).date().isoformat()  # 00:30 closes yesterday; later ticks read today
    return dg.RunRequest(run_key=None, partition_key=day, tags={TRIGGER_TAG: "schedule"})


# The notification path: TRANSACTION_UPDATE of a refund -> that day's refund transactions read again (and, with
# revenue: sage_invoices, their credit notes). Returns themselves come from the reports (the schedule).
refund_transactions_job = dg.define_asset_job(
    "refund_transactions_job",
    selection=(dg.AssetSelection.groups(returns.FLOW)
               & dg.AssetSelection.assets("amazon_refund_transactions").downstream()),
    description="TRANSACTION_UPDATE notifications of refunds: the day's refund transactions and credit notes",
    tags={FLOW_TAG: returns.FLOW},
    executor_def=dg.in_process_executor,
)

NOTIFICATION_TYPE = "TRANSACTION_UPDATE"
MAX_MESSAGES = 200


def _update(body: str) -> dict | None:
    """The TransactionUpdateNotification of a message (SNS-wrapped or not), None for another type."""
    import json

    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("Message"), str):
            doc = json.loads(doc["Message"])
    except (ValueError, TypeError):
        return None
    if not isinstance(doc, dict) or (doc.get("NotificationType") or doc.get("notificationType")) != NOTIFICATION_TYPE:
        return None
    payload = doc.get("Payload") or doc.get("payload") or {}
    return payload.get("TransactionUpdateNotification") or payload.get("transactionUpdateNotification") or {}


def refund_day(body: str) -> str | None:
    """The posted day (UTC) of a notified refund-family transaction; None for another transaction type or another
    notification type (not ours)."""
    from sage_amazon.amazon.values import parse_time
    from sage_amazon.returns.datasets import is_refund_type

    update = _update(body)
    if update is None or not is_refund_type(str(update.get("TransactionType") or "")):
        return None
    posted = parse_time(str(update.get("PostedDate") or ""))
    return posted.date().isoformat() if posted is not None else None


BATCH_TAG = "sage_amazon/refund_batch"  # the run's key: the sensor finds the run's outcome by it


def plan_runs(messages, ledger, now) -> tuple[list[dg.RunRequest], object]:
    """(one run per notified refund day, queue actions) for received messages (pure: testable). A notification
    leaves the queue once its day's run succeeded; another transaction or notification type is deleted at once
    (the 6-hour schedule reads every day's transactions anyway)."""
    groups, act = ledger.take_groups(messages, refund_day, returns.FLOW)
    requests = []
    for day, (bodies, handles) in sorted(groups.items()):
        batch = ledger.add(f"refunds-{day}", bodies, handles, now)
        if batch is not None:
            requests.append(dg.RunRequest(run_key=batch.key, partition_key=day, job_name=refund_transactions_job.name,
                                          tags={TRIGGER_TAG: NOTIFICATION_TYPE, BATCH_TAG: batch.key}))
            act.log.append(f"{len(bodies)} TRANSACTION_UPDATE notification(s) of refunds posted {day} -> run "
                           f"{batch.key}")
    return requests, act


@dg.sensor(job=refund_transactions_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="TRANSACTION_UPDATE notifications (the returns queue) of refunds -> that day's refund "
                       "transactions read again near real time; a notification is deleted once its run succeeded")
def transaction_update_sensor(context: dg.SensorEvaluationContext, returns_queue: SqsResource):
    import json

    from sage_amazon.amazon.notification_runs import VISIBILITY_SECONDS, InFlight

    ledger, now, waiting_result = start_tick(context, returns_queue, InFlight, BATCH_TAG, NOTIFICATION_TYPE,
                                             "refund")
    if waiting_result is not None:
        return waiting_result
    messages = returns_queue.receive_batch(MAX_MESSAGES, visibility_timeout=VISIBILITY_SECONDS)
    requests, actions = plan_runs(messages, ledger, now)
    apply(context, returns_queue, actions)
    cursor = json.dumps(ledger.to_cursor())
    if not requests:
        return dg.SensorResult(skip_reason="no new TRANSACTION_UPDATE notification of a refund", cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)
