from __future__ import annotations

import pytest


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A data dir of its own (the warehouse, raw files, the Dagster instance), for this process and its children."""
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("SAGE_AMAZON_DATA_DIR", str(path))
    monkeypatch.setenv("DAGSTER_HOME", str(path / "dagster_home"))
    (path / "dagster_home").mkdir()
    return path


@pytest.fixture
def warehouse(data_dir):
    from sage_amazon import config
    from sage_amazon.warehouse import Warehouse

    return Warehouse(config.load().warehouse_path, lock_timeout=120, snapshot_every=0)


@pytest.fixture
def instance():
    import dagster as dg

    with dg.DagsterInstance.ephemeral() as inst:
        yield inst
