"""Issues 20.1 and 21.2 through the real CLI (the fast checks of the same machinery: tests/foundation/test_run_recovery.py), on a slow X3 (every SOAP answer 0.15 s late):
`sage-amazon run` killed with kill -9 while it posts, then stopped with Ctrl-C (SIGINT) and SIGTERM while it
posts, then run to the end: each stop exits 130 / 143 with its summary and no traceback, nothing blocks the
next run, and Sage holds every order exactly once (counted in X3's own SORDER table)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import ROOT, Stack
from tests.ports import sandbox_ports

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]  # `make test-faults`: three runs cut mid-posting

SLOW = "0.15"


@pytest.fixture(scope="module")
def slow(tmp_path_factory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("e2e-stop")
    ports = sandbox_ports()
    env = {**os.environ, "SAGE_AMAZON_DATA_DIR": str(data_dir), "SAGE_AMAZON_TARGET": "x3",
           "SAGE_AMAZON_STOP_GRACE_SECONDS": "30", "SANDBOX_X3_FAULT_SLOW": SLOW}
    env.pop("DAGSTER_HOME", None)
    cmd = [sys.executable, "-m", "sage_amazon.cli", "sandbox", "up", "--time-scale", "60", "--order-rate", "0",
           "--history-days", "8", *[f"--{name}-port={port}" for name, port in ports.items()]]
    up = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in up.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                env[name] = value.strip("'")
            if "Sandboxes running" in line:
                break
        else:
            pytest.fail(f"sandbox up exited with {up.wait()}")
        stack = Stack(env=env, data_dir=data_dir, target="x3")
        connected = stack.cli("amazon", "connect", timeout=60)
        assert connected.returncode == 0, connected.stderr + connected.stdout
        yield stack
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            up.kill()


def _orders(stack: Stack) -> dict[str, int]:
    """Sales orders in X3's own table: customer reference -> copies."""
    engine = sa.create_engine(f"sqlite:///{stack.data_dir / 'sandbox' / 'x3.sqlite'}")
    try:
        with engine.connect() as conn:
            return dict(conn.execute(sa.text("SELECT CUSORDREF_0, count(*) FROM SORDER GROUP BY CUSORDREF_0")).all())
    except sa.exc.OperationalError:  # the table is created with the first order
        return {}
    finally:
        engine.dispose()


def _period() -> list[str]:
    today = datetime.now(UTC).date()  # clock-ok: the sandbox and the run share the machine's clock
    return ["--start", (today - timedelta(days=3)).isoformat(), "--end", (today - timedelta(days=1)).isoformat()]


def _run_until_posting(stack: Stack, more_than: int, timeout: float = 300) -> subprocess.Popen:
    """Start `run` and return once it has posted a few more orders to X3 than before."""
    proc = subprocess.Popen([sys.executable, "-m", "sage_amazon.cli", "run", *_period()], cwd=ROOT, env=stack.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while len(_orders(stack)) < more_than + 3:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended ({proc.returncode}) before posting 3 more orders:\n{out[-3000:]}{err[-2000:]}")
        assert time.monotonic() < deadline, "the run posted nothing in time"
        time.sleep(0.2)
    return proc


def _assert_once(stack: Stack) -> None:
    copies = _orders(stack)
    assert copies and max(copies.values()) == 1, {k: n for k, n in copies.items() if n > 1}


def test_kill_then_ctrl_c_then_sigterm_then_the_run_completes_exactly_once(slow):
    killed = _run_until_posting(slow, 0)
    killed.send_signal(signal.SIGKILL)  # a reboot mid-posting: pool slots, the run record and 'sending' left behind
    killed.communicate()
    at_kill = len(_orders(slow))
    _assert_once(slow)

    for signo, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        before = len(_orders(slow))
        proc = _run_until_posting(slow, before)  # so nothing the killed run left blocks it
        began = time.monotonic()
        proc.send_signal(signo)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == code, out[-3000:] + err[-3000:]
        assert time.monotonic() - began < 60, "the stop took too long"
        assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err, out[-3000:] + err[-3000:]
        assert "stopping at the next safe point" in err
        assert "STOPPED" in out and "posted to Sage during this run" in out, out[-3000:]
        _assert_once(slow)
        print(f"{signo!r}: exit {proc.returncode} {time.monotonic() - began:.1f} s after the signal, "
              f"{len(_orders(slow))} orders in Sage\n{out[-1500:]}")

    stopped_at = len(_orders(slow))
    began = time.monotonic()
    final = slow.cli("run", *_period(), timeout=600)
    took = time.monotonic() - began
    print(final.stdout[-3000:])
    assert final.returncode in (0, 3), final.stdout[-4000:] + final.stderr[-4000:]
    assert "Traceback" not in final.stdout + final.stderr
    assert took < 300, f"the run after the stops took {took:.0f} s"
    _assert_once(slow)
    assert len(_orders(slow)) > stopped_at > at_kill
    again = slow.cli("run", *_period(), timeout=600)  # and nothing more the next time
    assert again.returncode in (0, 3), again.stdout[-4000:] + again.stderr[-4000:]
    _assert_once(slow)
    print(f"killed at {at_kill} orders, stopped at {stopped_at}, completed with {len(_orders(slow))} in {took:.0f} s")
