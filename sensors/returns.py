"""The returns flow's job and schedule: every day after midnight UTC, the previous day's FBA and merchant returns and
refund transactions are read (and the current day's so far every 6 hours), the returns tied to their orders."""

import dagster as dg

from assets import returns
from assets.flow import FLOW_TAG, TRIGGER_TAG
from resources.notifications import SqsResource

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


def refund_days(bodies: list[str]) -> list[str]:
    """The posted days (UTC) of the refund-family transactions notified; other transaction types are not ours."""
    from sage_amazon.amazon.values import parse_time
    from sage_amazon.returns.datasets import is_refund_type

    days = set()
    for body in bodies:
        update = _update(body) or {}
        posted = parse_time(str(update.get("PostedDate") or ""))
        if posted is not None and is_refund_type(str(update.get("TransactionType") or "")):
            days.add(posted.date().isoformat())
    return sorted(days)


@dg.sensor(job=refund_transactions_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="TRANSACTION_UPDATE notifications (the returns queue) of refunds -> that day's refund "
                       "transactions read again near real time")
def transaction_update_sensor(context: dg.SensorEvaluationContext, returns_queue: SqsResource):
    import hashlib

    messages = returns_queue.receive_batch(MAX_MESSAGES)
    mine = [m for m in messages if _update(m.body) is not None]
    others = [m.receipt_handle for m in messages if _update(m.body) is None]
    if others:  # every other type has its own queue: nothing reads it here
        returns_queue.delete(others)
        context.log.info(f"deleted {len(others)} notification(s) the returns flow does not consume")
    if not mine:
        return dg.SensorResult(skip_reason="no TRANSACTION_UPDATE notification")
    days = refund_days([m.body for m in mine])
    requests = [dg.RunRequest(
        run_key=f"refunds-{day}-" + hashlib.sha256("".join(m.message_id for m in mine).encode()).hexdigest()[:12],
        partition_key=day, job_name=refund_transactions_job.name, tags={TRIGGER_TAG: NOTIFICATION_TYPE})
        for day in days]
    # a lost notification is not lost for long: the 6-hour schedule reads the day's transactions again
    returns_queue.delete([m.receipt_handle for m in mine])
    context.log.info(f"{len(mine)} TRANSACTION_UPDATE notification(s): refund day(s) {', '.join(days) or 'none'}")
    return dg.SensorResult(run_requests=requests)
