"""Near real time: ORDER_CHANGE notifications from SQS become runs for just the orders that changed.

Each tick deletes the messages of the previous tick (their runs were requested when that tick's
result was stored), then receives a batch, and requests one run per purchase day with the changed
order ids in the run config. A message is never deleted before its run is requested; a duplicate
notification or a redelivery only re-posts nothing (the load is exactly-once through the ledger).
"""

import hashlib
import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from assets.flow import FLOW_TAG, ORDERS_TAG, TRIGGER_TAG
from assets.orders import FLOW as ORDERS
from assets.orders.checks import RECORD_LEVEL
from assets.partitions import daily_partitions
from assets.shipments import FLOW as SHIPMENTS
from resources.notifications import SqsResource
from sensors.shipments import order_shipments_job

# the orders flow; its record-level checks (Great Expectations suite, unmapped SKUs, totals) do not block
# the load (it dead-letters those orders) and run with the nightly catch-up, not on every notification
ORDER_CHANGE_SELECTION = dg.AssetSelection.groups(ORDERS) - dg.AssetSelection.checks(*RECORD_LEVEL)

order_changes_job = dg.define_asset_job(
    "order_changes_job",
    selection=ORDER_CHANGE_SELECTION,
    description="Extract, model and post just the orders an ORDER_CHANGE notification named",
    tags={FLOW_TAG: ORDERS},
    executor_def=dg.in_process_executor,  # one writer anyway; no process per step: seconds, not tens
)

orders_catchup_job = dg.define_asset_job(
    "orders_catchup_job",
    # the order and shipment flows with the reference tables they read
    selection=dg.AssetSelection.groups(ORDERS, SHIPMENTS).upstream(),
    description="Re-read the last days (late cancellations, shipments), then post, close and ship in Sage",
    tags={FLOW_TAG: ORDERS},
    executor_def=dg.in_process_executor,
)

MAX_MESSAGES = 100
SEEN_KEEP = 2000
# Amazon cancels fulfilled-shipments reports requested too often: at most one report run per this many seconds
SHIPMENTS_EVERY_SECONDS = 900


def _day(change, today: date) -> str | None:
    day = change.purchase_day or today
    first = date.fromisoformat(daily_partitions.start.strftime("%Y-%m-%d"))
    if day < first or day > today:
        return None
    return day.isoformat()


def plan_runs(messages, cursor: dict, today: date | None = None, now: datetime | None = None):
    """(run requests, new cursor, ignored count) for a batch of received SQS messages (pure: testable).

    Besides one run per purchase day for the changed orders, an FBA order that shipped asks for a
    shipments run (fulfilled-shipments report), at most once per SHIPMENTS_EVERY_SECONDS."""
    from sage_amazon.amazon.notifications import Ignored, parse_message

    now = now or datetime.now(UTC)
    today = today or now.date()
    shipped = bool(cursor.get("shipments_pending"))
    seen = list(cursor.get("seen", []))
    seen_set = set(seen)
    by_day: dict[str, set[str]] = {}
    ids_by_day: dict[str, set[str]] = {}
    ignored = 0
    release: list[str] = []  # other notification types (REPORT_PROCESSING_FINISHED...): another sensor's
    for message in messages:
        parsed = parse_message(message.body)
        if isinstance(parsed, Ignored) and parsed.other_type:
            release.append(message.receipt_handle)
            ignored += 1
            continue
        if isinstance(parsed, Ignored) or parsed.notification_id in seen_set:
            ignored += 1
            continue
        seen_set.add(parsed.notification_id)
        seen.append(parsed.notification_id)
        if parsed.order_status in ("SHIPPED", "PARTIALLY_SHIPPED") and parsed.fulfillment_type != "MFN":
            shipped = True
        day = _day(parsed, today)
        if day is None:
            ignored += 1
            continue
        by_day.setdefault(day, set()).add(parsed.amazon_order_id)
        ids_by_day.setdefault(day, set()).add(parsed.notification_id)
    requests = []
    for day, orders in sorted(by_day.items()):
        order_ids = sorted(orders)
        digest = hashlib.sha256(",".join(sorted(ids_by_day[day])).encode()).hexdigest()[:16]
        requests.append(dg.RunRequest(
            job_name=order_changes_job.name,
            run_key=f"order-change-{day}-{digest}",
            partition_key=day,
            run_config={"ops": {"amazon_orders": {"config": {"order_ids": order_ids}},
                                "sage_sales_orders": {"config": {"order_ids": order_ids}}}},
            tags={ORDERS_TAG: ",".join(order_ids)[:200], TRIGGER_TAG: "ORDER_CHANGE"},
        ))
    kept = set(release)
    new_cursor = {"delete": [m.receipt_handle for m in messages if m.receipt_handle not in kept],
                  "release": release, "seen": seen[-SEEN_KEEP:],
                  "shipments_pending": shipped, "shipments_after": cursor.get("shipments_after", "")}
    shipments = shipments_request(new_cursor, now)
    if shipments is not None:
        requests.append(shipments)
    return requests, new_cursor, ignored


