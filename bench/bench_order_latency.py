"""Order latency on the sandboxes, from the ORDER_CHANGE notification to the Sage X3 sales order (p50, p95).

Live orders are placed in the Amazon sandbox on a real-time clock; an order stays Pending 20 s (as the
sandbox's live orders do) and the Unshipped notification it then sends is what the product may post.
The orders sensor (sensors/orders.py) is evaluated every `minimum_interval_seconds` and the runs it
requests are executed in process against the X3 sandbox (a Dagster daemon adds its run-launch time).
Three cases: no duplicates; 50% of notifications delivered twice; a backlog of 1,000 other notifications
(FBA_INVENTORY_AVAILABILITY_CHANGES, sent by the sandbox through `amazon connect`'s subscriptions before the
first order: each flow has its own queue, so they wait on the inventory queue, which the orders sensor never
reads). Goal: p95 under 15 s. On the sandbox's SQS (moto) a receive costs about 0.5 ms per message in the
queue (AWS: constant): a backlog on the orders queue itself would cost tens of seconds per tick there.
The creation-to-Sage p50 and p95 are printed too (they include the 20 s Amazon keeps an order Pending).

Progress goes to stderr; stdout holds only the JSON lines.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

GOAL = 15.0
UNMAPPED = {"NW-FILTER-SQ", "NW-CHAIR-FLD"}


def log(message: str) -> None:
    print(f"[bench_order_latency] {message}", file=sys.stderr, flush=True)


def emit(name: str, figure: float, unit: str, baseline: float, baseline_name: str) -> None:
    ratio = round(figure / baseline, 4) if baseline else None
    print(json.dumps({"name": name, "figure": round(figure, 2), "unit": unit, "baseline": round(baseline, 2),
                      "baseline_name": baseline_name, "ratio": ratio}), flush=True)


def _p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(0.95 * len(values)) - 1))]


def _depth(queue) -> int:
    """Messages on a queue, visible or hidden."""
    attrs = queue._client().get_queue_attributes(QueueUrl=queue.queue_url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def scenario(tmp: Path, label: str, duplicate_rate: float, backlog: int, n_orders: int = 12,
             spacing: float = 1.5, timeout: float = 150.0) -> tuple[list[float], list[float]]:
    """(notification-to-Sage seconds, creation-to-Sage seconds) of n_orders live orders."""
    import dagster as dg

    from assets.orders.definitions import defs as orders_defs
    from assets.reference.definitions import defs as reference_defs
    from assets.shipments.definitions import defs as shipments_defs
    from resources.notifications import SqsResource, resource_key
    from resources.sage import SageResource
    from resources.sp_api import SpApiResource
    from resources.warehouse import WarehouseResource
    from sage_amazon.amazon.client import LIMITERS
    from sage_amazon.amazon.queues import CONSUMERS, flow_queue_url
    from sage_amazon.sandbox.amazon.faults import Faults
    from sage_amazon.sandbox.amazon.server import free_port, running_sandbox
    from sage_amazon.sandbox.sqs import SqsServer
    from sage_amazon.sandbox.x3 import running_x3
    from sensors.orders import order_change_sensor

    LIMITERS.clear()
    root = tmp / label
    data_dir = root / "data"
    os.environ["SAGE_AMAZON_DATA_DIR"] = str(data_dir)
    os.environ["SAGE_AMAZON_TARGET"] = "x3"
    sqs_server = SqsServer(port=free_port())
    queue_url = sqs_server.start(queue=f"bench-{label}")
    placed: dict[str, tuple[datetime, datetime]] = {}
    posted: dict[str, tuple[float, float]] = {}
    try:
        with running_sandbox(root, history_days=1, time_scale=1.0, sqs_endpoint=sqs_server.endpoint,
                             faults=Faults(duplicate_rate=duplicate_rate)) as sandbox, \
                running_x3(root) as x3, dg.instance_for_test() as instance:
            env = sandbox.env
            from sage_amazon.amazon.client import SpApiSettings
            from sage_amazon.amazon.subscriptions import connect

            connect(SpApiSettings(endpoint=env["SP_API_ENDPOINT"], lwa_endpoint=env["SP_API_LWA_ENDPOINT"],
                                  refresh_token=env["SP_API_REFRESH_TOKEN"], lwa_app_id=env["LWA_APP_ID"],
                                  lwa_client_secret=env["LWA_CLIENT_SECRET"],
                                  marketplaces=tuple(env["SP_API_MARKETPLACES"].split(","))),
                    queue_url)  # Amazon (and the sandbox) notify only after the product's own setup: a queue per flow
            resources = {
                "sp_api": SpApiResource(endpoint=env["SP_API_ENDPOINT"], lwa_endpoint=env["SP_API_LWA_ENDPOINT"],
                                        refresh_token=env["SP_API_REFRESH_TOKEN"], lwa_app_id=env["LWA_APP_ID"],
                                        lwa_client_secret=env["LWA_CLIENT_SECRET"],
                                        marketplaces=env["SP_API_MARKETPLACES"]),
                "warehouse": WarehouseResource(path=str(data_dir / "warehouse" / "sage_amazon.duckdb")),
                "sage": SageResource(target="x3", x3_url=x3.url, x3_user=x3.user, x3_password=x3.password,
                                     x3_pool=x3.pool, x3_folder=x3.folder),
                **{resource_key(flow): SqsResource(queue_url=flow_queue_url(queue_url, flow)) for flow in CONSUMERS},
            }
            defs = dg.Definitions.merge(orders_defs(), shipments_defs(), reference_defs(),
                                        dg.Definitions(resources=resources))
            sqs = resources["orders_queue"]
            # warm-up: the first run builds the reference tables and pays the imports: not an order's time
            warm = {"NotificationType": "ORDER_CHANGE", "NotificationMetadata": {"NotificationId": "warm-up"},
                    "Payload": {"OrderChangeNotification": {"AmazonOrderId": "warm-up", "Summary": {
                        "PurchaseDate": datetime.now(UTC).isoformat()}}}}
            sqs._client().send_message(QueueUrl=sqs.queue_url, MessageBody=json.dumps(warm))
            cursor = None

            def tick() -> None:
                nonlocal cursor
                context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                                  resources={"orders_queue": sqs})
                result = order_change_sensor(context)
                cursor = result.cursor
                for request in result.run_requests or []:
                    if request.job_name == "order_shipments_job":
                        continue
                    defs.resolve_job_def(request.job_name).execute_in_process(
                        instance=instance, partition_key=request.partition_key, run_config=request.run_config,
                        tags=request.tags, raise_on_error=False)

            tick()
            tick()  # settles the warm-up run
            inventory = resources["inventory_queue"]
            if backlog:  # Amazon sends them through the subscriptions: they land on the inventory flow's queue
                from sage_amazon.sandbox.amazon.wire import iso

                with sandbox.world.lock:
                    stock = next(iter(sandbox.world.state["inventory"].values()))
                    for _ in range(backlog):
                        sandbox.world.emit("FBA_INVENTORY_AVAILABILITY_CHANGES",
                                           {"inventory": stock, "at": iso(sandbox.world.clock())})
                # the sandbox delivers its outbox in order (Amazon, per destination): wait until the backlog waits
                while sandbox.world.state["outbox"]:
                    time.sleep(0.5)
                log(f"{label}: {_depth(inventory)} FBA_INVENTORY_AVAILABILITY_CHANGES waiting on the inventory queue")
            interval = order_change_sensor.minimum_interval_seconds or 5

            # in the marketplaces of the account the product connected (the sandbox's main region); an order of
            # another region is never the product's to fetch with this account
            marketplaces = env["SP_API_MARKETPLACES"].split(",")

            def place_orders() -> None:  # Amazon does not wait for the sensor: orders arrive on their own clock
                while len(placed) < n_orders and time.monotonic() - started < timeout:
                    order = sandbox.add_order(marketplaces[len(placed) % len(marketplaces)])
                    if not {it["sku"] for it in order["items"]} & UNMAPPED and order["plan"].get("cancel_at") is None:
                        created = datetime.fromisoformat(order["purchase_date"].replace("Z", "+00:00"))
                        notified = datetime.fromisoformat(order["plan"]["unshipped_at"].replace("Z", "+00:00"))
                        placed[order["id"]] = (created, notified)
                    time.sleep(spacing)

            started = time.monotonic()
            placer = threading.Thread(target=place_orders, daemon=True)
            placer.start()
            while time.monotonic() - started < timeout:
                next_tick = time.monotonic() + interval
                tick()
                for oid, (created, notified) in list(placed.items()):
                    if oid not in posted and x3.count_orders(oid):
                        at = datetime.now(UTC)
                        posted[oid] = ((at - notified).total_seconds(), (at - created).total_seconds())
                if len(placed) >= n_orders and len(posted) == len(placed):
                    break
                time.sleep(max(0.0, next_tick - time.monotonic()))
            placer.join(timeout=5)
            if backlog:
                log(f"{label}: {_depth(inventory)} still waiting on the inventory queue (the orders sensor never "
                    f"read them)")
            for oid in sorted(set(placed) - set(posted)):  # why an order is late: Amazon's side, then ours
                order = next((o for o in sandbox.world.orders_sorted() if o["id"] == oid), {})
                log(f"{label}: {oid} not in Sage: Amazon status {order.get('status')}, plan {order.get('plan')}, "
                    f"product: {_product_view(data_dir, oid)}")
            twice = [oid for oid in posted if x3.count_orders(oid) != 1]
            if twice:
                log(f"WARNING {label}: {len(twice)} order(s) not exactly once in Sage: {twice[:5]}")
    finally:
        sqs_server.stop()
    missing = sorted(set(placed) - set(posted))
    if missing:
        log(f"WARNING {label}: {len(missing)} order(s) not in Sage within {timeout:.0f}s (counted as {timeout:.0f}s)")
    notified = sorted([p[0] for p in posted.values()] + [timeout] * len(missing))
    created = sorted([p[1] for p in posted.values()] + [timeout] * len(missing))
    log(f"{label}: notification->Sage {[round(v, 1) for v in notified]}")
    return notified, created


def _product_view(data_dir: Path, oid: str) -> str:
    import duckdb

    try:
        con = duckdb.connect(str(data_dir / "warehouse" / "sage_amazon.duckdb"), read_only=True)
    except duckdb.Error as exc:
        return f"warehouse not readable ({exc})"
    try:
        raw = con.execute("SELECT order_status, amazon_status, last_updated FROM raw.amazon_orders "
                          "WHERE amazon_order_id = ? ORDER BY last_updated", [oid]).fetchall()
        dead = con.execute("SELECT reason FROM ops.dead_letters WHERE record_key = ?", [oid]).fetchall()
        return f"raw versions {raw}, dead letters {dead}"
    except duckdb.Error as exc:
        return f"({exc})"
    finally:
        con.close()


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    cases = (("dup0", 0.0, 0), ("dup50", 0.5, 0), ("backlog1000", 0.0, 1000))
    with tempfile.TemporaryDirectory(prefix="bench-order-latency-") as tmp:
        for label, duplicate_rate, backlog in cases:
            if sys.argv[1:] and label not in sys.argv[1:]:  # e.g. `bench_order_latency.py backlog1000`
                continue
            notified, created = scenario(Path(tmp), label, duplicate_rate, backlog)
            emit(f"order_latency_notification_to_sage_p50_{label}", statistics.median(notified), "s", GOAL,
                 "goal: p95 < 15 s")
            emit(f"order_latency_notification_to_sage_p95_{label}", _p95(notified), "s", GOAL, "goal: p95 < 15 s")
            emit(f"order_latency_creation_to_sage_p50_{label}", statistics.median(created), "s", GOAL + 20,
                 "goal + the 20 s an order stays Pending")
            emit(f"order_latency_creation_to_sage_p95_{label}", _p95(created), "s", GOAL + 20,
                 "goal + the 20 s an order stays Pending")


if __name__ == "__main__":
    main()
