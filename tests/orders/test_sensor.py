"""ORDER_CHANGE notifications from the orders queue become runs for just the changed orders; the order reaches Sage;
a notification leaves the queue once its run succeeded; anything else on the orders queue never clogs it."""

import json
import time
from datetime import date

import dagster as dg
import pytest

from sensors.orders import (
    order_change_sensor,
    order_changes_first_job,
    order_changes_job,
    order_shipments_job,
    plan_runs,
)
from tests import sensor_runs
from tests.orders.conftest import order_assets


def _job_defs(env):
    assets, checks = order_assets()
    return dg.Definitions(assets=assets, asset_checks=checks, jobs=[order_changes_job, order_changes_first_job, order_shipments_job],
                          sensors=[order_change_sensor], resources=env.resources)


def _tick(env, defs, cursor):
    context = dg.build_sensor_context(instance=env.instance, cursor=cursor, definitions=defs,
                                      resources={"orders_queue": env.resources["orders_queue"]})
    result = order_change_sensor(context)
    return result


def _run(env, defs, request):
    job = defs.resolve_job_def(request.job_name)
    result = job.execute_in_process(instance=env.instance, partition_key=request.partition_key,
                                    run_config=request.run_config, tags=request.tags)
    assert result.success
    return result


def _visible(sqs) -> list[str]:
    """Notification types visible on the queue now (received with a short hiding, then handed back)."""
    messages = sqs.receive_batch(limit=100, wait_seconds=0)
    sqs.release([m.receipt_handle for m in messages])
    kinds = [json.loads(m.body) for m in messages]
    return sorted(k.get("NotificationType") or k.get("notificationType") or "" for k in kinds)


@pytest.mark.slow
def test_on_a_fresh_install_an_order_change_posts_just_that_order_and_its_notifications_go_once_done(sqs_env):
    env, x3 = sqs_env, sqs_env.x3
    defs = _job_defs(env)
    # a fresh install: no reference table (mappings, Sage item codes) was ever built; the first run builds them
    live = [env.amazon.add_order("ATVPDKIKX0DER")]
    while {it["sku"] for it in live[-1]["items"]} & {"NW-FILTER-SQ", "NW-CHAIR-FLD"}:  # want a mappable one
        live.append(env.amazon.add_order("ATVPDKIKX0DER"))
    order = live[-1]
    oid = order["id"]
    cursor, posted_at, jobs, executed = None, None, [], set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        result = _tick(env, defs, cursor)
        cursor = result.cursor
        for request in result.run_requests or []:
            if request.job_name == "order_shipments_job":
                continue
            assert request.partition_key == order["purchase_date"][:10]
            _run(env, defs, request)
            jobs.append(request.job_name)
            executed.add(request.run_key)
        if x3.count_orders(oid):
            posted_at = time.monotonic()
            break
        time.sleep(0.5)
    assert posted_at is not None, "the order never reached Sage"
    assert x3.count_orders(oid) == 1
    assert jobs[0] == "order_changes_first_job" and set(jobs[1:]) <= {"order_changes_job"}
    # only the changed orders were extracted by these runs
    extracted = {r[0] for r in env.query("SELECT DISTINCT amazon_order_id FROM raw.amazon_orders")}
    assert oid in extracted and extracted <= {o["id"] for o in live}  # not the day's other orders
    # the runs succeeded: the next tick deletes their notifications (marked done), none runs again
    handled = {nid for key, b in json.loads(cursor)["inflight"].items() if key in executed for nid in b["nids"]}
    assert handled
    result = _tick(env, defs, cursor)
    after = json.loads(result.cursor)
    assert not set(after["inflight"]) & executed and handled <= set(after["done"])
    assert not {r.run_key for r in result.run_requests or []} & executed
    # a shipments run (what a shipped FBA order asks for) runs over the last two days
    from datetime import UTC, datetime

    from sensors.orders import shipments_request

    # the sensor's own clock is the machine's, as in the daemon (tests/dates/run.sh moves it)
    owed = shipments_request({"shipments_pending": True}, datetime.now(UTC))  # clock-ok
    shipments = defs.resolve_job_def("order_shipments_job").execute_in_process(instance=env.instance, tags=owed.tags)
    assert shipments.success


class _Msg:
    def __init__(self, body, handle):
        self.body, self.receipt_handle = body, handle


