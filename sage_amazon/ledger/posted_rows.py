"""The rows behind journals built beside a settlement's own (COGS, VAT): a settlement's rows are replaced on each
run, except those of journals already posted, which keep what they were posted with and are marked posted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb


def replace_unposted(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[tuple[str, str]],
                     settlement_id: str, rows: Sequence[Any], keep: set[str]) -> None:
    """Replace the settlement's rows of `table` (objects with an attribute per column, `journal_reference` among
    them), except those of the journals in `keep` (their references), which are marked posted."""
    schema = table.split(".")[0]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(f'{n} {t}' for n, t in columns)})")
    for n, t in columns:  # a table of an earlier version gains the columns added since
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {n} {t.replace(' NOT NULL', '')}")
    names = [n for n, _ in columns]
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM {table} WHERE settlement_id = ? AND NOT list_contains(?, journal_reference)",
                    [settlement_id, sorted(keep)])
        fresh = [r for r in rows if r.journal_reference not in keep]
        if fresh:
            con.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                            [[getattr(r, n) for n in names] for r in fresh])
        if keep:
            con.execute(f"UPDATE {table} SET posted = true WHERE settlement_id = ? "
                        "AND list_contains(?, journal_reference)", [settlement_id, sorted(keep)])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
