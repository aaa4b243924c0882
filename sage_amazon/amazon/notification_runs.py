"""Notifications consumed by runs: a notification leaves its queue only once the run that consumes it succeeded.

The pure state machine every queue-reading sensor shares (the orders inbox, sage_amazon/orders/inbox.py; the
FBA inventory sensor). A requested run's notifications form a batch, keyed by the run key (also a run tag: the
sensor looks the run's status up by it). Until the run succeeded the notifications stay invisible on the queue:
their visibility timeout is extended while the run is queued or running, and set to a growing back-off when it
failed (or never appeared), so the queue hands them out again and a new run (a new attempt in its run key) takes
them. A run succeeds when it consumed its notifications, its items posted or dead-lettered, so success deletes
them. A duplicate of a notification whose run succeeded is deleted at once; a duplicate of one still in flight
joins its batch (its newest receipt handle is the one SQS honours for deleting).

The cursor is JSON: {"inflight": {run key: batch}, "attempts": {notification id: failed runs},
"done": [notification ids whose run succeeded], ...the sensor's own keys}.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

VISIBILITY_SECONDS = 300  # a received notification stays hidden this long, extended while its run lives
EXTEND_AFTER_SECONDS = 120  # extend the hiding when this much of it has passed
LOST_AFTER_SECONDS = 900  # a requested run that never appeared: its messages come back by themselves
BACKOFF_SECONDS = (30, 60, 120, 300, 900, 1800, 3600)  # after a failed run, per attempt
DONE_KEEP = 2000
ATTEMPTS_KEEP = 2000

SUCCESS, FAILED = "SUCCESS", ("FAILURE", "CANCELED")
_OWN_KEYS = ("inflight", "attempts", "done", "seen", "delete", "release")


@dataclass
class Actions:
    """What the sensor must do on the queue and say in its log."""

    delete: list[str] = field(default_factory=list)  # receipt handles
    hide: dict[int, list[str]] = field(default_factory=dict)  # visibility seconds -> receipt handles
    log: list[str] = field(default_factory=list)

    def hide_for(self, seconds: int, handles: Iterable[str]) -> None:
        self.hide.setdefault(int(seconds), []).extend(handles)


@dataclass
class Batch:
    """The notifications one requested run consumes."""

    key: str  # the run key, also the run's tag: the sensor finds the run's status by it
    notification_ids: list[str]
    handles: list[str]
    requested_at: str
    extended_at: str

    def to_json(self) -> dict:
        return {"nids": self.notification_ids, "handles": self.handles, "at": self.requested_at,
                "ext": self.extended_at}

    @classmethod
    def from_json(cls, key: str, doc: dict) -> Batch:
        return cls(key, list(doc["nids"]), list(doc["handles"]), doc["at"], doc.get("ext") or doc["at"])

    def describe(self) -> str:
        return f"{len(self.notification_ids)} notification(s)"


class InFlight:
    """The batches of requested runs, the failed attempts per notification and the notifications done."""

    batch_class: ClassVar[type[Batch]] = Batch

    def __init__(self, cursor: dict | None = None):
        cursor = dict(cursor or {})
        self.inflight: dict[str, Batch] = {k: self.batch_class.from_json(k, v)
                                           for k, v in (cursor.get("inflight") or {}).items()}
        self.attempts: dict[str, int] = dict(cursor.get("attempts") or {})
        self.done: list[str] = list(cursor.get("done") or cursor.get("seen") or [])
        self._done = set(self.done)
        self.extra = {k: v for k, v in cursor.items() if k not in _OWN_KEYS}

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
                attempt = self.attempt(batch.notification_ids) + 1
                for nid in batch.notification_ids:
                    self.attempts[nid] = attempt
                wait = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS)) - 1]
                act.hide_for(wait, batch.handles)
                act.log.append(f"run {key} {'failed' if status else 'never started'} (attempt {attempt}): "
                               f"{batch.describe()} come back in {wait}s")
                del self.inflight[key]
            elif (now - datetime.fromisoformat(batch.extended_at)).total_seconds() >= EXTEND_AFTER_SECONDS:
                act.hide_for(VISIBILITY_SECONDS, batch.handles)
                batch.extended_at = now.isoformat()
        return act

    def known(self, nid: str, handle: str, act: Actions) -> bool:
        """True when the notification is already handled: done (its message deleted) or in flight (its message
        joins that run's batch). False: a new one, for a new run."""
        if nid in self._done:  # its run succeeded already: a duplicate or a late redelivery
            act.delete.append(handle)
            return True
        batch = next((b for b in self.inflight.values() if nid in b.notification_ids), None)
        if batch is not None:  # its run is still waiting or running: deleted with the others
            batch.handles.append(handle)
            return True
        return False

    def take_groups(self, messages: Iterable, group_of: Callable[[str], str | None],
                    flow: str) -> tuple[dict[str, tuple[dict[str, str], list[str]]], Actions]:
        """Sort received messages into the groups of new runs: {group: ({notification id: body}, receipt handles)}.
        `group_of(body)` names a message's group (its run), None for one the flow does not consume: deleted at once,
        counted in a log line. A notification already done or in flight is handled as `known` says; a duplicate
        within the messages joins its group."""
        from sage_amazon.amazon.queues import notification_id, notification_type

        act = Actions()
        groups: dict[str, tuple[dict[str, str], list[str]]] = {}
        skipped: dict[str, int] = {}
        for message in messages:
            group = group_of(message.body)
            if group is None:
                kind = notification_type(message.body)
                skipped[kind] = skipped.get(kind, 0) + 1
                act.delete.append(message.receipt_handle)
                continue
            nid = notification_id(message.body) or message.message_id
            bodies, handles = groups.setdefault(group, ({}, []))
            if nid in bodies:
                handles.append(message.receipt_handle)
            elif not self.known(nid, message.receipt_handle, act):
                bodies[nid] = message.body
                handles.append(message.receipt_handle)
        act.log += [f"deleted {n} notification(s) the {flow} flow does not consume: {kind}"
                    for kind, n in sorted(skipped.items())]
        return {g: v for g, v in groups.items() if v[0]}, act

    def attempt(self, nids: Iterable[str]) -> int:
        """The failed runs so far of these notifications (the highest)."""
        return max((self.attempts.get(n, 0) for n in nids), default=0)

    def add(self, prefix: str, nids: Iterable[str], handles: Iterable[str], now: datetime,
            **fields) -> Batch | None:
        """A new batch for a run to request, keyed by `prefix`, its notifications and their failed attempts (the
        same notifications give the same key: Dagster dedupes a repeated request). None when that run is in
        flight already (the handles join it)."""
        ids = sorted(set(nids))
        attempt = self.attempt(ids)
        digest = hashlib.sha256(",".join(ids).encode()).hexdigest()[:16]
        key = f"{prefix}-{digest}" + (f"-retry{attempt}" if attempt else "")
        if key in self.inflight:
            self.inflight[key].handles.extend(handles)
            return None
        batch = self.batch_class(key=key, notification_ids=ids, handles=list(handles), requested_at=now.isoformat(),
                                 extended_at=now.isoformat(), **fields)
        self.inflight[key] = batch
        return batch
