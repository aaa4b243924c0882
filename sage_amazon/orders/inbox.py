"""The ORDER_CHANGE inbox: what the orders sensor does with each SQS message, as a pure state machine.

The orders flow reads its own queue (sage_amazon.amazon.queues): ORDER_CHANGE only. A notification is deleted
only once the run that consumes it succeeded (the load posts the order or dead-letters it, and the run succeeds
either way): sage_amazon.amazon.notification_runs, which the FBA inventory sensor shares. Order changes are
batched per purchase day (the daily partition), one run each. Anything else on the queue (unreadable, another
type whose subscription still points here) is deleted with a log line: every other type has its own queue, and
`sage-amazon amazon connect` moves a subscription left on this one.

The cursor is notification_runs' JSON (inflight, attempts, done) plus the sensor's own keys (shipments).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sage_amazon.amazon import notification_runs
from sage_amazon.amazon.notification_runs import (  # noqa: F401 - the orders sensor's names for them
    BACKOFF_SECONDS,
    VISIBILITY_SECONDS,
    Actions,
    InFlight,
)
from sage_amazon.amazon.queues import notification_type


@dataclass
class Batch(notification_runs.Batch):
    """The notifications one requested run consumes: the changed orders of one purchase day."""

    day: str = ""
    order_ids: list[str] = field(default_factory=list)
    marketplaces: dict[str, str] = field(default_factory=dict)  # order -> its MarketplaceId (its region's host)

    def to_json(self) -> dict:
        return {**super().to_json(), "day": self.day, "orders": self.order_ids,
                **({"mps": self.marketplaces} if self.marketplaces else {})}

    @classmethod
    def from_json(cls, key: str, doc: dict) -> Batch:
        base = notification_runs.Batch.from_json(key, doc)
        return cls(base.key, base.notification_ids, base.handles, base.requested_at, base.extended_at,
                   doc["day"], list(doc["orders"]), dict(doc.get("mps") or {}))

    def describe(self) -> str:
        return f"{len(self.order_ids)} order(s) of {self.day}"


def consumer(body: str) -> tuple[str | None, object]:
    """(the flow that consumes a message on the orders queue, the parsed ORDER_CHANGE or ignore reason)."""
    from sage_amazon.amazon.notifications import OrderChange, parse_message

    parsed = parse_message(body)
    return ("orders", parsed) if isinstance(parsed, OrderChange) else (None, parsed)


class Inbox(InFlight):
    batch_class = Batch

    def __init__(self, cursor: dict | None = None):
        super().__init__(cursor)
        self.shipped = False  # an FBA order shipped: the sensor owes a shipments run
        self.unconsumed: dict[str, int] = {}  # notification type -> deleted without a consumer
        self._pending: dict[str, tuple[set[str], list[str], dict[str, str]]] = {}
        self._marketplaces: dict[str, str] = {}  # order -> MarketplaceId named by its ORDER_CHANGE

    # ------------------------------------------------------------------ new messages

    def take(self, messages: Iterable, day_of: Callable[[object], str | None]) -> tuple[Actions, int]:
        """Sort received messages: returns (actions, ORDER_CHANGE messages taken into new batches)."""
        act = Actions()
        unconsumed = self.unconsumed
        taken = 0
        for message in messages:
            flow, parsed = consumer(message.body)
            if flow is None:
                kind = notification_type(message.body)
                unconsumed[kind] = unconsumed.get(kind, 0) + 1
                act.delete.append(message.receipt_handle)
                continue
            if self.known(parsed.notification_id, message.receipt_handle, act):
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
            nids.setdefault(parsed.notification_id, parsed.amazon_order_id)
            taken += 1
        return act, taken

    def report(self) -> list[str]:
        """Log lines for what was deleted unconsumed since the last call."""
        lines = [f"deleted {n} notification(s) the orders flow does not consume: {kind}"
                 for kind, n in sorted(self.unconsumed.items())]
        self.unconsumed.clear()
        return lines

    def batches(self, now: datetime) -> list[Batch]:
        """The runs to request for the messages taken since the last call (one per purchase day)."""
        out = []
        for day, (orders, handles, nids) in sorted(self._pending.items()):
            batch = self.add(f"order-change-{day}", nids, handles, now, day=day, order_ids=sorted(orders),
                             marketplaces={o: self._marketplaces[o] for o in sorted(orders) if o in self._marketplaces})
            if batch is not None:  # None: the same notifications again (handles changed): kept in one batch
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
