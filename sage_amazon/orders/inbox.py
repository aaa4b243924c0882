"""The ORDER_CHANGE inbox: what the orders sensor does with each SQS message, as a pure state machine.

A notification is deleted only once the run that consumes it succeeded (the load posts the order or
dead-letters it, and the run succeeds either way). Until then it stays invisible on the queue: its
visibility timeout is extended while its run is queued or running, and set to a growing back-off
when the run failed, so the queue hands it out again and a new run (a new attempt in its run key)
takes it. A duplicate of a notification whose run succeeded is deleted at once; a duplicate of one
still in flight joins its batch (its newest receipt handle is the one SQS honours for deleting).

Other notification types: those another flow consumes (settlement REPORT_PROCESSING_FINISHED, read by
the settlement sensor) are handed back at once; FBA_INVENTORY_AVAILABILITY_CHANGES (the inventory sensor's) and
TRANSACTION_UPDATE (the returns sensor's) are handed back after INVENTORY_HANDOFF_SECONDS, so a stream of them never stands between this sensor and the
ORDER_CHANGE messages behind them; those nothing consumes are deleted with a log line.

The cursor is JSON: {"inflight": {run key: batch}, "attempts": {notification id: failed runs},
"done": [notification ids whose run succeeded], ...}. The sensor supplies run statuses by run key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace

VISIBILITY_SECONDS = 300  # a received ORDER_CHANGE stays hidden this long, extended while its run lives
EXTEND_AFTER_SECONDS = 120  # extend the hiding when this much of it has passed
LOST_AFTER_SECONDS = 900  # a requested run that never appeared: its messages come back by themselves
BACKOFF_SECONDS = (30, 60, 120, 300, 900, 1800, 3600)  # after a failed run, per attempt
INVENTORY_HANDOFF_SECONDS = 30  # FBA inventory notifications: visible again for the inventory sensor after this
DONE_KEEP = 2000
ATTEMPTS_KEEP = 2000

SUCCESS, FAILED = "SUCCESS", ("FAILURE", "CANCELED")


@dataclass
class Actions:
    """What the sensor must do on the queue and say in its log."""

    delete: list[str] = field(default_factory=list)  # receipt handles
    hide: dict[int, list[str]] = field(default_factory=dict)  # visibility seconds -> receipt handles
    release: list[str] = field(default_factory=list)  # visible again at once (another consumer's)
    log: list[str] = field(default_factory=list)

    def hide_for(self, seconds: int, handles: Iterable[str]) -> None:
        self.hide.setdefault(int(seconds), []).extend(handles)


@dataclass
class Batch:
    """The notifications one requested run consumes: the changed orders of one purchase day."""

    key: str  # the run key, also the run's tag: the sensor finds the run's status by it
    day: str
    order_ids: list[str]
    notification_ids: list[str]
    handles: list[str]
    requested_at: str
    extended_at: str
    marketplaces: dict[str, str] = field(default_factory=dict)  # order -> its MarketplaceId (its region's host)

    def to_json(self) -> dict:
        return {"day": self.day, "orders": self.order_ids, "nids": self.notification_ids,
                "handles": self.handles, "at": self.requested_at, "ext": self.extended_at,
                **({"mps": self.marketplaces} if self.marketplaces else {})}

    @classmethod
    def from_json(cls, key: str, doc: dict) -> Batch:
        return cls(key, doc["day"], list(doc["orders"]), list(doc["nids"]), list(doc["handles"]), doc["at"],
                   doc.get("ext") or doc["at"], dict(doc.get("mps") or {}))


def consumer(body: str) -> tuple[str | None, object]:
    """(the flow that consumes a message, the parsed ORDER_CHANGE or ignore reason). None: nobody does."""
    from sage_amazon.amazon.notifications import Ignored, OrderChange, parse_message
    from sage_amazon.ledger import intake

    parsed = parse_message(body)
    if isinstance(parsed, OrderChange):
        return "orders", parsed
    if parsed.other_type and _kind(body) == "FBA_INVENTORY_AVAILABILITY_CHANGES":
        return "inventory", parsed  # sensors/inventory.py
    if parsed.other_type and _kind(body) == "TRANSACTION_UPDATE":
        return "returns", parsed  # sensors/returns.py
    if parsed.other_type and intake.settlement_documents([SimpleNamespace(body=body, receipt_handle="")])[1]:
        return "settlements", parsed
    assert isinstance(parsed, Ignored)
    return None, parsed


def _kind(body: str) -> str:
    import json

    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("Message"), str):
            doc = json.loads(doc["Message"])
        kind = doc.get("NotificationType") or doc.get("notificationType") if isinstance(doc, dict) else None
    except (ValueError, TypeError):
        kind = None
    return str(kind or "unreadable")


class Inbox:
    def __init__(self, cursor: dict | None = None):
        cursor = dict(cursor or {})
        self.inflight: dict[str, Batch] = {k: Batch.from_json(k, v) for k, v in (cursor.get("inflight") or {}).items()}
        self.attempts: dict[str, int] = dict(cursor.get("attempts") or {})
        self.done: list[str] = list(cursor.get("done") or cursor.get("seen") or [])
        self._done = set(self.done)
        self.extra = {k: v for k, v in cursor.items() if k not in ("inflight", "attempts", "done", "seen", "delete",
                                                                    "release")}
        self.new: list[Batch] = []
        self.shipped = False  # an FBA order shipped: the sensor owes a shipments run
        self.unconsumed: dict[str, int] = {}  # notification type -> deleted without a consumer
        self._pending: dict[str, dict[str, tuple[set[str], list[str], dict[str, str]]]] = {}
        self._marketplaces: dict[str, str] = {}  # order -> MarketplaceId named by its ORDER_CHANGE

    # ------------------------------------------------------------------ cursor

    def to_cursor(self) -> dict:
        by_nid = {nid for b in self.inflight.values() for nid in b.notification_ids}
        attempts = {k: v for k, v in self.attempts.items() if k in by_nid or v}
        attempts = dict(list(attempts.items())[-ATTEMPTS_KEEP:])
        return {**self.extra, "inflight": {k: b.to_json() for k, b in self.inflight.items()},
                "attempts": attempts, "done": self.done[-DONE_KEEP:]}

    def _mark_done(self, nids: Iterable[str]) -> None:
        for nid in nids:
            if nid not in self._done:
                self._done.add(nid)
                self.done.append(nid)
            self.attempts.pop(nid, None)
        if len(self.done) > DONE_KEEP * 2:
            self.done = self.done[-DONE_KEEP:]
            self._done = set(self.done)

    # ------------------------------------------------------------------ runs already requested

    def settle(self, status_of: Callable[[str], str | None], now: datetime) -> Actions:
        """Delete the notifications of succeeded runs, give failed ones back with a back-off, keep the
        rest hidden while their runs wait or run."""
        act = Actions()
        for key, batch in list(self.inflight.items()):
            status = status_of(key)
            age = (now - datetime.fromisoformat(batch.requested_at)).total_seconds()
            if status == SUCCESS:
                act.delete.extend(batch.handles)
                self._mark_done(batch.notification_ids)
                del self.inflight[key]
            elif status in FAILED or (status is None and age > LOST_AFTER_SECONDS):
                attempt = max((self.attempts.get(n, 0) for n in batch.notification_ids), default=0) + 1
                for nid in batch.notification_ids:
                    self.attempts[nid] = attempt
                wait = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS)) - 1]
                act.hide_for(wait, batch.handles)
                act.log.append(f"run {key} {'failed' if status else 'never started'} (attempt {attempt}): "
                               f"{len(batch.order_ids)} order(s) of {batch.day} come back in {wait}s")
                del self.inflight[key]
            elif (now - datetime.fromisoformat(batch.extended_at)).total_seconds() >= EXTEND_AFTER_SECONDS:
                act.hide_for(VISIBILITY_SECONDS, batch.handles)
                batch.extended_at = now.isoformat()
        return act

    # ------------------------------------------------------------------ new messages

    def take(self, messages: Iterable, day_of: Callable[[object], str | None]) -> tuple[Actions, int]:
        """Sort received messages: returns (actions, ORDER_CHANGE messages taken into new batches)."""
        act = Actions()
        nid_batch = {nid: b for b in self.inflight.values() for nid in b.notification_ids}
        unconsumed = self.unconsumed
        taken = 0
        for message in messages:
            flow, parsed = consumer(message.body)
            if flow == "settlements":
                act.release.append(message.receipt_handle)
                continue
            if flow in ("inventory", "returns"):  # sensors/inventory.py, sensors/returns.py
                act.hide_for(INVENTORY_HANDOFF_SECONDS, [message.receipt_handle])
                continue
            if flow is None:
                kind = _kind(message.body)
                unconsumed[kind] = unconsumed.get(kind, 0) + 1
                act.delete.append(message.receipt_handle)
                continue
            nid = parsed.notification_id
            if nid in self._done:  # its run succeeded already: a duplicate or a late redelivery
                act.delete.append(message.receipt_handle)
                continue
            if nid in nid_batch:  # its run is still waiting or running: deleted with the others
                nid_batch[nid].handles.append(message.receipt_handle)
                continue
            if parsed.order_status in ("SHIPPED", "PARTIALLY_SHIPPED") and parsed.fulfillment_type != "MFN":
                self.shipped = True
            day = day_of(parsed)
            if day is None:
                unconsumed["ORDER_CHANGE outside the partitions"] = unconsumed.get(
                    "ORDER_CHANGE outside the partitions", 0) + 1
                act.delete.append(message.receipt_handle)
                continue
            orders, handles, nids = self._pending.setdefault(day, (set(), [], {}))
            orders.add(parsed.amazon_order_id)
            if parsed.marketplace_id:
                self._marketplaces[parsed.amazon_order_id] = parsed.marketplace_id
            handles.append(message.receipt_handle)
            nids.setdefault(nid, parsed.amazon_order_id)
            taken += 1
        return act, taken

    def report(self) -> list[str]:
        """Log lines for what was deleted unconsumed since the last call."""
        lines = [f"deleted {n} notification(s) nothing consumes: {kind}" for kind, n in sorted(self.unconsumed.items())]
        self.unconsumed.clear()
        return lines

    def batches(self, now: datetime) -> list[Batch]:
        """The runs to request for the messages taken since the last call (one per purchase day)."""
        out = []
        for day, (orders, handles, nids) in sorted(self._pending.items()):
            ids = sorted(nids)
            attempt = max((self.attempts.get(n, 0) for n in ids), default=0)
            digest = hashlib.sha256(",".join(ids).encode()).hexdigest()[:16]
            key = f"order-change-{day}-{digest}" + (f"-retry{attempt}" if attempt else "")
            batch = Batch(key, day, sorted(orders), ids, list(handles), now.isoformat(), now.isoformat(),
                          {o: self._marketplaces[o] for o in sorted(orders) if o in self._marketplaces})
            if key in self.inflight:  # the same notifications again (handles changed): keep one batch
                self.inflight[key].handles.extend(handles)
                continue
            self.inflight[key] = batch
            out.append(batch)
        self._pending.clear()
        self._marketplaces.clear()
        return out


def partition_day(purchase_day: date | None, today: date, first: date) -> str | None:
    """The daily partition of an order (its purchase day, UTC); today when the notification has none."""
    day = purchase_day or today
    if day < first or day > today:
        return None
    return day.isoformat()