def _notification(nid, oid, status="Unshipped", purchase="2026-11-20T10:00:00Z"):
    return json.dumps({"NotificationType": "ORDER_CHANGE", "EventTime": "2026-11-20T10:05:00Z",
                       "Payload": {"OrderChangeNotification": {"AmazonOrderId": oid, "OrderChangeType": "OrderStatusChange",
                                                               "Summary": {"OrderStatus": status, "PurchaseDate": purchase,
                                                                           "MarketplaceId": "ATVPDKIKX0DER"}}},
                       "NotificationMetadata": {"NotificationId": nid}})


def test_plan_runs_groups_by_purchase_day_and_ignores_duplicates_and_junk():
    msgs = [_Msg(_notification("n1", "111-1"), "h1"), _Msg(_notification("n1", "111-1"), "h2"),  # duplicate
            _Msg(_notification("n2", "111-2", purchase="2026-11-21T23:59:00Z"), "h3"),
            _Msg(_notification("n3", "111-3"), "h4"), _Msg("not json", "h5"),
            _Msg(json.dumps({"NotificationType": "REPORT_PROCESSING_FINISHED"}), "h6")]
    requests, inbox, actions = plan_runs(msgs, {}, today=date(2026, 11, 22))
    assert [(r.partition_key, r.run_config["ops"]["amazon_orders"]["config"]["order_ids"]) for r in requests] == [
        ("2026-11-20", ["111-1", "111-3"]), ("2026-11-21", ["111-2"])]
    assert {r.tags["sage_amazon/order_batch"] for r in requests} == {r.run_key for r in requests}
    # junk and other types (each has its own queue) go at once; order changes wait for their runs
    assert actions.delete == ["h5", "h6"]
    assert sorted(h for b in inbox.inflight.values() for h in b.handles) == ["h1", "h2", "h3", "h4"]
    # a redelivered notification whose run is in flight is not run again
    again, _, _ = plan_runs([_Msg(_notification("n2", "111-2"), "h7")], inbox.to_cursor(), today=date(2026, 11, 22))
    assert again == []
    # the same notifications give the same run key (Dagster dedupes a repeated request)
    r2, _, _ = plan_runs(msgs, {}, today=date(2026, 11, 22))
    assert [r.run_key for r in r2] == [r.run_key for r in requests]


def test_a_shipped_fba_order_asks_for_a_shipments_run_at_most_every_15_minutes():
    from datetime import UTC, datetime, timedelta

    from sensors.orders import shipments_request

    t0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    shipped = [_Msg(_notification("s1", "111-9", status="Shipped"), "h1")]
    requests, inbox, _ = plan_runs(shipped, {}, now=t0)
    cursor = inbox.to_cursor()
    jobs = [r.job_name for r in requests]
    assert jobs == ["order_changes_job", "order_shipments_job"]
    assert requests[1].tags["dagster/asset_partition_range_start"] == "2026-11-21"
    # another shipped order five minutes later: the report waits for its window ...
    requests, inbox, _ = plan_runs([_Msg(_notification("s2", "111-8", status="Shipped"), "h2")], cursor,
                                   now=t0 + timedelta(minutes=5))
    cursor = inbox.to_cursor()
    assert [r.job_name for r in requests] == ["order_changes_job"] and cursor["shipments_pending"]
    # ... and is requested once the window opens, even on a tick without messages
    assert shipments_request(cursor, t0 + timedelta(minutes=10)) is None
    owed = shipments_request(cursor, t0 + timedelta(minutes=16))
    assert owed is not None and owed.job_name == "order_shipments_job" and not cursor["shipments_pending"]
    assert shipments_request(cursor, t0 + timedelta(minutes=17)) is None


