"""Records that could not be processed: kept with their reason and payload until they succeed.

A dead letter is open until its record posts (the flow calls `resolve`). Load runs retry every record
not yet posted, so fixing a mapping and re-running (or `sage-amazon deadletter replay`) clears it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

# Dagster tag on every asset that writes a flow's dead letters (comma-separated flows), so that
# `sage-amazon deadletter replay` knows what to re-run.
FLOW_TAG = "sage_amazon/dead_letter_flow"

DDL = """
CREATE TABLE IF NOT EXISTS ops.dead_letters (
    flow VARCHAR NOT NULL,
    record_key VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    payload VARCHAR NOT NULL,
    status VARCHAR NOT NULL,            -- open | resolved
    attempts INTEGER NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    resolved_at TIMESTAMPTZ,
    PRIMARY KEY (flow, record_key)
)
"""


@dataclass(frozen=True)
class DeadLetter:
    flow: str
    record_key: str
    reason: str
    payload: str
    status: str
    attempts: int
    first_seen: datetime
    last_seen: datetime


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    con.execute(DDL)


def _payload_text(payload: Any) -> str:
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, default=str, sort_keys=True)


def record(con: duckdb.DuckDBPyConnection, flow: str, record_key: str, reason: str, payload: Any) -> None:
    """Open (or refresh) the dead letter of a record, keeping its first-seen time and counting attempts."""
    ensure(con)
    con.execute(
        """
        INSERT INTO ops.dead_letters AS d
            (flow, record_key, reason, payload, status, attempts, first_seen, last_seen, resolved_at)
        VALUES (?, ?, ?, ?, 'open', 1, now(), now(), NULL)
        ON CONFLICT (flow, record_key) DO UPDATE SET
            reason = excluded.reason, payload = excluded.payload, status = 'open',
            attempts = d.attempts + 1, last_seen = now(), resolved_at = NULL
        """,
        [flow, record_key, reason, _payload_text(payload)],
    )


def resolve(con: duckdb.DuckDBPyConnection, flow: str, record_key: str) -> bool:
    """Close the dead letter of a record that has now been processed. True if one was open."""
    ensure(con)
    row = con.execute(
        """UPDATE ops.dead_letters SET status = 'resolved', resolved_at = now()
           WHERE flow = ? AND record_key = ? AND status = 'open' RETURNING record_key""",
        [flow, record_key],
    ).fetchall()
    return bool(row)


def open_letters(
    con: duckdb.DuckDBPyConnection, flow: str | None = None, reason: str | None = None
) -> list[DeadLetter]:
    """Open dead letters, oldest first; `reason` matches as a case-insensitive substring."""
    ensure(con)
    sql = "SELECT flow, record_key, reason, payload, status, attempts, first_seen, last_seen FROM ops.dead_letters WHERE status = 'open'"
    params: list[Any] = []
    if flow:
        sql += " AND flow = ?"
        params.append(flow)
    if reason:
        sql += " AND reason ILIKE ?"
        params.append(f"%{reason}%")
    sql += " ORDER BY first_seen, flow, record_key"
    return [DeadLetter(*row) for row in con.execute(sql, params).fetchall()]


def summary(con: duckdb.DuckDBPyConnection, flow: str, top: int = 5) -> dict[str, Any]:
    """Open count and the most frequent reasons, for asset metadata."""
    ensure(con)
    total = con.execute(
        "SELECT count(*) FROM ops.dead_letters WHERE flow = ? AND status = 'open'", [flow]
    ).fetchone()[0]
    reasons = con.execute(
        """SELECT reason, count(*) AS n FROM ops.dead_letters WHERE flow = ? AND status = 'open'
           GROUP BY reason ORDER BY n DESC, reason LIMIT ?""",
        [flow, top],
    ).fetchall()
    return {"open": int(total), "top_reasons": [(r, int(n)) for r, n in reasons]}
