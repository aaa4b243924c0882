"""House figures (issue 11): what a process costs before and while it does the work.

1. Code location load: a fresh process imports sage_amazon.definitions, builds the Definitions and resolves
   the asset graph and every job (what `dg check defs`, the webserver and every run worker pay), against a
   fresh process that only imports dagster.
2. Settlement file -> validated journal lines, whole process (interpreter start, imports, work), against a
   process that only has DuckDB read the same file (python -c + read_csv into a table).
3. One settlement from file to Sage journals (X3 sandbox), two ways, each on a fresh data dir:
   - CLI: `sage-amazon settlement import FILE --run` (wall time of the command);
   - sensor path: the settlement partition's run launched through the instance's run launcher (a new run
     process, as a sensor's run request gets), from the run's creation to its end. The Great Expectations suite
     that follows in its own run (settlement_expectations_job) is timed separately: it is off the critical path.

    .venv/bin/python bench/bench_house.py [--lines N] [--settlement-lines N] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# the instance a daemon would use, without the queue (runs start at once) so launch-to-end is the run's cost
_LAUNCH_YAML = """\
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""


def _wall(cmd: list[str], env: dict | None = None, cwd: Path = ROOT) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({proc.returncode}):\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
    return seconds


def _figure(name: str, figure: float, baseline: float, baseline_name: str, unit: str = "s") -> None:
    print(json.dumps({"name": name, "figure": round(figure, 3), "unit": unit, "baseline": round(baseline, 3),
                      "baseline_name": baseline_name, "ratio": round(figure / baseline, 3) if baseline else None}))


def code_location(repeat: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    build = ("import sage_amazon.definitions as d; d.defs.resolve_asset_graph(); "
             "[j.name for j in d.defs.resolve_all_job_defs()]")
    ours = min(_wall([sys.executable, "-c", build], env) for _ in range(repeat))
    bare = min(_wall([sys.executable, "-c", "import dagster"], env) for _ in range(repeat))
    _figure("code location load (process: import + build Definitions + resolve graph and jobs)", ours, bare,
            "process importing dagster alone")


def settlement_file(lines: int, repeat: int) -> None:
    from bench.bench_settlement_load import _file

    path = _file(lines)
    script = str(ROOT / "bench" / "bench_settlement_load.py")
    ours = min(_wall([sys.executable, script, "--child", "pipeline", str(path), ":memory:"]) for _ in range(repeat))
    duck = min(_wall([sys.executable, script, "--child", "baseline", str(path), ":memory:"]) for _ in range(repeat))
    _figure(f"settlement {lines:,} lines: file -> validated journal lines, whole process", ours, duck,
            "process with DuckDB reading the file")


def _env(data_dir: Path, x3, home: Path) -> dict:
    # a loaded machine may take longer than the 60 s Dagster allows the code server to start a run by default
    return {**os.environ, "PYTHONPATH": str(ROOT), "SAGE_AMAZON_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(home),
            "DAGSTER_GRPC_TIMEOUT_SECONDS": os.environ.get("DAGSTER_GRPC_TIMEOUT_SECONDS", "600"),
            "SAGE_AMAZON_TARGET": "x3", "SAGE_X3_URL": x3.url, "SAGE_X3_USER": x3.user,
            "SAGE_X3_PASSWORD": x3.password, "SAGE_X3_POOL": x3.pool, "SAGE_X3_FOLDER": x3.folder}


def _wait_for_run(home: Path, env: dict, run_id: str, timeout: float = 300) -> tuple[bool, float]:
    """Poll the instance (in a child, so this process never imports the project) until the run ends."""
    code = f"""
import time, dagster as dg
with dg.DagsterInstance.get() as inst:
    deadline = time.time() + {timeout}
    while time.time() < deadline:
        run = inst.get_run_by_id({run_id!r})
        if run is not None and run.is_finished:
            rec = inst.get_run_record_by_id({run_id!r})
            print(run.status.value, (rec.end_time or 0) - (rec.create_timestamp.timestamp()))
            break
        time.sleep(0.1)
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT).stdout.split()
    return (bool(out) and out[0] == "SUCCESS"), float(out[1]) if len(out) > 1 else 0.0


def _launch(env: dict, job: str, tags: dict) -> tuple[bool, float]:
    import uuid

    run_id = str(uuid.uuid4())
    _wall([str(BIN / "dagster"), "job", "launch", "-w", "workspace.yaml", "-j", job, "--run-id", run_id,
           "--tags", json.dumps(tags)], env)
    # from the run's creation (what a sensor's run request does) to its end: the run process's start, its
    # code location load and the run; not the gRPC server `dagster job launch` starts (a daemon has one)
    return _wait_for_run(Path(env["DAGSTER_HOME"]), env, run_id)


def settlement_run(lines: int, repeat: int) -> None:
    from sage_amazon.sandbox.amazon.settlement_file import generate_settlement_file
    from sage_amazon.sandbox.x3 import running_x3

    work = Path(tempfile.mkdtemp(prefix="sage-amazon-bench-run-"))
    try:
        path = work / "settlement.txt"
        generate_settlement_file(path, lines, seed=7)
        cli, sensor, expectations = [], [], []
        for i in range(repeat):
            with running_x3(work / f"x3-cli-{i}") as x3:
                env = _env(work / f"cli-{i}", x3, work / f"cli-{i}" / "dagster_home")
                cli.append(_wall([str(BIN / "sage-amazon"), "settlement", "import", str(path), "--run"], env))
            with running_x3(work / f"x3-sensor-{i}") as x3:
                home = work / f"sensor-{i}" / "dagster_home"
                home.mkdir(parents=True)
                (home / "dagster.yaml").write_text(_LAUNCH_YAML)
                env = _env(work / f"sensor-{i}", x3, home)
                # the discovery sensor's part: the file kept under the data dir and its partition added
                out = subprocess.run([str(BIN / "sage-amazon"), "settlement", "import", str(path)], env=env,
                                     capture_output=True, text=True, check=True, cwd=ROOT).stdout
                sid = out.split()[1]
                ok, seconds = _launch(env, "settlement_job", {"dagster/partition": sid,
                                                             "sage_amazon/settlement_id": sid})
                if not ok:
                    raise SystemExit(f"sensor-path settlement run failed (DAGSTER_HOME {home})")
                sensor.append(seconds)
                ok, seconds = _launch(env, "settlement_expectations_job", {"sage_amazon/settlement_id": sid})
                if not ok:
                    raise SystemExit(f"settlement_expectations_job failed (DAGSTER_HOME {home})")
                expectations.append(seconds)
        print(f"settlement run ({lines} lines): CLI {min(cli):.2f}s, sensor path {min(sensor):.2f}s, "
              f"GX suite run after it {min(expectations):.2f}s", file=sys.stderr)
        _figure(f"one settlement ({lines:,} lines) to Sage X3, sensor path (run process launched)", min(sensor),
                min(cli), "sage-amazon settlement import --run (goal: ratio <= 2)")
        _figure("Great Expectations suite of that settlement, its own run (off the critical path)",
                min(expectations), min(sensor), "the settlement run it follows")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--settlement-lines", type=int, default=5_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=("load", "file", "run"))
    args = ap.parse_args()
    if args.only in (None, "load"):
        code_location(args.repeat)
    if args.only in (None, "file"):
        settlement_file(args.lines, args.repeat)
    if args.only in (None, "run"):
        settlement_run(args.settlement_lines, max(1, args.repeat - 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
