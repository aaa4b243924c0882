"""Merchant-fulfilled quantity pushes (issue 14): calls and time to push N changed quantities to Amazon, by
patchListingsItem (one call per SKU, 5 requests/s, burst 5) and by JSON_LISTINGS_FEED (one createFeed per
marketplace; createFeed allows 1 call / 2 min, burst 15), on the Amazon sandbox.

The sandbox and the client run SCALE times Amazon's clock (rates and feed processing alike). The floor is what
Amazon's limits impose in Amazon seconds: patch (N - burst) / rate; feed: Amazon's processing of the feed (the
sandbox's 15 s; its one createFeed goes out at once). The figure is that floor plus the time the run spent beyond
floor / SCALE (client, warehouse bookkeeping and the sandbox's own work), i.e. the projected time on Amazon.
Also: the time from a Sage stock change to the quantity Amazon serves (X3 sandbox, one run of the stock read and the
push; the schedule adds up to its 30-minute interval).

Prints one JSON line per figure. Usage: python bench/bench_inventory_push.py [--sizes 10,1000,10000] [--scale 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PATCH_RATE, PATCH_BURST = 5.0, 5
FEED_PROCESSING = 15.0  # the sandbox's queue + processing time of a feed, Amazon seconds
MP = "ATVPDKIKX0DER"


def emit(name: str, figure: float, unit: str, baseline: float | None = None, baseline_name: str = "") -> None:
    ratio = (figure / baseline) if baseline else None
    print(json.dumps({"name": name, "figure": figure, "unit": unit, "baseline": baseline,
                      "baseline_name": baseline_name, "ratio": ratio}), flush=True)


def add_listings(sb, n: int, prefix: str) -> list[str]:
    world = sb.world
    skus = [f"{prefix}-{i:05d}" for i in range(n)]
    now = world.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    with world.lock:
        for sku in skus:
            world.put("listings", f"{MP}|{sku}", {
                "marketplace_id": MP, "sku": sku, "status": ["BUYABLE"], "price": "10.00", "quantity": 0,
                "product_type": "PRODUCT", "attributes": {}, "created": now, "updated": now})
        world.flush()
    return skus


def push_once(sb, api, skus: list[str], feed_from: int, scale: float, tmp: Path) -> tuple[float, dict, int]:
    from sage_amazon.inventory import push, rules
    from sage_amazon.warehouse import Warehouse

    cfg = rules.InventoryRules(mode="report_only", reason_code="FBA", large_units=0, large_value=Decimal(0),
                               fba_sites={}, seller_id="A2SAGESANDBOX01", feed_from=feed_from)
    plan = push.Plan(datetime.now(UTC).date(), [push.Target(MP, s, s, "US01", Decimal(i % 40 + 5), i % 40 + 3)
                                                 for i, s in enumerate(skus)])
    wh = Warehouse(tmp / f"w-{feed_from}-{len(skus)}.duckdb", snapshot_every=1e9)
    api.calls.clear()
    api.retries.clear()
    started = time.perf_counter()
    result = push.push(wh.write, api, plan, cfg, poll_seconds=5.0 / scale)  # getFeed every 5 Amazon seconds
    wall = time.perf_counter() - started
    served = sum(1 for i, s in enumerate(skus) if sb.world.state["listings"][f"{MP}|{s}"]["quantity"] == i % 40 + 3)
    assert result.counts["accepted"] == len(skus) == served, (dict(result.counts), served)
    return wall, dict(api.calls), served


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--patch-max", type=int, default=1000, help="largest N also pushed by patch (measured)")
    parser.add_argument("--scale", type=float, default=200.0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    scale = args.scale

    from sage_amazon.amazon.client import RateLimiters, SpApi, SpApiSettings
    from sage_amazon.retrying import RetryPolicy
    from sage_amazon.sandbox.amazon import credentials
    from sage_amazon.sandbox.amazon.server import running_sandbox

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        with running_sandbox(tmp / "amazon", seed=5, time_scale=scale, sqs_endpoint=None, history_days=1) as sb:
            settings = SpApiSettings(sb.base_url, sb.lwa_url, credentials.SP_API_REFRESH_TOKEN, credentials.LWA_APP_ID,
                                     credentials.LWA_CLIENT_SECRET, (MP,))
            api = SpApi(settings, limiters=RateLimiters(scale=scale), retry=RetryPolicy(budget=120, timeout=30))
            warm = add_listings(sb, 1, "WARM")  # token, imports, connections: not part of a push
            api.call("getListingsItem", "listings", "get_listings_item", "A2SAGESANDBOX01", warm[0],
                     marketplace_id=MP, marketplaceIds=MP)
            for n in sizes:
                floor = max(0.0, (n - PATCH_BURST) / PATCH_RATE)
                if n <= args.patch_max:
                    skus = add_listings(sb, n, f"P{n}")
                    wall, calls, _ = push_once(sb, api, skus, feed_from=n + 1, scale=scale, tmp=tmp)
                    emit(f"MFN push {n} SKUs, patchListingsItem: projected s on Amazon",
                         floor + max(0.0, wall - floor / scale), "s", floor or None,
                         "rate-limit floor (5/s, burst 5)")
                    emit(f"MFN push {n} SKUs, patchListingsItem: calls", sum(calls.values()), "calls", n,
                         "one per SKU")
                    emit(f"MFN push {n} SKUs, patchListingsItem: wall s on the sandbox (x{scale:g})", wall, "s")
                else:
                    emit(f"MFN push {n} SKUs, patchListingsItem: rate-limit floor (not run)", floor, "s")
                skus = add_listings(sb, n, f"F{n}")
                wall, calls, _ = push_once(sb, api, skus, feed_from=1, scale=scale, tmp=tmp)
                emit(f"MFN push {n} SKUs, JSON_LISTINGS_FEED: projected s on Amazon",
                     FEED_PROCESSING + max(0.0, wall - FEED_PROCESSING / scale), "s", FEED_PROCESSING,
                     "Amazon's processing of 1 feed (sandbox)")
                emit(f"MFN push {n} SKUs, JSON_LISTINGS_FEED: calls", sum(calls.values()), "calls",
                     4, "createFeedDocument+createFeed+getFeed+getFeedDocument (getFeed every 5 s)")
                emit(f"MFN push {n} SKUs, JSON_LISTINGS_FEED: wall s on the sandbox (x{scale:g})", wall, "s")
            api.close()
        latency = stock_change_latency(tmp)
        if latency is not None:
            emit("Sage stock change -> Amazon MFN quantity (one run, X3 sandbox)", latency, "s", 1800.0,
                 "the schedule interval (30 min)")
    return 0


def stock_change_latency(tmp: Path) -> float | None:
    """Issue 5 units in the X3 sandbox, then read the stock and push (what the schedule's run does); the seconds
    until getListingsItem serves the new quantity."""
    from sage_amazon.amazon.client import RateLimiters, SpApi, SpApiSettings
    from sage_amazon.inventory import adjust, push, rules, stock, store
    from sage_amazon.sage.x3 import X3Target
    from sage_amazon.sandbox.amazon import credentials
    from sage_amazon.sandbox.amazon.server import running_sandbox
    from sage_amazon.sandbox.x3 import running_x3
    from sage_amazon.warehouse import Warehouse

    cfg = rules.load("x3")
    with running_sandbox(tmp / "amazon2", seed=6, time_scale=1, sqs_endpoint=None, history_days=1) as sb, \
            running_x3(tmp / "x3") as x3:
        target = X3Target.from_settings(x3.url, x3.user, x3.password, x3.pool, x3.folder)
        settings = SpApiSettings(sb.base_url, sb.lwa_url, credentials.SP_API_REFRESH_TOKEN, credentials.LWA_APP_ID,
                                 credentials.LWA_CLIENT_SECRET, ("ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9"))
        api = SpApi(settings, limiters=RateLimiters())
        wh = Warehouse(tmp / "latency.duckdb", snapshot_every=1e9)
        day = datetime.now(UTC).date()

        def cycle() -> None:
            rows = stock.read(target, sorted(set(cfg.mfn_sites.values())))
            with wh.write() as con:
                store.replace_stock_day(con, day, "x3", rows, datetime.now(UTC))
                p = push.plan(con, day, cfg, "x3", settings.marketplaces)
            push.push(wh.write, api, p, cfg)

        cycle()  # in step first
        adjust.post_adjustment(target, adjust.Adjustment(day, "US01", "NW-KNIFE-MT", Decimal(-5), "DMG", 0))
        want = rules.load("x3").defaults.apply(next(r.available for r in stock.read(target, ["US01"])
                                                     if r.item == "NW-KNIFE-MT"))
        started = time.perf_counter()
        cycle()
        res = api.call("getListingsItem", "listings", "get_listings_item", cfg.seller_id, "NW-KNIFE-MT",
                       marketplace_id="ATVPDKIKX0DER", marketplaceIds="ATVPDKIKX0DER",
                       includedData="fulfillmentAvailability")
        elapsed = time.perf_counter() - started
        assert res.payload["fulfillmentAvailability"][0]["quantity"] == want
        api.close()
        target.close()
        return elapsed


if __name__ == "__main__":
    sys.exit(main())
