"""What was sent to Sage, so every write happens once in effect.

Protocol for a load: `start` (status 'sending', attempts + 1) is committed BEFORE the call to Sage;
then `posted` with Sage's number, or `failed` with the reason. A record found in 'sending' on the
next run had an unknown outcome (crash, lost reply): the flow must ask Sage by the record's business
reference and adopt what it finds before sending again.

The ledger belongs to one destination (`bind`): the ERP, its URL or server, the X3 folder and pool or the
Sage 500 database and company (never a user or password). A data dir pointed at another destination
(a test company then production, X3 then Sage 500, another folder) gets a fresh ledger for it: the rows
of the old destination are kept aside in `ops.posting_ledger_parked` (with what was posted line by line
for settlement reclasses) and come back if the data dir is pointed at it again. So every record is sent
to the new destination (each once), none is skipped as "already posted" somewhere else. The switch is
logged as a warning and recorded in `ops.posting_destinations` (`sage-amazon deadletter list` is not
involved: nothing failed).
"""

from __future__ import annotations

import hashlib
import json
import logging
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


# ---- the destination the ledger belongs to ---------------------------------------------------------

DESTINATIONS_DDL = """
CREATE TABLE IF NOT EXISTS ops.posting_destinations (
    destination_key VARCHAR PRIMARY KEY,
    description VARCHAR NOT NULL,        -- erp, url or server, folder/pool or database/company: no secret
    active BOOLEAN NOT NULL,
    first_bound TIMESTAMPTZ NOT NULL,
    last_bound TIMESTAMPTZ NOT NULL
)
"""
# what is kept aside per destination: the ledger, and the settlement journals' posted lines (ledger/reclass.py)
_PARKED = (("ops.posting_ledger", "ops.posting_ledger_parked"),
           ("ops.settlement_posted_lines", "ops.settlement_posted_lines_parked"))
log = logging.getLogger("sage_amazon.posting_ledger")


def destination_of(target: Any) -> dict[str, str]:
    """Who the target posts to, without user or password: erp, url, folder and pool (X3); server, database
    and company (Sage 500)."""
    out = {"erp": str(getattr(target, "name", "") or type(target).__name__)}
    soap, rest, engine = getattr(target, "soap", None), getattr(target, "rest", None), getattr(target, "engine", None)
    if soap is not None:
        out["url"] = str(getattr(soap, "url", ""))
        out["pool"] = str(getattr(soap, "pool", ""))
    if rest is not None and getattr(rest, "base", None):
        from urllib.parse import unquote

        out["folder"] = unquote(str(rest.base).rstrip("/").rsplit("/", 1)[-1])
    if engine is not None:
        url = engine.url
        out["server"] = f"{url.drivername}://{url.host or ''}{':' + str(url.port) if url.port else ''}"
        out["database"] = str(url.database or "")
        out["company"] = str(getattr(target, "company_id", "") or "")
    return out


def describe(destination: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in destination.items() if v)


def bind(con: duckdb.DuckDBPyConnection, target: Any) -> str:
    """Make the ledger the target's. Returns "" when it already was (or the data dir posted nowhere yet),
    else one line saying what changed. A ledger from before destinations were recorded belongs to the
    first destination bound."""
    ensure(con)
    con.execute(DESTINATIONS_DDL)
    destination = destination_of(target)
    text = describe(destination)
    key = hashlib.sha256(json.dumps(destination, sort_keys=True).encode()).hexdigest()[:16]
    active = con.execute("SELECT destination_key, description FROM ops.posting_destinations WHERE active").fetchone()
    if active is not None and active[0] == key:
        return ""
    if active is None:
        con.execute("INSERT INTO ops.posting_destinations VALUES (?, ?, true, now(), now()) "
                    "ON CONFLICT (destination_key) DO UPDATE SET active = true, last_bound = now()", [key, text])
        return ""
    con.execute("BEGIN TRANSACTION")
    try:
        moved = restored = 0
        for table, parked in _PARKED:
            if not _exists(con, table):
                continue
            con.execute(f"CREATE TABLE IF NOT EXISTS {parked} AS "
                        f"SELECT CAST(NULL AS VARCHAR) AS destination_key, * FROM {table} WHERE false")
            n = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            con.execute(f"INSERT INTO {parked} SELECT ?, * FROM {table}", [active[0]])
            con.execute(f"DELETE FROM {table}")
            back = con.execute(f"SELECT count(*) FROM {parked} WHERE destination_key = ?", [key]).fetchone()[0]
            con.execute(f"INSERT INTO {table} SELECT * EXCLUDE (destination_key) FROM {parked} "
                        f"WHERE destination_key = ?", [key])
            con.execute(f"DELETE FROM {parked} WHERE destination_key = ?", [key])
            if table == "ops.posting_ledger":
                moved, restored = int(n), int(back)
        con.execute("UPDATE ops.posting_destinations SET active = false WHERE active")
        con.execute("INSERT INTO ops.posting_destinations VALUES (?, ?, true, now(), now()) "
                    "ON CONFLICT (destination_key) DO UPDATE SET active = true, last_bound = now()", [key, text])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    line = (f"posting ledger: the Sage destination changed from [{active[1]}] to [{text}]: "
            + (f"its own ledger is back ({restored} record(s))" if restored else "a fresh ledger for it")
            + f"; the {moved} record(s) of the old destination are kept aside: every record posts to the new one")
    log.warning(line)
    return line


def active_destination(con: duckdb.DuckDBPyConnection) -> str:
    if not _exists(con, "ops.posting_destinations"):
        return ""
    row = con.execute("SELECT description FROM ops.posting_destinations WHERE active").fetchone()
    return row[0] if row else ""


def _exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
                            "AND table_name = ?", [schema, table]).fetchone()[0])


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
