"""`sage-amazon settlement remove ID`: take back a settlement that was imported (or downloaded) by
mistake, as long as nothing of it reached Sage.

The posting ledger decides: a journal (`AMZ-<id>-<YYYYMM>`) or refund credit note of the settlement
that is posted, or whose outcome is unknown ('sending'), makes the removal refuse; such a settlement
is corrected in Sage (reverse the journal), never by deleting our record of it. Otherwise every
warehouse row of the settlement goes (each table with a settlement_id column in raw, staging and
marts), its failed ledger entries and open dead letters are closed, and its files are moved to
`<raw dir>/settlements/removed/` (kept, not deleted). The Dagster partition is removed by the CLI.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sage_amazon import deadletters, posting_ledger
from sage_amazon.ledger import intake
from sage_amazon.ledger.documents import FLOW as CREDIT_NOTE_FLOW
from sage_amazon.ledger.posting import DEAD_LETTER_FLOW
from sage_amazon.ledger.settlements import FLOW as JOURNAL_FLOW
from sage_amazon.returns.references import refund_reference, reversal_reference
from sage_amazon.warehouse import Warehouse, quote_ident, table_exists

SCHEMAS = ("raw", "staging", "marts")


class AlreadyPosted(RuntimeError):
    """Something of the settlement is in Sage (or may be): it cannot be removed."""


class UnknownSettlement(LookupError):
    """No such settlement in the warehouse or under the data dir."""


@dataclass
class Removal:
    settlement_id: str
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    ledger_entries: int = 0  # failed (never accepted) attempts forgotten
    dead_letters: int = 0  # open dead letters closed
    moved_to: Path | None = None


def _refund_references(con, settlement_id: str) -> list[str]:
    """The credit note references of the settlement's refunds (as ledger.documents.plan names them)."""
    if not table_exists(con, "raw.settlement_lines"):
        return []
    rows = con.execute(
        """SELECT DISTINCT coalesce(adjustment_id, order_id) FROM raw.settlement_lines
           WHERE settlement_id = ? AND transaction_type ILIKE '%refund%'""", [settlement_id]).fetchall()
    return [ref(r[0]) for r in rows if r[0] is not None for ref in (refund_reference, reversal_reference)]


def _ledger_keys(con, settlement_id: str) -> list[tuple[str, str]]:
    """(flow, record key) of every ledger entry that belongs to the settlement."""
    posting_ledger.ensure(con)
    keys = [(JOURNAL_FLOW, k) for (k,) in con.execute(
        "SELECT record_key FROM ops.posting_ledger WHERE flow = ? AND record_key LIKE ?",
        [JOURNAL_FLOW, f"AMZ-{settlement_id}-%"]).fetchall()]
    refs = _refund_references(con, settlement_id)
    if refs:
        keys += [(CREDIT_NOTE_FLOW, k) for (k,) in con.execute(
            f"SELECT record_key FROM ops.posting_ledger WHERE flow = ? AND record_key IN ({', '.join('?' * len(refs))})",
            [CREDIT_NOTE_FLOW, *refs]).fetchall()]
    return keys


def in_sage(con, settlement_id: str) -> list[posting_ledger.LedgerEntry]:
    """Ledger entries of the settlement that are posted or have an unknown outcome."""
    entries = [posting_ledger.get(con, flow, key) for flow, key in _ledger_keys(con, settlement_id)]
    return [e for e in entries if e is not None and e.status in (posting_ledger.POSTED, posting_ledger.SENDING)]


def _tables(con) -> list[str]:
    rows = con.execute(
        f"""SELECT c.table_schema, c.table_name FROM information_schema.columns c
            JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.column_name = 'settlement_id' AND t.table_type = 'BASE TABLE'
              AND c.table_schema IN ({', '.join('?' * len(SCHEMAS))})
            ORDER BY 1, 2""", list(SCHEMAS)).fetchall()
    return [f"{quote_ident(s)}.{quote_ident(t)}" for s, t in rows]


def _files(raw_dir: Path, settlement_id: str) -> list[Path]:
    from sage_amazon.amazon.settlement import raw_file_name

    folder = intake.settlements_dir(raw_dir)
    stem = raw_file_name(settlement_id).removesuffix(".txt")
    return sorted(p for p in folder.glob(f"{stem}.*") if p.is_file() and not p.name.endswith(".tmp"))


def remove(warehouse: Warehouse, raw_dir: Path, settlement_id: str, *, in_partitions: bool = False) -> Removal:
    """Remove a settlement not posted to Sage; AlreadyPosted if any of it is (or may be) in Sage."""
    from filelock import FileLock

    removal = Removal(settlement_id)
    folder = intake.settlements_dir(raw_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".intake.lock"), timeout=300), warehouse.write() as con:
        posted = in_sage(con, settlement_id)
        if posted:
            what = ", ".join(f"{e.record_key} ({'Sage ' + e.sage_number if e.sage_number else e.status})"
                             for e in posted)
            raise AlreadyPosted(f"settlement {settlement_id} is already in Sage: {what}; reverse it in Sage "
                                "instead (nothing was removed)")
        tables = _tables(con)
        files = _files(raw_dir, settlement_id)
        counts = {t: con.execute(f"SELECT count(*) FROM {t} WHERE settlement_id = ?", [settlement_id]).fetchone()[0]
                  for t in tables}
        if not any(counts.values()) and not files and not in_partitions:
            raise UnknownSettlement(f"no settlement {settlement_id} in the warehouse or under {folder}")
        con.execute("BEGIN")
        try:
            for table, n in counts.items():
                if n:
                    con.execute(f"DELETE FROM {table} WHERE settlement_id = ?", [settlement_id])
                    removal.rows[table] = int(n)
            for flow, key in _ledger_keys(con, settlement_id):
                removal.ledger_entries += len(con.execute(
                    "DELETE FROM ops.posting_ledger WHERE flow = ? AND record_key = ? AND status = ? RETURNING 1",
                    [flow, key, posting_ledger.FAILED]).fetchall())
            for letter in deadletters.open_letters(con, flow=DEAD_LETTER_FLOW):
                if letter.record_key.startswith(f"{settlement_id}:"):
                    removal.dead_letters += deadletters.resolve(con, DEAD_LETTER_FLOW, letter.record_key)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        if files:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            target = folder / "removed" / f"{settlement_id}-{stamp}"
            target.mkdir(parents=True, exist_ok=True)
            for path in files:
                shutil.move(str(path), str(target / path.name))
            removal.moved_to = target
    warehouse.refresh_snapshot()  # readers no longer see it
    return removal
