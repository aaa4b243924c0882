"""Multi-Channel Fulfillment (issue 18.3): SP-API calls per 100 MCF orders, and the time Amazon's rate limits impose,
on the Amazon sandbox.

N Sage orders (one FBA SKU each, in raw.sage_mcf_orders as the Sage read leaves them) go through the flow's Amazon step
twice: the first run previews and creates each (getFulfillmentPreview + createFulfillmentOrder) and reads it back
once (getFulfillmentOrder); once Amazon shipped them all, the second run lists the changes (listAllFulfillmentOrders,
50 a page) and reads each shipped order for its tracking (getFulfillmentOrder). A third run, nothing having changed,
shows what an idle schedule tick costs (nothing unfinished: no call).

Floor: every operation here allows 2 requests/s with a burst of 30 (the model's usage plans); the calls of one
operation cannot go faster than (calls - 30) / 2 seconds, the buckets refill side by side, so the floor of the whole
is the largest of them. The sandbox and the client run SCALE times Amazon's clock; the projected time on Amazon is the
floor plus what the run spent beyond floor / SCALE. Prints one JSON line per figure.
Usage: python bench/bench_mcf.py [--orders 100] [--scale 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RATE, BURST = 2.0, 30
MP = "ATVPDKIKX0DER"
SKUS = ("NW-TENT-2P", "NW-BAG-20F", "NW-PAD-UL", "NW-STOVE-CMP", "NW-LAMP-300", "NW-BOTTLE-1L", "NW-PACK-45L")


def emit(name: str, figure: float, unit: str, baseline: float | None = None, baseline_name: str = "") -> None:
    ratio = (figure / baseline) if baseline else None
    print(json.dumps({"name": name, "figure": figure, "unit": unit, "baseline": baseline,
                      "baseline_name": baseline_name, "ratio": ratio}), flush=True)


def sage_rows(n: int, now: datetime) -> list[dict]:
    ship_to = json.dumps({"name": "Pat Doe", "lines": ["1 Main St"], "city": "Seattle", "state": "WA",
                          "postal_code": "98101", "country": "US", "phone": ""})
    return [{"sage_number": f"BENCH{i:05d}", "channel": "SOHTYP SWEB", "status": "open", "order_date": date(2026, 11, 20),
             "customer": "WEBUS", "customer_order_ref": f"WEB-{i:05d}", "ship_to": ship_to,
             "lines": json.dumps([{"line_no": 1, "item": SKUS[i % len(SKUS)], "sku": SKUS[i % len(SKUS)],
                                   "quantity": "1", "shipped": "0"}]),
             "tracking": "", "at_fba": True, "not_at_fba": "", "read_at": now} for i in range(n)]


def floor_of(calls: dict[str, int]) -> float:
    return max([max(0.0, (n - BURST) / RATE) for n in calls.values()] or [0.0])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--scale", type=float, default=200.0)
    args = parser.parse_args()
    n, scale = args.orders, args.scale

    from sage_amazon.amazon.client import RateLimiters, SpApi, SpApiSettings
    from sage_amazon.mcf import fulfil, rules, store
    from sage_amazon.retrying import RetryPolicy
    from sage_amazon.sandbox.amazon import credentials, fulfillment_api
    from sage_amazon.sandbox.amazon.server import running_sandbox
    from sage_amazon.warehouse import Warehouse

    mcf = rules.load("x3", {"x3": {"order_types": ["SWEB"], "fba_site": "FBAUS"}, "marketplace": MP})
    with tempfile.TemporaryDirectory() as tmpdir, \
            running_sandbox(Path(tmpdir) / "amazon", seed=7, time_scale=scale, history_days=1, regions=False) as sb:
        with sb.world.lock:  # enough FBA stock for every order
            for sku in SKUS:
                sb.world.state["inventory"][f"{MP}|{sku}"]["fulfillable"] += n
        settings = SpApiSettings(sb.base_url, sb.lwa_url, credentials.SP_API_REFRESH_TOKEN, credentials.LWA_APP_ID,
                                 credentials.LWA_CLIENT_SECRET, (MP,))
        api = SpApi(settings, limiters=RateLimiters(scale=scale), retry=RetryPolicy(budget=120, timeout=30))
        wh = Warehouse(Path(tmpdir) / "w.duckdb", snapshot_every=1e9)
        with wh.write() as con:
            store.replace_sage_orders(con, sage_rows(n, datetime.now(UTC)))
        runs = []
        steps = fulfillment_api.STEPS  # held while the orders are created (Amazon takes hours, not 0.2 s)
        fulfillment_api.STEPS = tuple((status, 1e9) for status, _ in steps)
        for label in ("create", "after shipping", "idle"):
            if label == "after shipping":  # Amazon ships them all (40 Amazon seconds)
                fulfillment_api.STEPS = steps
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline and any(
                        fo["status"] != "Complete" for fo in list(sb.world.state["fulfillment_orders"].values())):
                    time.sleep(0.2)
            api.calls.clear()
            started = time.perf_counter()
            result = fulfil.sync(wh.write, api, mcf, datetime.now(UTC))
            runs.append((label, time.perf_counter() - started, dict(api.calls), dict(result.counts)))
        api.close()
        created = sum(1 for k in sb.world.state["fulfillment_orders"] if k.startswith("BENCH"))
        assert created == n and runs[0][3].get("created") == n, runs[0]
        with wh.write() as con:
            shipped = len(store.shipments(con))
        assert shipped == n, shipped
    total: dict[str, int] = {}
    for _, _, calls, _ in runs[:2]:
        for op, k in calls.items():
            total[op] = total.get(op, 0) + k
    per_100 = sum(total.values()) * 100 / n
    floor = sum(floor_of(calls) for _, _, calls, _ in runs[:2])
    wall = sum(w for _, w, _, _ in runs[:2])
    emit(f"MCF {n} orders created and tracked: SP-API calls per 100 orders", per_100, "calls", 400.0,
         "preview + create + 2 getFulfillmentOrder per order")
    for op, k in sorted(total.items()):
        emit(f"MCF {n} orders: {op} calls", k, "calls")
    emit(f"MCF {n} orders: projected s on Amazon", floor + max(0.0, wall - floor / scale), "s", floor or None,
         "rate-limit floor (2/s, burst 30 per operation)")
    emit(f"MCF {n} orders: wall s on the sandbox (x{scale:g})", wall, "s")
    emit("MCF idle run (every order shipped, nothing new in Sage): SP-API calls", sum(runs[2][2].values()), "calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
