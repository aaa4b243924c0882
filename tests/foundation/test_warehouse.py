import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from sage_amazon.instance import ensure_home
from sage_amazon.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]


def test_two_runs_launched_at_once_both_succeed_and_a_reader_does_not_break_them(tmp_path):
    import dagster as dg

    home = ensure_home(tmp_path / "dagster_home")
    dg.DagsterInstance.from_config(str(home)).dispose()  # the instance exists before runs are launched
    warehouse_path = tmp_path / "warehouse" / "w.duckdb"
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)}
    script = "tests.foundation.fixtures.concurrent_writer"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", script, str(warehouse_path), day],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for day in ("2026-11-01", "2026-11-02")
    ]
    reads: list[int] = []
    warehouse = Warehouse(warehouse_path)

    def reader() -> None:  # a UI preview polling while the runs write
        deadline = time.monotonic() + 120  # as long as the runs may take (a loaded machine starts them slowly)
        while time.monotonic() < deadline and any(p.poll() is None for p in procs):
            if warehouse_path.exists():
                with warehouse.read() as con:
                    tables = con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0]
                    reads.append(tables)
            time.sleep(0.05)

    thread = threading.Thread(target=reader)
    thread.start()
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    thread.join()
    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, output
    assert reads, "the reader never got a connection"
    with warehouse.read() as con:
        rows = con.execute("SELECT day, n FROM raw.slow_days ORDER BY day").fetchall()
    assert rows == [("2026-11-01", 1), ("2026-11-02", 1)]


def test_a_finance_snapshot_is_refreshed_after_writes(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb", snapshot_every=0)
    with warehouse.write() as con:
        con.execute("CREATE TABLE marts.x AS SELECT 1 AS a")
    import duckdb

    snap = duckdb.connect(str(warehouse.snapshot_path), read_only=True)
    try:
        assert snap.execute("SELECT a FROM marts.x").fetchall() == [(1,)]
        # while a client holds the snapshot open, runs keep writing the live file
        with warehouse.write() as con:
            con.execute("INSERT INTO marts.x VALUES (2)")
    finally:
        snap.close()
    with warehouse.read() as con:
        assert con.execute("SELECT count(*) FROM marts.x").fetchone()[0] == 2
