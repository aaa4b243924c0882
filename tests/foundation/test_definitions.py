import os
import subprocess
import sys
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


def test_asset_groups_are_flows_with_owners():
    from assets.flow import FLOW_TAG
    from assets.sql_models import LAYER_TAG
    from sage_amazon.definitions import FLOWS, defs

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.group_name in FLOWS, f"{name} is in group {node.group_name!r}, not a flow"
        assert node.tags.get(FLOW_TAG) == node.group_name, name
        assert node.owners, f"{name} has no owner"
        if "sql" in node.kinds:
            assert node.tags.get(LAYER_TAG) in ("staging", "marts"), name
    assert {graph.get(k).group_name for k in graph.get_all_asset_keys()} == set(FLOWS)


def test_warehouse_assets_name_their_table():
    from sage_amazon.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if "duckdb" in node.kinds:
            table = node.metadata.get("dagster/table_name")
            assert table and table.split(".")[0] in ("raw", "ref", "staging", "marts"), key.to_user_string()


def test_one_pool_per_scarce_thing():
    """Sage postings, SP-API calls and DuckDB-only work never queue behind one another."""
    from resources import pools
    from sage_amazon.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert len(node.pools) == 1 and node.pools <= set(pools.ALL), f"{name}: pools {node.pools}"
        if "sql" in node.kinds or node.kinds == {"duckdb"} or node.kinds == {"duckdb", "yaml"}:
            assert node.pools == {pools.DUCKDB_WRITE}, f"{name} only writes DuckDB: {node.pools}"
        elif "amazon" in node.kinds:  # extraction, report polls, confirmShipment
            assert node.pools == {pools.SP_API}, f"{name} calls the SP-API: {node.pools}"
        elif "sage" in node.kinds:  # postings and Sage reads
            assert node.pools == {pools.SAGE}, f"{name} calls Sage: {node.pools}"
    for checks in defs.asset_checks:  # checks of their own only read the warehouse
        # Great Expectations suites: one short locked read, then seconds of validation that hold no pool
        expected = None if "gx" in checks.op.name or "expectations" in checks.op.name else pools.DUCKDB_WRITE
        assert checks.op.pool == expected, checks.op.name
    assert pools.SAGE != pools.SP_API != pools.DUCKDB_WRITE


def test_jobs_select_by_flow():
    """Every job selects whole flows (or what they read): adding an asset to a flow adds it to its jobs."""
    from sage_amazon.definitions import defs

    graph = defs.resolve_asset_graph()
    by_group: dict[str, set] = {}
    for key in graph.get_all_asset_keys():
        by_group.setdefault(graph.get(key).group_name, set()).add(key)
    jobs = {job.name: set(job.asset_layer.selected_asset_keys) for job in defs.resolve_all_job_defs()}
    assert jobs["settlement_job"] == by_group["settlements"]
    assert jobs["order_changes_job"] == by_group["orders"]
    assert jobs["order_shipments_job"] == by_group["shipments"]
    assert jobs["mfn_confirmations_job"] == by_group["mfn"]
    assert by_group["orders"] | by_group["shipments"] <= jobs["orders_catchup_job"]


def test_dg_checks_the_definitions():
    venv_bin = Path(sys.executable).parent
    env = {**os.environ, "VIRTUAL_ENV": str(venv_bin.parent), "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([str(venv_bin / "dg"), "check", "defs"], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All definitions loaded successfully" in proc.stdout + proc.stderr


def test_heavy_libraries_are_not_imported_when_the_code_location_loads():
    code = (
        "import sys, sage_amazon.definitions; "
        "print(','.join(m for m in ('great_expectations', 'pandas', 'fastapi', 'zeep') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def test_run_tags_share_one_prefix():
    import assets.flow as flow
    from sage_amazon.definitions import defs

    names = [getattr(flow, n) for n in dir(flow) if n.endswith("_TAG")]
    assert names and all(n.startswith(flow.RUN_TAG_PREFIX) for n in names)
    for job in defs.resolve_all_job_defs():
        for key in job.tags:
            assert key.startswith((flow.RUN_TAG_PREFIX, "dagster/")), f"{job.name}: run tag {key}"
