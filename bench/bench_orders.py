"""Order-to-cash benchmark on the sandboxes. Prints one JSON line per figure:

    {"name", "figure", "unit", "baseline", "baseline_name", "ratio"}

SP-API calls per 1,000 orders for a 30-day backfill: the all-orders report (one report per window)
against the per-order approach (Orders v0 getOrders pages + one getOrderItems per order); the
searchOrders 2026-01-01 path is printed too, for reference.

The order latency (notification -> Sage) is bench/bench_order_latency.py; the cost of one order event at
10k-1M orders of history is bench/bench_order_events.py.

Progress goes to stderr; stdout holds only the JSON lines.
"""


import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def log(message: str) -> None:
    print(f"[bench_orders] {message}", file=sys.stderr, flush=True)


def emit(name: str, figure: float, unit: str, baseline: float, baseline_name: str) -> None:
    ratio = round(figure / baseline, 4) if baseline else None
    print(json.dumps({"name": name, "figure": round(figure, 2), "unit": unit, "baseline": round(baseline, 2),
                      "baseline_name": baseline_name, "ratio": ratio}), flush=True)


def _api(env: dict[str, str], scale: float):
    from sage_amazon.amazon.client import RateLimiters, SpApi, SpApiSettings
    from sage_amazon.retrying import RetryPolicy

    settings = SpApiSettings(endpoint=env["SP_API_ENDPOINT"], lwa_endpoint=env["SP_API_LWA_ENDPOINT"],
                             refresh_token=env["SP_API_REFRESH_TOKEN"], lwa_app_id=env["LWA_APP_ID"],
                             lwa_client_secret=env["LWA_CLIENT_SECRET"],
                             marketplaces=tuple(env["SP_API_MARKETPLACES"].split(",")))
    return SpApi(settings, limiters=RateLimiters(scale=scale),
                 retry=RetryPolicy(budget=120, timeout=30, initial=0.2, max_wait=5, max_attempts=10))


def bench_backfill_calls(tmp: Path) -> None:
    from sage_amazon.amazon import orders as amazon
    from sage_amazon.mapping.orders import marketplace_by_channel
    from sage_amazon.sandbox.amazon.server import running_sandbox

    scale = 60.0  # the sandbox's clock (reports, rate refills) runs 60x: the call counts do not change
    with running_sandbox(tmp / "backfill", history_days=32, time_scale=scale) as sandbox:
        today = datetime.now(UTC).date()
        first, last = today - timedelta(days=30), today - timedelta(days=1)
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)

        api = _api(sandbox.env, scale)
        t0 = time.monotonic()
        report = amazon.orders_from_report(api, first, last, marketplace_by_channel(), poll_seconds=0.2)
        log(f"report: {len(report.orders)} orders, {report.calls} calls, {time.monotonic() - t0:.1f}s")

        api = _api(sandbox.env, scale)
        t0 = time.monotonic()
        per_order = amazon.get_orders_v0(api, start, end)
        log(f"per-order v0: {len(per_order.orders)} orders, {per_order.calls} calls, {time.monotonic() - t0:.1f}s")

        api = _api(sandbox.env, scale)
        search = amazon.search_orders(api, start, end)
        log(f"searchOrders 2026-01-01: {len(search.orders)} orders, {search.calls} calls")

    if len(report.orders) != len(per_order.orders):
        log(f"WARNING: report and per-order extraction disagree ({len(report.orders)} vs {len(per_order.orders)})")
    per_1000 = report.calls * 1000 / len(report.orders)
    baseline = per_order.calls * 1000 / len(per_order.orders)
    emit("orders_backfill_30d_sp_api_calls_per_1000_orders", per_1000, "calls/1000 orders", baseline,
         "per-order: v0 getOrders + getOrderItems per order")
    emit("orders_backfill_30d_search_orders_calls_per_1000_orders", search.calls * 1000 / max(1, len(search.orders)),
         "calls/1000 orders", baseline, "per-order: v0 getOrders + getOrderItems per order")


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    with tempfile.TemporaryDirectory(prefix="bench-orders-") as tmp:
        bench_backfill_calls(Path(tmp))


if __name__ == "__main__":
    main()
