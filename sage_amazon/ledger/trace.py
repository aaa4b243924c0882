"""Trace: from a settlement journal line to the settlement rows behind it (marts.journal_settlement_trace)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

TABLE = "marts.journal_settlement_trace"
COLUMNS = ["row_no", "journal_reference", "period", "site", "account", "role", "marketplace", "transaction_type",
           "amount_type", "amount_description", "order_id", "sku", "posted_date", "amount", "currency"]


def rows(con: duckdb.DuckDBPyConnection, settlement_id: str, account: str | None = None,
         journal: str | None = None) -> list[dict[str, Any]]:
    """The settlement's rows (in landed order), optionally those of one account and/or one journal reference."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE settlement_id = ?"
    params: list[Any] = [settlement_id]
    if account:
        sql += " AND account = ?"
        params.append(account)
    if journal:
        sql += " AND journal_reference = ?"
        params.append(journal)
    cur = con.execute(sql + " ORDER BY row_no", params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def sample_per_account(con: duckdb.DuckDBPyConnection, settlement_id: str, per_account: int = 3) -> list[dict]:
    """A few rows per (journal, account): what the journal postings asset shows in the UI."""
    cur = con.execute(
        f"""SELECT journal_reference, account, row_no, transaction_type, amount_type, amount_description,
                   order_id, sku, amount
            FROM {TABLE} WHERE settlement_id = ?
            QUALIFY row_number() OVER (PARTITION BY journal_reference, account ORDER BY row_no) <= ?
            ORDER BY journal_reference, account, row_no""", [settlement_id, per_account])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
