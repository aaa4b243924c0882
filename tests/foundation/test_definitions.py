import ast
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_definition_resolves():
    from sage_amazon.definitions import defs

    graph = defs.resolve_asset_graph()
    assert graph.get_all_asset_keys(), "no assets"
    for job in defs.resolve_all_job_defs():
        assert job.name
    for sensor in defs.sensors or []:
        assert defs.resolve_sensor_def(sensor.name)
    for schedule in defs.schedules or []:
        assert defs.resolve_schedule_def(schedule.name)
    assert graph.asset_check_keys, "no asset checks"
    for key in graph.asset_check_keys:
        assert graph.get_check_spec(key).asset_key in graph.get_all_asset_keys()
    # every asset that writes DuckDB queues on the single-writer pool
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if "duckdb" in node.kinds:
            assert node.pools == {"duckdb_write"}, f"{key.to_user_string()} writes DuckDB outside duckdb_write"


def test_the_code_location_loads_in_under_three_seconds():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    best = min(
        _timed([sys.executable, "-c", "import sage_amazon.definitions"], env) for _ in range(2)
    )
    assert best < 3.0, f"code location took {best:.2f}s to load"


def _timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env=env, capture_output=True, timeout=60)
    return time.perf_counter() - start


def test_dagster_validates_the_workspace():
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all code locations passed validation" in (proc.stdout + proc.stderr).lower()


def test_the_domain_package_does_not_import_dagster():
    offenders = []
    for path in (ROOT / "sage_amazon").rglob("*.py"):
        if path.name == "definitions.py" and path.parent.name == "sage_amazon":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "dagster" or n.startswith(("dagster.", "dagster_")) for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_heavy_libraries_are_not_imported_when_the_code_location_loads():
    code = (
        "import sys, sage_amazon.definitions; "
        "print(','.join(m for m in ('great_expectations', 'pandas', 'fastapi', 'zeep') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""
