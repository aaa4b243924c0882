"""The business outcome of one `sage-amazon run`, read from the warehouse: what changed since the run began.

Per flow of the posting ledger: records posted, refused by Sage (ledger 'failed', Sage's reason), left in
flight ('sending': asked to Sage by the next run); per flow of the dead letters: records dead-lettered
or put on hold during the run, with their most frequent reasons. No dagster here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

# how the ledger's and dead letters' flows read in the summary
LABELS = {
    "orders": "sales orders",
    "order_closures": "order closures",
    "order_shipments": "order shipments",
    "settlement_journal": "settlement journals",
    "settlement_credit_note": "settlement credit notes",
    "settlement": "settlements",
    "mfn_shipments": "MFN shipment confirmations",
    "fba_adjustments": "FBA stock adjustments",
    "mfn_quantities": "MFN quantities",
}


@dataclass
class FlowOutcome:
    flow: str
    posted: int = 0
    refused: int = 0
    not_sent: int = 0  # stopped before it was sent (Sage unavailable, a stop request): the next run sends it
    in_flight: int = 0
    dead_lettered: int = 0
    reasons: list[tuple[str, int]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LABELS.get(self.flow, self.flow)


@dataclass
class Outcome:
    flows: list[FlowOutcome] = field(default_factory=list)
    unread: str = ""  # why the numbers could not be read (warehouse busy), else ""

    @property
    def attention(self) -> bool:
        """Something needs a person: dead letters, holds or refusals during the run."""
        return any(f.refused or f.dead_lettered for f in self.flows)


def read(warehouse_path: str | Path, since: datetime, lock_timeout: float = 15.0) -> Outcome:
    from sage_amazon.warehouse import Warehouse, table_exists

    outcome = Outcome()
    by_flow: dict[str, FlowOutcome] = {}
    path = Path(warehouse_path)
    if not path.exists():
        return outcome
    try:
        with Warehouse(path, lock_timeout=lock_timeout).read() as con:
            letters = table_exists(con, "ops.dead_letters")
            if table_exists(con, "ops.posting_ledger"):
                for flow, status, n, reasons in con.execute(
                    # a refusal that became a dead letter counts once, as a dead letter (with Sage's reason)
                    f"""SELECT flow, status, count(*), list(message) FILTER (WHERE message IS NOT NULL)
                       FROM ops.posting_ledger l WHERE updated_at >= ? {_NOT_LETTERED if letters else ""}
                       GROUP BY flow, status""", [since]
                ).fetchall():
                    f = by_flow.setdefault(flow, FlowOutcome(flow))
                    if status == "posted":
                        f.posted += int(n)
                    elif status == "failed":
                        refusals = [m for m in reasons or [] if not str(m).startswith("not sent")]
                        f.not_sent += len(reasons or []) - len(refusals)
                        f.refused += int(n) - (len(reasons or []) - len(refusals))
                        f.reasons.extend(_top(refusals))
                    elif status == "sending":
                        f.in_flight += int(n)
            if letters:
                for flow, reason, n in con.execute(
                    """SELECT flow, reason, count(*) AS n FROM ops.dead_letters
                       WHERE status = 'open' AND last_seen >= ? GROUP BY flow, reason ORDER BY n DESC, reason""",
                    [since],
                ).fetchall():
                    f = by_flow.setdefault(flow, FlowOutcome(flow))
                    f.dead_lettered += int(n)
                    if len(f.reasons) < 6:
                        f.reasons.append((str(reason), int(n)))
    except Exception as exc:  # noqa: BLE001 - the summary says it could not count, it never fails the command
        from sage_amazon.errors import one_line

        outcome.unread = one_line(exc)
    outcome.flows = sorted(by_flow.values(), key=lambda f: (list(LABELS).index(f.flow) if f.flow in LABELS
                                                           else len(LABELS), f.flow))
    return outcome


_NOT_LETTERED = """AND NOT (status = 'failed' AND EXISTS (SELECT 1 FROM ops.dead_letters d WHERE d.status = 'open'
                      AND d.record_key = l.record_key AND d.flow IN (l.flow, 'orders', 'settlement')))"""


def _top(messages: list[str], n: int = 3) -> list[tuple[str, int]]:
    from collections import Counter

    return Counter(" ".join(str(m).split())[:160] for m in messages).most_common(n)
