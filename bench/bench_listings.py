"""Listings from Sage (issue 18): SP-API calls per 100 listings and the time Amazon's rate limits impose, on the
Amazon sandbox, for a first listing (putListingsItem), a price change on every listing (patchListingsItem, the
offer only) and an unchanged re-run.

Each new listing also costs one getListingsItem (the price guard reads the offer Amazon may already have;
getListingsItem has its own 5/s budget). In bulk (JSON_LISTINGS_FEED) a listing costs its offer read and its
preview, plus the feed's four calls.

Each listing costs one VALIDATION_PREVIEW and one submission of the same operation (2 calls), plus one
getDefinitionsProductType per product type and marketplace per run. Listings Items limits (Amazon's models):
putListingsItem 5/s burst 10, patchListingsItem 5/s burst 5, getListingsItem 5/s burst 10. The floor is the sum
over operations of (calls - burst) / rate in Amazon seconds; the figure is that floor plus what the run spent beyond floor / SCALE on the sandbox running SCALE times
Amazon's clock (client, warehouse bookkeeping, the sandbox's work): the projected time on Amazon.

Prints one JSON line per figure. Usage: python bench/bench_listings.py [--n 100] [--scale 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RATE = 5.0
BURST = {"putListingsItem": 10, "patchListingsItem": 5, "getListingsItem": 10}


def floor_of(calls: dict[str, int]) -> float:
    """Amazon seconds the Listings Items limits impose on these calls (each operation its own bucket, one after
    the other in a run: the offer reads, then the previews and submissions)."""
    return sum(max(0.0, (calls.get(op, 0) - burst) / RATE) for op, burst in BURST.items())
MP = "ATVPDKIKX0DER"
FEED_PROCESSING = 15.0  # the sandbox's queue + processing time of a feed, Amazon seconds


def emit(name: str, figure: float, unit: str, baseline: float | None = None, baseline_name: str = "") -> None:
    ratio = (figure / baseline) if baseline else None
    print(json.dumps({"name": name, "figure": figure, "unit": unit, "baseline": baseline,
                      "baseline_name": baseline_name, "ratio": ratio}), flush=True)


def items(n: int, bump: Decimal = Decimal(0), prefix: str = "BENCH") -> list:
    from sage_amazon.listings.sage_items import SageItem

    out = []
    for i in range(n):
        code = f"{prefix}-{i:05d}"
        ean = f"0860{i:09d}"[:13]
        price = Decimal("20.00") + Decimal(i % 50) + bump
        out.append(SageItem(code, f"Northwind bench item {i}", {"code": code, "title": f"Northwind bench item {i}",
                                                                "ean": ean}, {MP: price}))
    return out


def run(api, wh, rules, sage_items, scale: float, operation: str) -> tuple[float, float, int, dict]:
    from sage_amazon.listings import push

    api.calls.clear()
    started = time.perf_counter()
    result = push.push(wh.write, api, push.plan(sage_items, rules), rules)
    wall = time.perf_counter() - started
    calls = dict(api.calls)
    floor = floor_of(calls)
    return floor + max(0.0, wall - floor / scale), floor, sum(calls.values()), dict(result.counts)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--scale", type=float, default=100.0)
    args = parser.parse_args()
    n, scale = args.n, args.scale

    from sage_amazon.amazon.client import RateLimiters, SpApi, SpApiSettings
    from sage_amazon.listings import push
    from sage_amazon.listings import rules as listing_rules
    from sage_amazon.retrying import RetryPolicy
    from sage_amazon.sandbox.amazon import credentials
    from sage_amazon.sandbox.amazon.server import running_sandbox
    from sage_amazon.warehouse import Warehouse

    rules = listing_rules.load("x3")
    rules = replace(rules, marketplaces=tuple(m for m in rules.marketplaces if m.marketplace_id == MP),
                    channels={}, feed_from=n + 1)  # one put/patch per listing; the bulk path is measured last
    per100 = 100 / n
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        with running_sandbox(tmp / "amazon", seed=5, time_scale=scale, sqs_endpoint=None, history_days=1) as sb:
            settings = SpApiSettings(sb.base_url, sb.lwa_url, credentials.SP_API_REFRESH_TOKEN, credentials.LWA_APP_ID,
                                     credentials.LWA_CLIENT_SECRET, (MP,))
            api = SpApi(settings, limiters=RateLimiters(scale=scale), retry=RetryPolicy(budget=120, timeout=30))
            api.call("getListingsItem", "listings", "get_listings_item", "A2SAGESANDBOX01", "NW-TENT-2P",
                     marketplace_id=MP, marketplaceIds=MP)  # token, imports, connections: not part of a run
            wh = Warehouse(tmp / "warehouse.duckdb", snapshot_every=1e9)
            for label, batch, operation in (("first listing", items(n), "putListingsItem"),
                                            ("price change", items(n, Decimal("1.50")), "patchListingsItem"),
                                            ("unchanged re-run", items(n, Decimal("1.50")), "putListingsItem")):
                projected, floor, calls, counts = run(api, wh, rules, batch, scale, operation)
                if label != "unchanged re-run":
                    assert counts.get("created", 0) + counts.get("updated", 0) == n, counts
                first = operation == "putListingsItem"
                emit(f"listings, {label}: SP-API calls per 100 listings", calls * per100, "calls",
                     ((3 if first else 2) * n + 1) * per100 if calls else None,
                     ("Amazon's offer read (price guard), " if first else "")
                     + "preview + submission per listing, 1 definition" if calls else "")
                if calls:
                    emit(f"listings, {label}: projected s on Amazon for {n}", projected, "s", floor or None,
                         "rate-limit floor (put 5/s burst 10, patch 5/s burst 5, get 5/s burst 10)")
            # in bulk: each listing previewed alone, then one JSON_LISTINGS_FEED (the sandbox processes a feed in
            # 15 Amazon seconds; getFeed every 5)
            bulk = replace(rules, feed_from=1, feed_poll_seconds=5.0 / scale, feed_wait_seconds=600.0)
            wh2 = Warehouse(tmp / "warehouse-bulk.duckdb", snapshot_every=1e9)
            api.calls.clear()
            started = time.perf_counter()
            result = push.push(wh2.write, api, push.plan(items(n, prefix="BULK"), bulk), bulk)
            wall = time.perf_counter() - started
            assert result.counts["created"] == n, dict(result.counts)
            calls = sum(api.calls.values())
            floor = floor_of(dict(api.calls)) + FEED_PROCESSING
            emit("listings in bulk (JSON_LISTINGS_FEED), first listing: SP-API calls per 100 listings",
                 calls * per100, "calls", (2 * n + 1 + 4) * per100,
                 "an offer read and a preview per listing, 1 definition, createFeedDocument+createFeed+getFeed+"
                 "getFeedDocument")
            emit(f"listings in bulk, first listing: projected s on Amazon for {n}",
                 floor + max(0.0, wall - floor / scale), "s", floor,
                 "rate-limit floor of the offer reads and previews + Amazon's processing of 1 feed (sandbox: 15 s)")
            api.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
