"""The production instance config (deploy/dagster.yaml) on the PostgreSQL server of our machines."""

import shutil
import uuid
from pathlib import Path

import pytest

from tests import postgres as pg_server

ROOT = Path(__file__).resolve().parents[2]
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def _admin_connection():
    import psycopg2

    pg_server.require()
    conn = psycopg2.connect(dbname="postgres", connect_timeout=3, **PG)
    conn.autocommit = True
    return conn


@pytest.fixture
def pg_database():
    name = f"sage_amazon_test_{uuid.uuid4().hex[:10]}"
    admin = _admin_connection()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_a_materialization_is_stored_in_postgresql(tmp_path, monkeypatch, pg_database):
    import dagster as dg
    import sqlalchemy as sa

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    for var, value in {
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_DB": pg_database,
        "DAGSTER_PG_PORT": "5432",
    }.items():
        monkeypatch.setenv(var, value)

    from resources.warehouse import WarehouseResource

    @dg.asset(pool="duckdb_write", kinds={"duckdb"})
    def pg_smoke(warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.write() as con:
            con.execute("CREATE OR REPLACE TABLE ops.pg_smoke AS SELECT 42 AS answer")
        return dg.MaterializeResult(metadata={"dagster/row_count": 1})

    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dg.materialize(
            [pg_smoke],
            instance=instance,
            resources={"warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb"))},
        )
        assert result.success
        run_id = result.run_id

    engine = sa.create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{pg_database}")
    try:
        with engine.connect() as conn:
            status = conn.execute(sa.text("SELECT status FROM runs WHERE run_id = :r"), {"r": run_id}).scalar()
            materializations = conn.execute(
                sa.text(
                    "SELECT count(*) FROM event_logs WHERE run_id = :r AND dagster_event_type = 'ASSET_MATERIALIZATION'"
                ),
                {"r": run_id},
            ).scalar()
    finally:
        engine.dispose()
    assert status == "SUCCESS"
    assert materializations == 1
