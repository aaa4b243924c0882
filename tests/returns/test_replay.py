"""`deadletter replay` of the returns flows re-runs the days that hold the dead-lettered records."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import duckdb

from sage_amazon.returns import replay, store

EXTRACTED = datetime(2026, 11, 20, 12, 0)


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    store.ensure(con)
    fba = [{"return_date": date(2026, 11, 3), "amazon_order_id": "111-1", "sku": "A", "quantity": 1,
            "extracted_at": EXTRACTED},
           {"return_date": date(2026, 11, 5), "amazon_order_id": "111-1", "sku": "B", "quantity": 1,
            "extracted_at": EXTRACTED},
           {"return_date": date(2026, 11, 9), "amazon_order_id": "222-2", "sku": "A", "quantity": 2,
            "extracted_at": EXTRACTED}]
    mfn = [{"return_date": date(2026, 11, 7), "amazon_order_id": "333-3", "sku": "C", "quantity": 1,
            "extracted_at": EXTRACTED}]
    refunds = [{"posted_date": date(2026, 11, d), "transaction_id": f"T{d}", "transaction_type": "Refund",
                "total_amount": Decimal("-5.00"), "extracted_at": EXTRACTED} for d in (4, 6)]
    store.replace_days(con, {store.FBA_RETURNS: fba, store.MFN_RETURNS: mfn, store.REFUNDS: refunds},
                       [date(2026, 11, d) for d in range(1, 12)])
    return con


def test_return_receipt_dead_letters_replay_their_return_days() -> None:
    con = _warehouse()
    days = replay.DAYS_OF["return_receipts"]
    assert days(con, ["111-1|B|LPN1", "333-3|C|2026-11-07 10:00:00"]) == ["2026-11-05", "2026-11-07"]
    assert days(con, ["999-9|A|x"]) == []  # an order the reports do not hold: no day to re-run
    assert days(con, []) == []


def test_refund_credit_note_dead_letters_replay_their_posted_days() -> None:
    con = _warehouse()
    days = replay.DAYS_OF["refund_credit_notes"]
    assert days(con, ["T6", "T4", "T-unknown"]) == ["2026-11-04", "2026-11-06"]


def test_the_runner_asks_the_returns_package_for_the_days() -> None:
    """runner.replay._record_days knows every flow that writes dead letters and has daily partitions."""
    from sage_amazon.deadletter_cli import known_flows

    assert set(replay.DAYS_OF) <= set(known_flows())
