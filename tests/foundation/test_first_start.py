"""Safe first start: four commands started at once on an empty data dir create the Dagster instance and
the warehouse once (one alembic_version row per SQLite database), all succeed, and the instance works
afterwards: a settlement imported and run through Dagster against the Sage X3 sandbox posts."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path("/work/shared/samples/settlement")
FILES = ROOT / "tests" / "settlements" / "files"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _settlement_files() -> tuple[Path, Path]:
    first = FILES / "de-v2-local.txt"
    second = FILES / "jp-v2-yen.txt"
    return first, second


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sage_amazon.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_four_commands_at_once_on_an_empty_data_dir_then_a_run(tmp_path):
    x3_port = _free_port()
    data = tmp_path / "data"  # does not exist yet
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update({"SAGE_AMAZON_DATA_DIR": str(data), "SAGE_AMAZON_TARGET": "x3",
                "SAGE_X3_URL": f"http://127.0.0.1:{x3_port}"})
    first, second = _settlement_files()
    procs = [_cli("settlement", "import", str(f), env=env) for f in (first, first, second, second)]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode == 0 and "Traceback" not in output, output
    # the same file imported twice at once: stored once, the other import saw the same content
    assert sum("already imported" in o for o in outputs[:2]) == 1, outputs[:2]
    home = data / "dagster_home"
    for db in ("history/runs.db", "schedules/schedules.db", "history/runs/index.db"):
        with sqlite3.connect(home / db) as con:
            assert con.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1, db
    assert not list((data / "raw" / "settlements").glob("*.tmp"))

    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        partitions = instance.get_dynamic_partitions("settlement_ids")
    assert len(partitions) == 2, partitions

    # the instance works: a run through Dagster, recorded in it, posting to the X3 sandbox
    x3 = subprocess.Popen([sys.executable, "-m", "sage_amazon.cli", "sandbox", "x3", "--port", str(x3_port)],
                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", x3_port)) == 0:
                    break
            time.sleep(0.2)
        done = subprocess.run([sys.executable, "-m", "sage_amazon.cli", "settlement", "import", str(first), "--run"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "settlement_job succeeded" in done.stdout, done.stdout
    finally:
        x3.terminate()
        x3.wait(timeout=20)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
    assert [r.job_name for r in runs] == ["settlement_job"] and runs[0].is_success
    assert " DEBUG " not in done.stdout + done.stderr  # progress lines, not Dagster's debug log

    # `settlement remove`: refused for the posted settlement (one line), done for the one never run
    posted_id, other_id = (re.search(r"^settlement (\S+) \(", outputs[i], re.M).group(1) for i in (0, 2))
    refused = subprocess.run([sys.executable, "-m", "sage_amazon.cli", "settlement", "remove", posted_id],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().count("\n") == 0 and "already in Sage" in refused.stderr, refused.stderr
    removed = subprocess.run([sys.executable, "-m", "sage_amazon.cli", "settlement", "remove", other_id],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert removed.returncode == 0 and f"settlement {other_id} removed" in removed.stdout, removed.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_dynamic_partitions("settlement_ids") == [posted_id]
