"""Many sellers on two Celery workers (issue 19.5): sellers per hour, queue wait per tenant with one throttled
seller, and an extrapolation to 500 sellers on Kubernetes.

The deployment of tests/scale (docs/multi-seller.md): a PostgreSQL instance (deploy/celery/dagster.yaml), two
Celery workers on RabbitMQ, the webserver and the daemon, three sandbox sellers (`sandbox up`, seed 42):
acme and initech on worker 1, globex on worker 2. initech is the throttled seller, sharing acme's worker: its
Amazon sandbox answers 30% of calls 500/503 and adds 400 ms to every call (SANDBOX_AMAZON_FAULT_ERROR_RATE / _LATENCY_MS, the
sandbox's fault injection; the client backs off and retries). Each seller gets what `sage-amazon run` does for one
day of orders and one settlement (the oldest pending), all three at once, through the webserver.

Figures:
- sellers per hour: 3 sellers / wall time of the whole batch (from the first launch to the last run's end);
- queue wait per tenant: mean seconds a run waited between its creation and its start (the queued run
  coordinator, tag concurrency per tenant, then the Celery queue of its worker), against the throttled seller's;
- per-seller run time: the sum of the seller's run durations (its worker-seconds);
- 500 sellers on Kubernetes: pod-hours a day and pods for a 4-hour nightly window, from the unthrottled sellers'
  worker-seconds. Assumptions (printed): one run per pod at a time on one core like ours (K8sRunLauncher, or
  Celery workers of concurrency 1), sellers independent (Amazon's rate limits are per seller and region, each
  Sage pool per tenant), one settlement and one day per seller a day, the PostgreSQL instance and the webserver
  not the bottleneck at 500 code locations (untested here), pod start-up not counted (add ~30 s a run).

    .venv/bin/python bench/bench_scale.py
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SELLERS = {"acme": "w1", "initech": "w1", "globex": "w2"}  # the throttled initech shares acme's worker
THROTTLED = "initech"
THROTTLE = {"SANDBOX_AMAZON_FAULT_ERROR_RATE": "0.3", "SANDBOX_AMAZON_FAULT_LATENCY_MS": "400"}
WINDOW_HOURS = 4.0
K8S_SELLERS = 500


def _figure(name: str, figure: float, unit: str, baseline: float | None = None, baseline_name: str = "") -> None:
    ratio = round(figure / baseline, 3) if baseline else None
    print(json.dumps({"name": name, "figure": round(figure, 3), "unit": unit,
                      "baseline": round(baseline, 3) if baseline is not None else None,
                      "baseline_name": baseline_name, "ratio": ratio}), flush=True)


class _Temp:
    """tmp_path_factory's mktemp, for the sandbox helper shared with the tests."""

    def __init__(self, root: Path) -> None:
        self.root, self.n = root, 0

    def mktemp(self, name: str) -> Path:
        self.n += 1
        path = self.root / f"{name}{self.n}"
        path.mkdir(parents=True)
        return path


def _durations(instance, outcome) -> float:
    import dagster as dg

    total = 0.0
    for _, _, run_id in outcome.runs:
        records = instance.get_run_records(dg.RunsFilter(run_ids=[run_id]), limit=1)
        if records and records[0].start_time and records[0].end_time:
            total += records[0].end_time - records[0].start_time
    return total


def main() -> int:
    from tests import postgres as pg_server

    reason = pg_server.unavailable()
    if reason:
        print(f"bench_scale: {reason}", file=sys.stderr)
        return 1
    from sage_amazon.tenants.runs import run_tenants
    from sage_amazon.tenants.tenants_file import load
    from tests.faults.test_matrix import _stack
    from tests.scale.cluster import running_cluster, tenant_entry

    day = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()  # yesterday: a whole day of orders
    queues = {name: f"bench_{name}_{time.time_ns() % 10**8}" for name in ("w1", "w2")}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp, ExitStack() as opened:
        temp = _Temp(Path(tmp))
        stacks = {name: opened.enter_context(_stack(temp, name, **(THROTTLE if name == THROTTLED else {})))
                  for name in SELLERS}
        entries, secrets = [], {}
        for name, worker in SELLERS.items():
            entry, named = tenant_entry(name, queues[worker], stacks[name].env, stacks[name].data_dir)
            entries.append(entry)
            secrets.update(named)
        cluster = opened.enter_context(running_cluster(Path(tmp) / "cluster", entries, secrets, queues))
        instance = opened.enter_context(cluster.instance())
        started = time.monotonic()
        outcomes = run_tenants(cluster.webserver, load(cluster.env["SAGE_AMAZON_TENANTS_FILE"]), day, day,
                               timeout=5400, say=lambda line: print(line, file=sys.stderr, flush=True),
                               settlements=1)
        wall = time.monotonic() - started
        failed = [(o.tenant, [label for label, ok, _ in o.runs if not ok]) for o in outcomes if not o.ok]
        if failed:  # timed all the same: a failed stage fails alike in a single-seller run (tests/scale)
            print(f"bench_scale: stage runs failed: {failed}", file=sys.stderr)
        by_tenant = {o.tenant: o for o in outcomes}
        busy = {name: _durations(instance, o) for name, o in by_tenant.items()}
        waits = {name: sum(o.queue_waits) / len(o.queue_waits) for name, o in by_tenant.items()}

    _figure("scale: sellers per hour (2 Celery workers, 1 day + 1 settlement each)", 3 * 3600 / wall, "sellers/h")
    for name in SELLERS:
        label = " (throttled seller)" if name == THROTTLED else ""
        _figure(f"scale: queue wait per run, {name}{label}", waits[name], "s", waits[THROTTLED],
                f"queue wait of throttled {THROTTLED}")
        _figure(f"scale: run time of seller {name}{label}", busy[name], "s", busy[THROTTLED],
                f"run time of throttled {THROTTLED}")
    per_seller = sum(busy[n] for n in SELLERS if n != THROTTLED) / (len(SELLERS) - 1)
    pod_hours = K8S_SELLERS * per_seller / 3600
    _figure(f"scale: {K8S_SELLERS} sellers on Kubernetes, pod-hours a day (extrapolated)", pod_hours, "pod-h")
    _figure(f"scale: {K8S_SELLERS} sellers on Kubernetes, pods for a {WINDOW_HOURS:g}-hour window (extrapolated)",
            math.ceil(pod_hours / WINDOW_HOURS), "pods")
    print(f"bench_scale: assumptions: {per_seller:.0f} worker-seconds per unthrottled seller a day on this machine; "
          "one run per pod and core; sellers independent (SP-API limits per seller and region, Sage pool per "
          "tenant); PostgreSQL and the webserver not the bottleneck at 500 code locations (untested); pod start-up "
          "not counted", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
