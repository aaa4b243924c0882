"""The ORDER_CHANGE inbox: a notification leaves the queue only after the run that consumes it succeeded."""

import json
from datetime import UTC, date, datetime, timedelta

from sage_amazon.orders.inbox import (
    BACKOFF_SECONDS,
    VISIBILITY_SECONDS,
    Inbox,
    partition_day,
)

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FIRST = date(2026, 1, 1)


class Msg:
    def __init__(self, body, handle):
        self.body, self.receipt_handle = body, handle


def change(nid, oid, purchase="2026-11-20T10:00:00Z", status="Unshipped"):
    return json.dumps({"NotificationType": "ORDER_CHANGE", "EventTime": "2026-11-20T10:05:00Z",
                       "Payload": {"OrderChangeNotification": {
                           "AmazonOrderId": oid, "OrderChangeType": "OrderStatusChange",
                           "Summary": {"OrderStatus": status, "PurchaseDate": purchase,
                                       "MarketplaceId": "ATVPDKIKX0DER", "FulfillmentType": "AFN"}}},
                       "NotificationMetadata": {"NotificationId": nid}})


def other(kind, report_type=None):
    doc = {"NotificationType": kind, "NotificationMetadata": {"NotificationId": f"{kind}-1"}}
    if report_type:
        doc["payload"] = {"reportProcessingFinishedNotification": {"reportType": report_type,
                                                                   "processingStatus": "DONE"}}
    return json.dumps(doc)


def day_of(parsed):
    return partition_day(parsed.purchase_day, date(2026, 11, 22), FIRST)


def test_order_changes_are_batched_by_purchase_day_and_anything_else_on_the_orders_queue_is_deleted():
    inbox = Inbox()
    act, taken = inbox.take([
        Msg(change("n1", "111-1"), "h1"), Msg(change("n1", "111-1"), "h1b"),  # a duplicate delivery
        Msg(change("n2", "111-2", purchase="2026-11-21T23:59:00Z"), "h2"),
        Msg(other("FBA_INVENTORY_AVAILABILITY_CHANGES"), "h3"), Msg(other("FBA_INVENTORY_AVAILABILITY_CHANGES"), "h4"),
        Msg(other("REPORT_PROCESSING_FINISHED", "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"), "h5"),
        Msg(other("REPORT_PROCESSING_FINISHED", "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"), "h6"),
        Msg("not json", "h7")], day_of)
    assert taken == 3
    # every other type has its own queue (a subscription left here is moved by `amazon connect`): deleted, so
    # they never clog the orders queue; nothing is hidden for another sensor
    assert act.delete == ["h3", "h4", "h5", "h6", "h7"] and act.hide == {}
    assert "deleted 2 notification(s) the orders flow does not consume: REPORT_PROCESSING_FINISHED" in inbox.report()
    batches = inbox.batches(T0)
    assert [(b.day, b.order_ids, b.handles) for b in batches] == [
        ("2026-11-20", ["111-1"], ["h1", "h1b"]), ("2026-11-21", ["111-2"], ["h2"])]
    # nothing is deleted before its run succeeded
    assert not set(act.delete) & {"h1", "h1b", "h2"}


def test_a_notification_is_deleted_after_its_run_succeeds_and_given_back_with_a_backoff_when_it_fails():
    inbox = Inbox()
    inbox.take([Msg(change("n1", "111-1"), "h1"), Msg(change("n2", "111-2", purchase="2026-11-21T08:00:00Z"), "h2")],
               day_of)
    ok, bad = inbox.batches(T0)
    status = {ok.key: "STARTED", bad.key: "QUEUED"}
    # waiting or running: nothing deleted; hidden again once a good part of the visibility timeout passed
    act = Inbox(inbox.to_cursor()).settle(status.get, T0 + timedelta(seconds=30))
    assert act.delete == [] and act.hide == {}
    inbox = Inbox(json.loads(json.dumps(inbox.to_cursor())))  # the cursor survives a round trip
    act = inbox.settle(status.get, T0 + timedelta(seconds=150))
    assert act.hide == {VISIBILITY_SECONDS: ["h1", "h2"]}
    # a redelivery of a notification still in flight joins its batch; it does not start another run
    act, taken = inbox.take([Msg(change("n1", "111-1"), "h1-again")], day_of)
    assert taken == 0 and inbox.batches(T0) == []
    status = {ok.key: "SUCCESS", bad.key: "FAILURE"}
    act = inbox.settle(status.get, T0 + timedelta(seconds=200))
    assert act.delete == ["h1", "h1-again"]
    assert act.hide == {BACKOFF_SECONDS[0]: ["h2"]} and "attempt 1" in act.log[0]
    assert inbox.inflight == {}
    # the failed one comes back: a new run key (Dagster would refuse the old one), a longer back-off next time
    inbox.take([Msg(change("n2", "111-2", purchase="2026-11-21T08:00:00Z"), "h2-back")], day_of)
    (retry,) = inbox.batches(T0 + timedelta(seconds=300))
    assert retry.key == bad.key + "-retry1" and retry.order_ids == ["111-2"]
    act = inbox.settle({retry.key: "FAILURE"}.get, T0 + timedelta(seconds=400))
    assert act.hide == {BACKOFF_SECONDS[1]: ["h2-back"]}
    # the consumed notification delivered once more: deleted at once, no run
    act, taken = inbox.take([Msg(change("n1", "111-1"), "h1-late")], day_of)
    assert act.delete == ["h1-late"] and taken == 0 and inbox.batches(T0) == []


def test_a_requested_run_that_never_appears_gives_its_notifications_back():
    inbox = Inbox()
    inbox.take([Msg(change("n1", "111-1"), "h1")], day_of)
    (batch,) = inbox.batches(T0)
    assert inbox.settle(lambda key: None, T0 + timedelta(seconds=60)).hide == {}
    act = inbox.settle(lambda key: None, T0 + timedelta(hours=1))
    assert act.hide == {BACKOFF_SECONDS[0]: ["h1"]} and "never started" in act.log[0]
