"""Faults on both sides end in the same Sage state as a clean run."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import dagster as dg
import pytest

from assets import orders, shipments
from tests.orders.conftest import assert_sage_state, days_back, expected_outcome

# the two flows' loads (their assets of kind sage: the Sage sales orders and shipment updates) and everything they
# read, reference tables included
FLOWS = dg.AssetSelection.groups(orders.FLOW, shipments.FLOW)
NOT_LOADS = FLOWS.upstream() - (FLOWS & dg.AssetSelection.kind("sage"))


@pytest.mark.slow
def test_amazon_throttling_5xx_dropped_connections_and_fatal_reports(order_env):
    from sage_amazon.sandbox.amazon.faults import Faults

    env = order_env
    env.amazon.faults.error_rate = 0.3
    env.amazon.faults.drop_rate = 0.05
    env.amazon.faults.fatal_rate = 0.5
    assert isinstance(env.amazon.faults, Faults)
    first, last = days_back(5), days_back(2)  # > 3 days: the all-orders report path
    assert env.materialize(first, last).success
    assert_sage_state(env, first, last)


@pytest.mark.slow
def test_x3_lost_replies_and_busy_pool(order_env):
    env = order_env
    env.x3.faults.lose_replies = 3  # X3 saves the order, the reply never arrives
    env.x3.faults.pool_busy = 2
    first, last = days_back(4), days_back(2)
    assert env.materialize(first, last).success
    assert_sage_state(env, first, last)


KILLED_LOAD = textwrap.dedent("""
    import sys
    from sage_amazon.orders import load
    from sage_amazon.sage.x3 import X3Target
    from sage_amazon.warehouse import Warehouse
    url, warehouse = sys.argv[1], sys.argv[2]
    target = X3Target.from_settings(url, "admin", "admin", "SEED", "SEED")
    print("loading", flush=True)
    load.load_orders(Warehouse(warehouse).write, target, workers=1)  # short sessions, as the asset does
""")


@pytest.mark.slow
def test_run_killed_mid_load_then_rerun_creates_no_duplicate_and_misses_nothing(order_env):
    env = order_env
    first, last = days_back(4), days_back(2)
    assert env.materialize(first, last, selection=NOT_LOADS, include_checks=False).success
    posted, _ = expected_outcome(env, first, last)
    env.x3.faults.slow = 0.15  # each X3 call takes a while: the kill lands mid-load
    proc = subprocess.Popen([sys.executable, "-c", KILLED_LOAD, env.x3.url, str(env.warehouse_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=os.getcwd(),
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(env.x3.rows("SORDER")) < 3:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    partial = len(env.x3.rows("SORDER"))
    assert 3 <= partial < len(posted), "the kill must land mid-load"
    env.x3.faults.slow = 0.0
    assert env.materialize(first, last).success
    assert_sage_state(env, first, last)
