"""The daily partitions that hold the returns flows' dead-lettered records, so `deadletter replay` re-runs the days
that wrote them (sage_amazon/runner/replay.py `_record_days` reads DAYS_OF).

- return_receipts, key `<order>|<sku>|<return ref>`: the return days of those order and SKU lines in the FBA and
  merchant returns reports (raw.amazon_fba_returns, raw.amazon_mfn_returns);
- refund_credit_notes, key the listTransactions transaction id: its posted day (raw.amazon_refund_transactions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sage_amazon.returns import store
from sage_amazon.returns.credit_notes import FLOW as REFUND_CREDIT_NOTES
from sage_amazon.returns.restock import FLOW as RETURN_RECEIPTS


def receipt_days(con: Any, record_keys: list[str]) -> list[str]:
    from sage_amazon.warehouse import table_exists

    pairs = sorted({tuple(k.split("|", 2)[:2]) for k in record_keys if k.count("|") >= 2})
    if not pairs:
        return []
    days: set[str] = set()
    for table in (store.FBA_RETURNS, store.MFN_RETURNS):
        if not table_exists(con, table):
            continue
        days.update(r[0] for r in con.execute(
            f"SELECT DISTINCT CAST(t.return_date AS VARCHAR) FROM {table} t "
            "JOIN (SELECT unnest(?::VARCHAR[]) AS o, unnest(?::VARCHAR[]) AS s) k "
            "ON t.amazon_order_id = k.o AND t.sku = k.s",
            [[p[0] for p in pairs], [p[1] for p in pairs]]).fetchall() if r[0])
    return sorted(days)


def refund_days(con: Any, record_keys: list[str]) -> list[str]:
    from sage_amazon.warehouse import table_exists

    if not record_keys or not table_exists(con, store.REFUNDS):
        return []
    return [r[0] for r in con.execute(
        f"SELECT DISTINCT CAST(posted_date AS VARCHAR) FROM {store.REFUNDS} "
        "WHERE transaction_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY 1", [list(record_keys)]).fetchall()]


DAYS_OF: dict[str, Callable[[Any, list[str]], list[str]]] = {RETURN_RECEIPTS: receipt_days,
                                                             REFUND_CREDIT_NOTES: refund_days}
