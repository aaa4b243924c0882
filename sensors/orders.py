"""Near real time: ORDER_CHANGE notifications from SQS become runs for just the orders that changed.

The sensor reads the orders flow's own queue (resource `orders_queue`: SQS_QUEUE_URL-orders), where only
ORDER_CHANGE is subscribed: a backlog of another type, on its own queue, never stands before an order.
Each tick first settles the runs it requested before (sage_amazon.orders.inbox, sensors/notifications.py): the
notifications of a run that succeeded are deleted; those of a failed run come back on the queue after a
back-off and start a new run; those of a run still waiting or running stay hidden. Then it reads the queue until
it is empty, MAX_MESSAGES order changes are taken or RECEIVE_SECONDS pass, and requests one run per
purchase day (the daily partition) with the changed order ids in the run config. Anything else on the queue
is deleted as it comes (a log line counts it). A duplicate notification joins its run or, once that run
succeeded, is deleted; the load is exactly-once anyway (posting ledger).

On a fresh install (the reference tables never built) the run also builds them: order_changes_first_job.
"""

import json
import time
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from assets.flow import FLOW_TAG, ORDERS_TAG, TRIGGER_TAG
from assets.orders import FLOW as ORDERS
from assets.orders.checks import RECORD_LEVEL
from assets.partitions import daily_partitions
from assets.shipments import FLOW as SHIPMENTS
from resources.notifications import SqsResource
from sensors.notifications import apply, start_tick
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

# the reference tables the order models read (mappings, Sage item codes): built by a first run if missing
REFERENCE_SELECTION = dg.AssetSelection.groups(ORDERS).upstream() - dg.AssetSelection.groups(ORDERS)

order_changes_first_job = dg.define_asset_job(
    "order_changes_first_job",
    selection=ORDER_CHANGE_SELECTION | REFERENCE_SELECTION.required_multi_asset_neighbors(),
    description="An ORDER_CHANGE run on a fresh install: builds the reference tables first, then as order_changes_job",
    tags={FLOW_TAG: ORDERS},
    executor_def=dg.in_process_executor,
)

MAX_MESSAGES = 100  # order changes taken per tick
RECEIVE_SECONDS = 20  # reading the queue (and dropping what nothing consumes) stops after this long
RUN_SOON_SECONDS = 2  # with order changes in hand, stop reading a backlog after this long
BATCH_TAG = "sage_amazon/order_batch"  # the run's key: the sensor finds the run's outcome by it
# Amazon cancels fulfilled-shipments reports requested too often: at most one report run per this many seconds
SHIPMENTS_EVERY_SECONDS = 900


def _first_day() -> date:
    return date.fromisoformat(daily_partitions.start.strftime("%Y-%m-%d"))


def order_requests(batches, job_name: str = "order_changes_job") -> list[dg.RunRequest]:
    """One run per batch (the changed orders of one purchase day)."""
    return [dg.RunRequest(
        job_name=job_name,
        run_key=batch.key,
        partition_key=batch.day,
        run_config={"ops": {"amazon_orders": {"config": {"order_ids": batch.order_ids, **(
                                {"order_marketplaces": batch.marketplaces} if batch.marketplaces else {})}},
                            "sage_sales_orders": {"config": {"order_ids": batch.order_ids}}}},
        tags={ORDERS_TAG: ",".join(batch.order_ids)[:200], TRIGGER_TAG: "ORDER_CHANGE", BATCH_TAG: batch.key},
    ) for batch in batches]


def plan_runs(messages, cursor: dict, today: date | None = None, now: datetime | None = None):
    """(run requests, inbox, actions) for a batch of received SQS messages (pure: testable).

    Besides one run per purchase day for the changed orders, an FBA order that shipped asks for a
    shipments run (fulfilled-shipments report), at most once per SHIPMENTS_EVERY_SECONDS."""
    from sage_amazon.orders.inbox import Inbox, partition_day

    now = now or datetime.now(UTC)
    today = today or now.date()
    inbox = Inbox(cursor)
    actions, _ = inbox.take(messages, lambda change: partition_day(change.purchase_day, today, _first_day()))
    requests = order_requests(inbox.batches(now))
    if inbox.shipped:
        inbox.extra["shipments_pending"] = True
    shipments = shipments_request(inbox.extra, now)
    if shipments is not None:
        requests.append(shipments)
    return requests, inbox, actions


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


def _needs_reference(context: dg.SensorEvaluationContext) -> bool:
    """True while a reference table the order models read was never built (a fresh install)."""
    repository = context.repository_def
    if repository is None:
        return False
    keys = REFERENCE_SELECTION.resolve(repository.asset_graph)
    latest = context.instance.get_latest_materialization_events(keys)
    return any(latest.get(key) is None for key in keys)


@dg.sensor(jobs=[order_changes_job, order_changes_first_job, order_shipments_job], minimum_interval_seconds=5,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="ORDER_CHANGE notifications (the orders queue) -> runs for just the orders that changed (deleted "
                       "once their run succeeded); shipped FBA orders -> a shipments run (at most every 15 minutes)")
def order_change_sensor(context: dg.SensorEvaluationContext, orders_queue: SqsResource):
    from sage_amazon.orders.inbox import VISIBILITY_SECONDS, Inbox, partition_day

    # while order runs wait to start, new notifications stay on the queue: runs take turns on the one DuckDB
    # writer, so the next run takes them all at once instead of piling up one run per tick
    inbox, now, waiting_result = start_tick(context, orders_queue, Inbox, BATCH_TAG, "ORDER_CHANGE", "order")
    if waiting_result is not None:
        return waiting_result
    today = now.date()
    received, taken = 0, 0
    deadline = time.monotonic() + RECEIVE_SECONDS
    while taken < MAX_MESSAGES and time.monotonic() < deadline:
        messages = orders_queue.receive(10, wait_seconds=0 if received else 1, visibility_timeout=VISIBILITY_SECONDS)
        if not messages:
            break
        received += len(messages)
        actions, n = inbox.take(messages, lambda c: partition_day(c.purchase_day, today, _first_day()))
        taken += n
        if taken and time.monotonic() > deadline - RECEIVE_SECONDS + RUN_SOON_SECONDS:
            deadline = 0  # order changes in hand: their runs first, the rest on the next tick
        apply(context, orders_queue, actions)
    for line in inbox.report():
        context.log.info(line)
    job = order_changes_first_job.name if taken and _needs_reference(context) else order_changes_job.name
    requests = order_requests(inbox.batches(now), job)
    if inbox.shipped:
        inbox.extra["shipments_pending"] = True
    owed = shipments_request(inbox.extra, now)
    if owed is not None:
        requests.append(owed)
    cursor = json.dumps(inbox.to_cursor())
    if received:
        context.log.info(f"{received} message(s), {taken} order change(s), "
                         f"{len(requests)} run(s), {len(inbox.inflight)} run(s) in flight")
    if not requests:
        return dg.SensorResult(skip_reason="no new ORDER_CHANGE notification", cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)


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
