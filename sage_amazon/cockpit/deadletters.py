"""Open dead letters as the cockpit shows them, and the one way to replay them.

`marts.open_dead_letters` is a copy of the open rows of ops.dead_letters (flow, record, reason, attempts, first
and last seen) rebuilt by the cockpit asset, so the UI and a SQL client see the list without reading ops.
Replaying is `sage-amazon deadletter replay` (deadletter_cli): the UI's replay job runs that very command
(`replay_argv`) so there is one replay, with one report.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from sage_amazon import deadletters

if TYPE_CHECKING:
    import duckdb

TABLE = "marts.open_dead_letters"
COLUMNS = ("flow", "record_key", "reason", "attempts", "first_seen", "last_seen")


class UnknownFlow(ValueError):
    """A flow name no asset writes dead letters for and no dead letter names."""


def known_flows() -> tuple[str, ...]:
    """The flows that write dead letters (the assets' dead-letter tags; a test keeps both in step)."""
    from sage_amazon.amazon.shipment_confirmation import FLOW as MFN_SHIPMENTS
    from sage_amazon.inventory.adjust import FLOW as FBA_ADJUSTMENTS
    from sage_amazon.inventory.push import FLOW as MFN_QUANTITIES
    from sage_amazon.ledger.deferred import DEAD_LETTER_FLOW as DEFERRED
    from sage_amazon.ledger.posting import DEAD_LETTER_FLOW as SETTLEMENT
    from sage_amazon.listings import FLOW as LISTINGS
    from sage_amazon.mcf.deliveries import FLOW as MCF_DELIVERIES
    from sage_amazon.mcf.fulfil import FLOW as MCF_ORDERS
    from sage_amazon.orders.load import FLOW as ORDERS
    from sage_amazon.orders.load import SHIPMENT_FLOW as ORDER_SHIPMENTS
    from sage_amazon.returns.credit_notes import FLOW as REFUND_CREDIT_NOTES
    from sage_amazon.returns.restock import FLOW as RETURN_RECEIPTS

    return tuple(sorted({ORDERS, ORDER_SHIPMENTS, SETTLEMENT, MFN_SHIPMENTS, FBA_ADJUSTMENTS,
                         MFN_QUANTITIES, RETURN_RECEIPTS, REFUND_CREDIT_NOTES, DEFERRED, LISTINGS, MCF_ORDERS,
                         MCF_DELIVERIES}))


def flows(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The known flows and any other flow a dead letter names."""
    deadletters.ensure(con)
    recorded = {r[0] for r in con.execute("SELECT DISTINCT flow FROM ops.dead_letters").fetchall()}
    return sorted(set(known_flows()) | recorded)


def check_flow(con: duckdb.DuckDBPyConnection, flow: str | None) -> None:
    """An unknown flow is a mistake, not "no dead letters": raise UnknownFlow naming the flows there are."""
    if flow is None:
        return
    known = flows(con)
    if flow not in known:
        raise UnknownFlow(f"unknown flow {flow!r}; the flows are {', '.join(known)}")


def refresh(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rebuild marts.open_dead_letters from ops.dead_letters; the open count of every flow (0 included)."""
    deadletters.ensure(con)
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(f"""CREATE OR REPLACE TABLE {TABLE} AS
                    SELECT {', '.join(COLUMNS)} FROM ops.dead_letters WHERE status = 'open'
                    ORDER BY flow, first_seen, record_key""")
    return open_counts(con)


def open_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Open dead letters per flow, every known flow present (0 when none is open)."""
    deadletters.ensure(con)
    counts = dict.fromkeys(flows(con), 0)
    for flow, n in con.execute(
            "SELECT flow, count(*) FROM ops.dead_letters WHERE status = 'open' GROUP BY flow").fetchall():
        counts[flow] = int(n)
    return counts


def open_rows(con: duckdb.DuckDBPyConnection, limit: int = 500) -> list[dict]:
    """The open dead letters, per flow oldest first, as dicts of COLUMNS (the reason whole)."""
    return [dict(zip(COLUMNS, (d.flow, d.record_key, d.reason, d.attempts, d.first_seen, d.last_seen), strict=True))
            for d in sorted(deadletters.open_letters(con), key=lambda d: (d.flow, d.first_seen, d.record_key))[:limit]]


def replay_argv(flow: str | None, reason: str | None) -> list[str]:
    """The `sage-amazon deadletter replay` command line for these filters, with this interpreter."""
    argv = [sys.executable, "-m", "sage_amazon.cli", "deadletter", "replay"]
    if flow:
        argv += ["--flow", flow]
    if reason:
        argv += ["--reason", reason]
    return argv


def clock(con: duckdb.DuckDBPyConnection):
    """The warehouse's now(): the clock the posting ledger and the dead letters are stamped with."""
    return con.execute("SELECT now()").fetchone()[0]


def also_posted(con: duckdb.DuckDBPyConnection, since, replayed: list[deadletters.DeadLetter]) -> dict[str, list[str]]:
    """Per ledger flow, the records posted to Sage since `since` that were not among the replayed dead letters
    (a replay re-runs whole loads: other records waiting in them post too, and the operator is told)."""
    from sage_amazon import posting_ledger

    posting_ledger.ensure(con)
    # a dead letter's key is the ledger's key, or "<partition>:<ledger key>" (settlement journals, COGS...)
    mine = {d.record_key for d in replayed} | {d.record_key.split(":", 1)[1] for d in replayed if ":" in d.record_key}
    out: dict[str, list[str]] = {}
    for flow, key in con.execute(
            "SELECT flow, record_key FROM ops.posting_ledger WHERE status = ? AND updated_at >= ? ORDER BY flow, record_key",
            [posting_ledger.POSTED, since]).fetchall():
        if key not in mine:
            out.setdefault(flow, []).append(key)
    return out
