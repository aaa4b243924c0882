"""Order-to-cash benchmark on the sandboxes. Prints one JSON line per figure:

    {"name", "figure", "unit", "baseline", "baseline_name", "ratio"}

1. SP-API calls per 1,000 orders for a 30-day backfill: the all-orders report (one report per window)
   against the per-order approach (Orders v0 getOrders pages + one getOrderItems per order); the
   searchOrders 2026-01-01 path is printed too, for reference.
2. Order creation -> Sage sales order latency (p50, p95) with the ORDER_CHANGE sensor running: live
   orders are placed in the Amazon sandbox (real-time clock: an order stays Pending for 20 s, as the
   sandbox's live orders do, and is not posted before Amazon confirms it), the SQS sensor is evaluated
   every `minimum_interval_seconds` and its runs are executed in process against the X3 sandbox.
   Target: p95 under 60 s. (A Dagster daemon adds its run-launch time on top of in-process runs.)

Progress goes to stderr; stdout holds only the JSON lines.
"""


import json
import statistics
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


def bench_latency(tmp: Path, n_orders: int = 20, spacing: float = 1.5, timeout: float = 150.0) -> None:
    import os

    import dagster as dg

    from assets.orders import assets as order_assets
    from assets.orders import checks as order_checks
    from assets.reference import assets as reference
    from resources.notifications import SqsResource
    from resources.sage import SageResource
    from resources.sp_api import SpApiResource
    from resources.warehouse import WarehouseResource
    from sage_amazon import sql_models
    from sage_amazon.sandbox.amazon.server import free_port, running_sandbox
    from sage_amazon.sandbox.sqs import SqsServer
    from sage_amazon.sandbox.x3 import running_x3
    from sensors.orders import order_change_sensor, order_changes_job

    data_dir = tmp / "latency" / "data"
    os.environ["SAGE_AMAZON_DATA_DIR"] = str(data_dir)
    os.environ["SAGE_AMAZON_TARGET"] = "x3"
    warehouse = WarehouseResource(path=str(data_dir / "warehouse" / "sage_amazon.duckdb"))

    def model_asset(rel: str) -> dg.AssetsDefinition:
        model = sql_models.parse_model(sql_models.SQL_ROOT / rel)

        @dg.asset(name=model.name, group_name=model.group, deps=[dg.AssetKey(r) for r in model.refs])
        def _asset(warehouse: WarehouseResource) -> None:
            with warehouse.write() as con:
                sql_models.materialize(con, model)

        return _asset

    models = [model_asset(rel) for rel in ("staging/stg_amazon_orders.sql", "staging/stg_amazon_order_items.sql",
                                           "marts/sage_order_lines.sql", "marts/sage_orders.sql")]
    sqs = SqsServer(port=free_port())
    queue_url = sqs.start()
    try:
        with running_sandbox(tmp / "latency", history_days=1, time_scale=1.0, sqs_endpoint=sqs.endpoint) as sandbox, \
                running_x3(tmp / "latency") as x3, dg.instance_for_test() as instance:
            env = sandbox.env
            from sage_amazon.amazon.subscriptions import connect

            connect(_api(env, 1.0).settings, queue_url)  # Amazon notifies only after the product's own setup
            resources = {
                "sp_api": SpApiResource(endpoint=env["SP_API_ENDPOINT"], lwa_endpoint=env["SP_API_LWA_ENDPOINT"],
                                        refresh_token=env["SP_API_REFRESH_TOKEN"], lwa_app_id=env["LWA_APP_ID"],
                                        lwa_client_secret=env["LWA_CLIENT_SECRET"],
                                        marketplaces=env["SP_API_MARKETPLACES"]),
                "warehouse": warehouse,
                "sage": SageResource(target="x3", x3_url=x3.url, x3_user=x3.user, x3_password=x3.password,
                                     x3_pool=x3.pool, x3_folder=x3.folder),
                "sqs": SqsResource(queue_url=queue_url),
            }
            defs = dg.Definitions(assets=[order_assets.amazon_orders, reference.order_mappings,
                                          reference.sage_item_codes, order_assets.sage_sales_orders, *models],
                                  asset_checks=[order_checks.one_row_per_order, order_checks.one_line_per_item],
                                  jobs=[order_changes_job], sensors=[order_change_sensor], resources=resources)
            dg.materialize([reference.order_mappings, reference.sage_item_codes], resources=resources,
                           instance=instance)
            job = defs.resolve_job_def("order_changes_job")
            job.execute_in_process(instance=instance, partition_key=datetime.now(UTC).date().isoformat(),
                                   run_config={"ops": {"amazon_orders": {"config": {"order_ids": ["warm-up"]}},
                                                       "sage_sales_orders": {"config": {"order_ids": ["warm-up"]}}}},
                                   raise_on_error=False)  # imports, item master: not part of an order's time

            placed: dict[str, datetime] = {}
            posted: dict[str, float] = {}
            next_order = time.monotonic()
            cursor = None
            interval = order_change_sensor.minimum_interval_seconds or 5
            next_tick = time.monotonic()
            started = time.monotonic()
            mappable = 0
            while time.monotonic() - started < timeout:
                now = time.monotonic()
                if mappable < n_orders and now >= next_order:
                    order = sandbox.add_order()
                    if not {it["sku"] for it in order["items"]} & {"NW-FILTER-SQ", "NW-CHAIR-FLD"} \
                            and order["plan"].get("cancel_at") is None:
                        placed[order["id"]] = datetime.fromisoformat(order["purchase_date"].replace("Z", "+00:00"))
                        mappable += 1
                    next_order = now + spacing
                if now >= next_tick:
                    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                                      resources={"sqs": resources["sqs"]})
                    result = order_change_sensor(context)
                    cursor = result.cursor
                    for request in result.run_requests or []:
                        job.execute_in_process(instance=instance, partition_key=request.partition_key,
                                               run_config=request.run_config, tags=request.tags,
                                               raise_on_error=False)
                    for oid in placed:
                        if oid not in posted and x3.count_orders(oid):
                            posted[oid] = (datetime.now(UTC) - placed[oid]).total_seconds()
                    next_tick = time.monotonic() + interval
                if mappable >= n_orders and len(posted) == len(placed):
                    break
                time.sleep(0.1)
    finally:
        sqs.stop()
    missing = sorted(set(placed) - set(posted))
    if missing:
        log(f"WARNING: {len(missing)} order(s) not in Sage within {timeout:.0f}s: {missing[:5]} (counted as {timeout:.0f}s)")
    latencies = sorted([*posted.values(), *([timeout] * len(missing))])
    log(f"latencies (s): {[round(v, 1) for v in latencies]}")
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, max(0, round(0.95 * len(latencies)) - 1))]
    emit("order_to_sage_latency_p50", p50, "s", 60.0, "target p95 < 60 s")
    emit("order_to_sage_latency_p95", p95, "s", 60.0, "target p95 < 60 s")


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    with tempfile.TemporaryDirectory(prefix="bench-orders-") as tmp:
        bench_backfill_calls(Path(tmp))
        bench_latency(Path(tmp))


if __name__ == "__main__":
    main()