def test_anything_but_order_changes_on_the_orders_queue_is_deleted_and_never_delays_an_order_change(monkeypatch):
    import socket
    import uuid

    import sensors.orders
    from resources.notifications import SqsResource
    from sage_amazon.sandbox.sqs import SqsServer

    # a tick reads for RECEIVE_SECONDS of wall clock: a loaded machine read only 60 messages of a backlog in 20 s
    # (2026-12-31 clock run); what is proven here is the order of the work, not the machine's speed
    monkeypatch.setattr(sensors.orders, "RECEIVE_SECONDS", 3600)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = SqsServer(port=port)
    queue_url = server.start(queue=f"orders-sensor-{uuid.uuid4().hex[:8]}")  # moto's state is per process
    try:
        sqs = SqsResource(queue_url=queue_url, aws_access_key_id="x", aws_secret_access_key="x")
        report = {"notificationType": "REPORT_PROCESSING_FINISHED", "notificationMetadata": {"notificationId": "r1"},
                  "payload": {"reportProcessingFinishedNotification": {
                      "reportType": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "processingStatus": "DONE",
                      "reportDocumentId": "doc-1"}}}
        inventory = {"NotificationType": "FBA_INVENTORY_AVAILABILITY_CHANGES",
                     "NotificationMetadata": {"NotificationId": "i"}, "Payload": {}}
        client = sqs._client()
        # a subscription left on this queue (an older single-queue setup): other types ahead of the order change
        client.send_message(QueueUrl=queue_url, MessageBody=json.dumps(report))
        for start in range(0, 30, 10):
            client.send_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "MessageBody": json.dumps(inventory)} for i in range(start, start + 10)])
        client.send_message(QueueUrl=queue_url, MessageBody=_notification("n9", "111-9"))
        client.send_message(QueueUrl=queue_url, MessageBody=_notification("n9", "111-9"))  # a duplicate
        with dg.instance_for_test() as instance:
            context = dg.build_sensor_context(instance=instance, resources={"orders_queue": sqs})
            result = order_change_sensor(context)
            # one tick: past the others, one run for the order change
            assert [r.job_name for r in result.run_requests] == ["order_changes_job"]
            batch = json.loads(result.cursor)["inflight"][result.run_requests[0].run_key]
            assert batch["orders"] == ["111-9"] and len(batch["handles"]) == 2
            # the other types are gone (their flows read their own queues; the settlement report is listed by
            # getReports, the inventory read again by its schedule); the order change stays hidden until its run
            # succeeded
            assert _visible(sqs) == []
            # the run has not finished: the next tick deletes nothing and requests nothing again
            context = dg.build_sensor_context(instance=instance, resources={"orders_queue": sqs}, cursor=result.cursor)
            again = order_change_sensor(context)
            assert not again.run_requests and json.loads(again.cursor)["inflight"]
    finally:
        server.stop()


def test_a_failed_runs_notification_comes_back_after_its_back_off_and_goes_only_once_a_retry_succeeded(monkeypatch):
    import socket
    import time as clock
    import uuid

    from resources.notifications import SqsResource
    from sage_amazon.amazon import notification_runs
    from sage_amazon.sandbox.sqs import SqsServer

    # the back-off is the queue's visibility timeout (SQS's clock): long enough that the failed tick (a 1 s long
    # poll and the rest) ends before it on a loaded machine; the retry is then awaited, however long it takes
    monkeypatch.setattr(notification_runs, "BACKOFF_SECONDS", (10,))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = SqsServer(port=port)
    queue_url = server.start(queue=f"orders-retry-{uuid.uuid4().hex[:8]}")

    def tick(instance, cursor):
        return order_change_sensor(dg.build_sensor_context(instance=instance, cursor=cursor,
                                                           resources={"orders_queue": sqs}))

    try:
        sqs = SqsResource(queue_url=queue_url, aws_access_key_id="x", aws_secret_access_key="x")
        sqs._client().send_message(QueueUrl=queue_url, MessageBody=_notification("n1", "111-1"))
        with dg.instance_for_test() as instance:
            first = tick(instance, None)
            (request,) = first.run_requests
            sensor_runs.record(instance, request, failed=True)
            failed = tick(instance, first.cursor)  # gives the notification back after its back-off
            assert not failed.run_requests and json.loads(failed.cursor)["inflight"] == {}
            retry, deadline = failed, clock.monotonic() + 120
            while not retry.run_requests and clock.monotonic() < deadline:
                retry = tick(instance, retry.cursor)
            (again,) = retry.run_requests
            assert again.run_key == request.run_key + "-retry1"
            assert again.run_config == request.run_config
            sensor_runs.record(instance, again)
            done = tick(instance, retry.cursor)
            assert not done.run_requests and json.loads(done.cursor)["done"] == ["n1"]
            assert _visible(sqs) == []  # deleted once the retry succeeded
    finally:
        server.stop()
