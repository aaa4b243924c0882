"""What was sent to Sage, so every write happens once in effect.

Protocol for a load: `start` (status 'sending', attempts + 1) is committed BEFORE the call to Sage;
then `posted` with Sage's number, or `failed` with the reason. A record found in 'sending' on the
next run had an unknown outcome (crash, lost reply): the flow must ask Sage by the record's business
reference and adopt what it finds before sending again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, is_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

SENDING, POSTED, FAILED = "sending", "posted", "failed"

DDL = """
CREATE TABLE IF NOT EXISTS ops.posting_ledger (
    flow VARCHAR NOT NULL,
    record_key VARCHAR NOT NULL,
    sage_number VARCHAR,
    payload_hash VARCHAR NOT NULL,
    attempts INTEGER NOT NULL,
    status VARCHAR NOT NULL,            -- sending | posted | failed
    message VARCHAR,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (flow, record_key)
)
"""


@dataclass(frozen=True)
class LedgerEntry:
    flow: str
    record_key: str
    sage_number: str | None
    payload_hash: str
    attempts: int
    status: str
    message: str | None
    updated_at: datetime


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    con.execute(DDL)


def payload_hash(obj: Any) -> str:
    """A stable hash of what is sent (dataclasses, dicts, Decimals, dates)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        obj = asdict(obj)
    text = json.dumps(obj, default=str, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def get(con: duckdb.DuckDBPyConnection, flow: str, record_key: str) -> LedgerEntry | None:
    ensure(con)
    row = con.execute(
        """SELECT flow, record_key, sage_number, payload_hash, attempts, status, message, updated_at
           FROM ops.posting_ledger WHERE flow = ? AND record_key = ?""",
        [flow, record_key],
    ).fetchone()
    return LedgerEntry(*row) if row else None


def start(con: duckdb.DuckDBPyConnection, flow: str, record_key: str, payload_hash: str) -> LedgerEntry:
    """Record the attempt before sending. Keeps a known Sage number from an earlier attempt."""
    ensure(con)
    con.execute(
        """
        INSERT INTO ops.posting_ledger AS l
            (flow, record_key, sage_number, payload_hash, attempts, status, message, updated_at)
        VALUES (?, ?, NULL, ?, 1, 'sending', NULL, now())
        ON CONFLICT (flow, record_key) DO UPDATE SET
            payload_hash = excluded.payload_hash, attempts = l.attempts + 1,
            status = 'sending', message = NULL, updated_at = now()
        """,
        [flow, record_key, payload_hash],
    )
    entry = get(con, flow, record_key)
    assert entry is not None
    return entry


def posted(con: duckdb.DuckDBPyConnection, flow: str, record_key: str, sage_number: str) -> None:
    con.execute(
        """UPDATE ops.posting_ledger SET status = 'posted', sage_number = ?, message = NULL, updated_at = now()
           WHERE flow = ? AND record_key = ?""",
        [sage_number, flow, record_key],
    )


def failed(con: duckdb.DuckDBPyConnection, flow: str, record_key: str, message: str) -> None:
    con.execute(
        """UPDATE ops.posting_ledger SET status = 'failed', message = ?, updated_at = now()
           WHERE flow = ? AND record_key = ?""",
        [message, flow, record_key],
    )


def counts(con: duckdb.DuckDBPyConnection, flow: str) -> dict[str, int]:
    ensure(con)
    rows = con.execute(
        "SELECT status, count(*) FROM ops.posting_ledger WHERE flow = ? GROUP BY status", [flow]
    ).fetchall()
    return {status: int(n) for status, n in rows}
