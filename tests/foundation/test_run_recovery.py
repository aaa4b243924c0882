"""Crash-safe and stoppable runs (issues 20.1, 21.2): a run killed with kill -9 while it holds a pool slot
leaves nothing that blocks the next command; a pool slot held by a live run is waited for with a line and
given up after a bounded time; a stop request ends the run at a chunk boundary, canceled, slots freed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest

from sage_amazon import instance as embedded
from sage_amazon import stopping
from sage_amazon.runner import EXIT_FAILED, EXIT_SIGTERM, RunStopped, execute, recover_dead_runs

ROOT = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent("""
    import sys, time, dagster as dg
    from sage_amazon.runner import execute

    @dg.asset(pool="duckdb_write")
    def holder():
        print("HOLDING", flush=True)
        time.sleep(600)

    job = dg.Definitions(assets=[holder], jobs=[dg.define_asset_job("hold", selection=[holder])]).resolve_job_def("hold")
    with dg.DagsterInstance.get() as instance:
        execute(job, instance)
""")


@dg.asset(pool="duckdb_write")
def quick():
    return 1


def _job(asset) -> dg.JobDefinition:
    return dg.Definitions(assets=[asset], jobs=[dg.define_asset_job("j", selection=[asset])]).resolve_job_def("j")


@pytest.fixture()
def home(tmp_path, monkeypatch):
    path = embedded.ensure_home(tmp_path / "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", str(path))
    stopping.reset()
    yield path
    stopping.reset()


def _holder(home: Path) -> subprocess.Popen:
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if "HOLDING" in line:
            return proc
        assert time.monotonic() < deadline, "the holder never took its slot"
    pytest.fail(f"holder exited {proc.wait()}")


def test_a_killed_run_does_not_block_the_next(home, capsys):
    proc = _holder(home)
    with dg.DagsterInstance.get() as instance:
        held = instance.event_log_storage.get_concurrency_info("duckdb_write").claimed_slots
        assert len(held) == 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

        lines = recover_dead_runs(instance)
        assert any("marked failed" in line for line in lines), lines
        assert instance.event_log_storage.get_concurrency_info("duckdb_write").claimed_slots == []
        dead = instance.get_run_by_id(held[0].run_id)
        assert dead.status == dg.DagsterRunStatus.FAILURE

        capsys.readouterr()
        result = execute(_job(quick), instance)
        assert result.success
        assert "waits for a slot" not in capsys.readouterr().out  # never waited (not: was fast enough)
        assert recover_dead_runs(instance) == []  # nothing left to recover


def test_a_slot_held_by_a_live_run_is_given_up_after_the_budget(home, monkeypatch, capsys):
    monkeypatch.setenv("SAGE_AMAZON_POOL_WAIT_SECONDS", "3")
    proc = _holder(home)
    try:
        with dg.DagsterInstance.get() as instance:
            assert recover_dead_runs(instance) == []  # alive: left alone
            with pytest.raises(RunStopped) as stopped:
                execute(_job(quick), instance)
            assert stopped.value.code == EXIT_FAILED
            assert "pool duckdb_write" in str(stopped.value) and "gave up after 3 s" in str(stopped.value)
            out = capsys.readouterr().out
            assert "waits for a slot of pool duckdb_write (held by run" in out
            mine = [r for r in instance.get_runs() if r.tags.get("sage_amazon/pid") == str(os.getpid())]
            assert [r.status for r in mine] == [dg.DagsterRunStatus.FAILURE]
            assert all(slot.run_id != mine[0].run_id
                       for slot in instance.event_log_storage.get_concurrency_info("duckdb_write").claimed_slots)
    finally:
        proc.kill()
        proc.wait(timeout=30)


CHUNKS_DONE: list[int] = []


@dg.asset(pool="duckdb_write")
def chunked():
    for n in range(100):
        if n == 5:  # SIGTERM arrives while the load runs (the handler only sets the flag)
            stopping.request("stopped by SIGTERM")
        with stopping.chunk(f"{100 - n} chunk(s) not done"):
            time.sleep(0.05)
            CHUNKS_DONE.append(n)
    return len(CHUNKS_DONE)


def test_a_stop_request_ends_the_run_between_chunks(home):
    CHUNKS_DONE.clear()
    with dg.DagsterInstance.get() as instance:
        with pytest.raises(RunStopped) as stopped:
            result = execute(_job(chunked), instance)
            assert not result.success  # the load raised Stopped: the run ended itself
            execute(_job(quick), instance)  # the next stage is not started
        assert stopped.value.code == EXIT_SIGTERM
        assert CHUNKS_DONE == [0, 1, 2, 3, 4]  # stopped at the next chunk boundary (however slow the machine)
        assert instance.event_log_storage.get_concurrency_info("duckdb_write").claimed_slots == []
        assert all(r.is_finished for r in instance.get_runs())


def test_a_stale_snapshot_is_refreshed_at_the_start_of_the_next_command(tmp_path):
    """Issue 21.6: a run killed after writing leaves the readers' copy older than the warehouse."""
    from sage_amazon.warehouse import Warehouse

    warehouse = Warehouse(tmp_path / "sage_amazon.duckdb")
    with warehouse.write() as con:
        con.execute("CREATE TABLE ops.t AS SELECT 1 AS x")
    warehouse.refresh_snapshot()
    assert not warehouse.snapshot_is_stale()
    with warehouse.write() as con:
        con.execute("INSERT INTO ops.t VALUES (2)")
    os.utime(warehouse.snapshot_path, (1, 1))  # as if the run was killed before its end-of-run copy
    assert warehouse.snapshot_is_stale()
    assert warehouse.refresh_snapshot_if_stale()
    assert not warehouse.snapshot_is_stale() and not warehouse.refresh_snapshot_if_stale()
    import duckdb

    con = duckdb.connect(str(warehouse.snapshot_path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM ops.t").fetchone()[0] == 2
    finally:
        con.close()


def test_a_daemon_run_from_before_a_restart_is_recovered_and_one_since_is_left_alone(home, monkeypatch):
    """A run with no pid tag (the daemon launched it) that was created before the machine booted cannot be
    running any more (power loss, reboot): the next command marks it failed and frees its slots."""
    import sage_amazon.runner.recovery as runner

    with dg.DagsterInstance.get() as instance:
        runs = []
        for _ in range(2):
            run = instance.create_run_for_job(_job(quick))
            instance.handle_run_event(run.run_id, dg.DagsterEvent(
                event_type_value=dg.DagsterEventType.RUN_START.value, job_name=run.job_name))
            runs.append(run)
            time.sleep(1.1)  # clock-ok: only orders the two creation times
        before, since = runs
        created = {r.dagster_run.run_id: r.create_timestamp.timestamp() for r in instance.get_run_records()}
        assert created[before.run_id] < created[since.run_id]
        monkeypatch.setattr(runner, "_booted_at", lambda: (created[before.run_id] + created[since.run_id]) / 2)

        lines = recover_dead_runs(instance)

        assert any("before the machine restarted" in line for line in lines), lines
        assert instance.get_run_by_id(before.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(since.run_id).status == dg.DagsterRunStatus.STARTED