def shipments_request(cursor: dict, now: datetime):
    """The shipments run owed to shipped FBA orders, if the report may be requested now (updates cursor)."""
    if not cursor.get("shipments_pending"):
        return None
    after = cursor.get("shipments_after") or ""
    if after and now < datetime.fromisoformat(after):
        return None
    cursor["shipments_pending"] = False
    cursor["shipments_after"] = (now + timedelta(seconds=SHIPMENTS_EVERY_SECONDS)).isoformat()
    first = max(now.date() - timedelta(days=1), date.fromisoformat(daily_partitions.start.strftime("%Y-%m-%d")))
    return dg.RunRequest(
        job_name=order_shipments_job.name,
        run_key=f"order-shipments-{now.strftime('%Y%m%dT%H%M%S')}",
        tags={"dagster/asset_partition_range_start": first.isoformat(),
              "dagster/asset_partition_range_end": now.date().isoformat(),
              TRIGGER_TAG: "ORDER_CHANGE shipped"},
    )


@dg.sensor(jobs=[order_changes_job, order_shipments_job], minimum_interval_seconds=5,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="ORDER_CHANGE notifications (SQS) -> runs for just the orders that changed; "
                       "shipped FBA orders -> a shipments run (at most every 15 minutes)")
def order_change_sensor(context: dg.SensorEvaluationContext, sqs: SqsResource):
    cursor = json.loads(context.cursor) if context.cursor else {}
    previous = cursor.get("delete") or []
    if previous:  # the runs for these were requested when the previous tick's result was stored
        deleted = sqs.delete(previous)
        context.log.info(f"deleted {deleted} handled notification(s)")
        cursor["delete"] = []
    waiting = context.instance.get_runs_count(dg.RunsFilter(
        job_name=order_changes_job.name,
        statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]))
    if waiting:
        # runs take turns on the one DuckDB writer: leave new notifications in the queue, so that the next
        # run takes them all at once instead of piling up one run per tick
        return dg.SensorResult(skip_reason=f"{waiting} order run(s) still waiting to start: batching",
                               cursor=json.dumps(cursor))
    messages = sqs.receive_batch(limit=MAX_MESSAGES, wait_seconds=1)
    if not messages:
        owed = shipments_request(cursor, datetime.now(UTC))
        if owed is not None:
            return dg.SensorResult(run_requests=[owed], cursor=json.dumps(cursor))
        return dg.SensorResult(skip_reason="no ORDER_CHANGE notification", cursor=json.dumps(cursor))
    requests, new_cursor, ignored = plan_runs(messages, cursor)
    release = new_cursor.pop("release")
    if release:
        sqs.release(release)
        context.log.info(f"left {len(release)} notification(s) of other types on the queue")
    context.log.info(f"{len(messages)} message(s), {ignored} ignored, {len(requests)} run(s)")
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(new_cursor))


@dg.schedule(job=orders_catchup_job, cron_schedule="15 2 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every night: re-read the last 7 days (late changes, shipments) and load them")
def orders_catchup_schedule(context: dg.ScheduleEvaluationContext):
    end = context.scheduled_execution_time.astimezone(UTC).date()
    start = max(end - timedelta(days=7), date.fromisoformat(daily_partitions.start.strftime("%Y-%m-%d")))
    return dg.RunRequest(
        run_key=f"orders-catchup-{end.isoformat()}",
        tags={"dagster/asset_partition_range_start": start.isoformat(),
              "dagster/asset_partition_range_end": end.isoformat()},
    )
