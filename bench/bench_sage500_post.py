"""Sage 500 sandbox throughput: sales orders posted per second through Sage500Target.

One staging session for a batch of orders (what the flows do) against one session per order (the
baseline). Needs the PostgreSQL server (SAGE500_TEST_SERVER_URL or postgres@127.0.0.1:5432). Prints one
JSON line per figure.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from decimal import Decimal

from sage_amazon.sage.protocol import Journal, JournalLine, SalesOrder, SalesOrderLine
from sage_amazon.sage.sage500 import Sage500Target
from sage_amazon.sandbox.sage500 import sandbox_database

BATCH = int(sys.argv[1]) if len(sys.argv) > 1 else 500
SINGLE = max(BATCH // 5, 20)


def orders(prefix: str, count: int) -> list[SalesOrder]:
    return [SalesOrder(f"{prefix}-{n:07d}-0000001", "AMZUS", "US01", date(2026, 11, 20), "USD", (
        SalesOrderLine(1, "NW-TENT-2P", Decimal(n % 3 + 1), Decimal("149.99"), Decimal("5.00")),
        SalesOrderLine(2, "NW-LAMP-300", Decimal("1"), Decimal("19.99"))), freight=Decimal("4.99"),
        fulfillment_channel="MFN") for n in range(count)]


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


def main() -> None:
    with sandbox_database() as db:
        target = Sage500Target(db.url)
        batch = orders("901", BATCH)
        t0 = time.perf_counter()
        results = target.create_sales_orders(batch)
        batch_rate = rate(BATCH, time.perf_counter() - t0)
        assert all(r.created for r in results)

        single = orders("902", SINGLE)
        t0 = time.perf_counter()
        for o in single:
            target.create_sales_order(o)
        single_rate = rate(SINGLE, time.perf_counter() - t0)

        journals = [Journal(f"AMZ-BENCH-{n}", date(2026, 10, 31), "USD", tuple(
            JournalLine(acct, debit=Decimal("10.00")) for acct in ("1010", "6100", "6110")) + (
            JournalLine("4000", credit=Decimal("30.00")),)) for n in range(SINGLE)]
        t0 = time.perf_counter()
        for j in journals:
            target.post_journal(j)
        journal_rate = rate(SINGLE, time.perf_counter() - t0)
        target.engine.dispose()

    print(json.dumps({"name": "sage500_sales_orders_posted_batch_session", "figure": batch_rate, "unit": "orders/s",
                      "baseline": single_rate, "baseline_name": "one staging session per order",
                      "ratio": round(batch_rate / single_rate, 2)}))
    print(json.dumps({"name": "sage500_gl_journals_posted", "figure": journal_rate, "unit": "journals/s",
                      "baseline": None, "baseline_name": None, "ratio": None}))


if __name__ == "__main__":
    main()
