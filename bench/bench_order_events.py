"""Cost of one ORDER_CHANGE event in the warehouse at 10k, 100k and 1M orders of history.

An event lands one new version of an order (raw.append_versions, as the ORDER_CHANGE run does) and rebuilds the
order models (stg_amazon_orders, stg_amazon_order_items, sage_order_lines, sage_orders) for its purchase day only:
the models are daily partitioned; the run's blocking structural checks read that day too. The history grows by
days (1,000 orders a day, 1.5 lines an order), the event's day has
the same 1,000 orders at every size, so a flat figure means the event does not pay for history. The tables hold
their rows in day order, as the product leaves them (extractions land day by day, a ranged run builds each model
partition in turn): DuckDB's zone maps then let a day's DELETE and SELECTs skip every other day's row groups. The
all-history rebuild that makes the starting state leaves them in hash order; it is re-sorted (untimed).

Figures (JSON lines, as bench/run.py expects), the median of EVENTS events each:
- order_event_models_<n>: one event; baseline: rebuilding the same four models over all history, what
  every ORDER_CHANGE run did before the models were partitioned;
- order_event_flatness_1M_vs_10k: one event at 1M orders against one event at 10k (ratio ~1 = flat).
- order_event_row_groups_<n>: row groups one day reads in the raw and model tables, against all they hold
  (independent of the machine's load: at 1M orders a day reads one row group of each table).

Progress goes to stderr; stdout holds only the JSON lines.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

PER_DAY = 1000
EVENTS = 15
SIZES = (10_000, 100_000, 1_000_000)
MODELS = ("staging/stg_amazon_orders.sql", "staging/stg_amazon_order_items.sql",
          "marts/sage_order_lines.sql", "marts/sage_orders.sql")
# the blocking structural checks of an ORDER_CHANGE run (assets/orders/checks.py), on the run's day
STRUCTURAL_CHECKS = tuple(
    sql + " WHERE partition_date = CAST(? AS DATE)" for sql in (
        "SELECT count(*), count(DISTINCT amazon_order_id) FROM marts.sage_orders",
        "SELECT count(*) FROM staging.stg_amazon_orders",
        "SELECT count(*) FROM marts.sage_order_lines",
        "SELECT count(*) FROM staging.stg_amazon_order_items"))
RAW_TABLES = ("raw.amazon_orders", "raw.amazon_order_items")
SKUS = ("NW-MUG-01", "NW-LAMP-02", "NW-TEE-03", "NW-BOTTLE-04")


def log(message: str) -> None:
    print(f"[bench_order_events] {message}", file=sys.stderr, flush=True)


def emit(name: str, figure: float, unit: str, baseline: float, baseline_name: str) -> None:
    ratio = round(figure / baseline, 4) if baseline else None
    print(json.dumps({"name": name, "figure": round(figure, 4), "unit": unit, "baseline": round(baseline, 4),
                      "baseline_name": baseline_name, "ratio": ratio}), flush=True)


def _history(con, n_orders: int, event_day: str) -> None:
    """n_orders orders, PER_DAY a day, on the days before event_day and on event_day itself."""
    from sage_amazon.orders import raw

    raw.ensure(con)
    con.execute(f"""
        INSERT INTO raw.amazon_orders BY NAME
        SELECT 'B' || lpad(CAST(g AS VARCHAR), 9, '0') AS amazon_order_id,
               CAST(DATE '{event_day}' - CAST(g // {PER_DAY} AS INTEGER) AS DATE) AS partition_date,
               CAST(DATE '{event_day}' - CAST(g // {PER_DAY} AS INTEGER) AS TIMESTAMP)
                   + to_seconds(g % 80000) AS purchase_date,
               CAST(DATE '{event_day}' - CAST(g // {PER_DAY} AS INTEGER) AS TIMESTAMP)
                   + to_seconds(g % 80000 + 60) AS last_updated,
               'ATVPDKIKX0DER' AS marketplace_id, 'Amazon.com' AS sales_channel,
               CASE WHEN g % 50 = 0 THEN 'CANCELLED' ELSE 'SHIPPED' END AS order_status,
               'Shipped' AS amazon_status, 'AFN' AS fulfillment_channel, 'Standard' AS ship_service_level,
               'USD' AS currency,
               CAST(CASE WHEN g % 2 = 0 THEN 20.00 ELSE 10.00 END AS DECIMAL(18, 2)) AS order_total,
               false AS is_business_order, 'US' AS ship_country, 'orders_2026' AS source,
               'x' || CAST(g AS VARCHAR) AS extract_id,
               CAST(DATE '{event_day}' - CAST(g // {PER_DAY} AS INTEGER) AS TIMESTAMP) AS extracted_at,
               '{{}}' AS payload
        FROM range({n_orders}) AS t(g)""")
    # one line per order, a second line on every other order: 1.5 lines an order
    con.execute(f"""
        INSERT INTO raw.amazon_order_items BY NAME
        SELECT o.amazon_order_id, o.amazon_order_id || '-' || CAST(k AS VARCHAR) AS order_item_id,
               o.partition_date, o.last_updated,
               CASE (hash(o.amazon_order_id) + k) % 4 WHEN 0 THEN '{SKUS[0]}' WHEN 1 THEN '{SKUS[1]}'
                    WHEN 2 THEN '{SKUS[2]}' ELSE '{SKUS[3]}' END AS sku,
               1 AS quantity, 1 AS quantity_shipped, 'USD' AS currency,
               CAST(10.00 AS DECIMAL(18, 2)) AS unit_price, CAST(10.00 AS DECIMAL(18, 2)) AS item_price,
               'Shipped' AS item_status, o.source, o.extract_id, o.extracted_at
        FROM raw.amazon_orders AS o, range(2) AS r(k)
        WHERE k = 0 OR o.order_total = 20.00
        ORDER BY o.partition_date DESC""")  # in day order, as each day's extraction lands its orders' lines


def _bulk(body: str) -> str:
    """A partitioned model's SELECT over every day at once (the unpartitioned build it replaced)."""
    return body.replace("= CAST($partition_key AS DATE)", ">= DATE '1900-01-01'")


def measure(tmp: Path, n_orders: int) -> tuple[float, float, list[float], int, int]:
    """(median event seconds, full rebuild seconds, every event's seconds, row groups of the event's day, row
    groups stored) at n_orders of history."""
    import duckdb

    from sage_amazon import sql_models
    from sage_amazon.orders import raw, refdata

    event_day = "2026-11-20"
    path = tmp / f"w{n_orders}.duckdb"
    con = duckdb.connect(str(path))
    try:
        t0 = time.perf_counter()
        _history(con, n_orders, event_day)
        refdata.write_mappings(con, "x3")
        refdata.write_item_codes(con, SKUS, "x3")
        con.execute("CHECKPOINT")
        log(f"{n_orders:,} orders of history written in {time.perf_counter() - t0:.1f}s")
        models = [sql_models.parse_model(sql_models.SQL_ROOT / rel) for rel in MODELS]
        t0 = time.perf_counter()
        for model in models:  # every day at once: the models as they were before (and the starting state)
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {model.group}")
            con.execute(f"CREATE OR REPLACE TABLE {model.table} AS {_bulk(sql_models._strip_comments(model.sql))}")
        full = time.perf_counter() - t0
        for model in models:  # untimed: the rows in day order, as the product's day-by-day builds leave them
            con.execute(f"CREATE OR REPLACE TABLE {model.table} AS SELECT * FROM {model.table} ORDER BY partition_date")
        counts = con.execute("SELECT count(*), count(*) FILTER (WHERE action = 'post') FROM marts.sage_orders"
                             ).fetchone()
        log(f"full rebuild of the four models: {full:.2f}s ({counts[0]:,} orders, {counts[1]:,} to post)")
        con.execute("CHECKPOINT")
        events = []
        for i in range(EVENTS):
            oid = f"B{i * 37:09d}"  # an order of the event day (the newest day)
            extract = _new_version(con, oid, event_day, i)  # what Amazon answers (untimed)
            t0 = time.perf_counter()
            raw.append_versions(con, extract)  # the ORDER_CHANGE run's landing
            for model in models:
                sql_models.materialize(con, model, event_day)
            for sql in STRUCTURAL_CHECKS:  # what the run's blocking checks read (its day)
                con.execute(sql, [event_day]).fetchall()
            events.append(time.perf_counter() - t0)
            status = con.execute("SELECT amazon_status FROM marts.sage_orders WHERE amazon_order_id = ?",
                                 [oid]).fetchone()
            assert status == ("CANCELLED",), (oid, status)  # the event took effect
        total = con.execute("SELECT count(*) FROM marts.sage_orders").fetchone()[0]
        assert total == counts[0], (total, counts)  # other days untouched, no duplicates
        read, stored = _row_groups(con, [*RAW_TABLES, *(m.table for m in models)], event_day)
        log(f"{n_orders:,}: the event's day is {read} of the {stored} row groups of the raw and model tables")
    finally:
        con.close()
        path.unlink(missing_ok=True)
    median = statistics.median(events)
    log(f"{n_orders:,}: one event {median * 1000:.0f} ms (events: {[round(e * 1000) for e in events]} ms)")
    return median, full, events, read, stored


def _new_version(con, oid: str, day: str, i: int):
    """The order's next version (cancelled an hour later), as Amazon would answer getOrder and its items."""
    from datetime import timedelta

    from sage_amazon.amazon.orders import Extract

    def rows(sql: str, params: list) -> list[dict]:
        cur = con.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    [order] = rows("""SELECT * FROM raw.amazon_orders WHERE partition_date = CAST(? AS DATE) AND amazon_order_id = ?
                      ORDER BY last_updated DESC LIMIT 1""", [day, oid])
    items = rows("""SELECT * FROM raw.amazon_order_items WHERE partition_date = CAST(? AS DATE)
                    AND amazon_order_id = ? AND extract_id = ?""", [day, oid, order["extract_id"]])
    order.update(last_updated=order["last_updated"] + timedelta(hours=1), extract_id=f"e{i}",
                 order_status="CANCELLED")
    return Extract(orders=[order], items=[{**it, "extract_id": f"e{i}"} for it in items], source="orders_2026")


def _row_groups(con, tables, day: str) -> tuple[int, int]:
    """(row groups read, row groups stored) by reading one day of each table: what a day's DELETE and SELECTs
    scan when DuckDB's zone maps skip the other days (the load-independent side of a flat figure)."""
    import re

    read = stored = 0
    for table in tables:
        plan = con.execute(f"EXPLAIN ANALYZE SELECT count(*) FROM {table} WHERE partition_date = CAST(? AS DATE)",
                           [day]).fetchall()[0][1]
        for a, b in re.findall(r"Row Groups Scanned: (\d+) / (\d+)", plan):
            read, stored = read + int(a), stored + int(b)
    return read, stored


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sizes = [int(a) for a in sys.argv[1:]] or list(SIZES)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-order-events-") as tmp:
        for n in sizes:
            results[n] = measure(Path(tmp), n)
    for n, (event, full, _, read, stored) in results.items():
        label = f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}M"
        emit(f"order_event_models_{label}", event, "s", full,
             f"rebuild of the 4 order models over all {label} orders (before: unpartitioned)")
        emit(f"order_event_row_groups_{label}", read, "row groups", stored,
             "row groups of the raw and model tables (read / stored: DuckDB's zone maps skip other days)")
    if len(results) > 1:
        small, large = min(results), max(results)
        emit(f"order_event_flatness_{large // 1000}k_vs_{small // 1000}k", results[large][0], "s", results[small][0],
             f"one event at {small:,} orders of history")


if __name__ == "__main__":
    main()
