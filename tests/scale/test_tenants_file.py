"""The tenants file and a tenant's code location (issue 19.1), without workers: fast, part of `make test`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sage_amazon.config import ConfigError
from sage_amazon.tenants import tenants_file

ROOT = Path(__file__).resolve().parents[2]


def _entry(name: str, root: Path, **extra) -> dict:
    return {"name": name, "queue": "worker_1", "data_root": str(root / name),
            "sage": {"target": "x3", "company": name.upper(), "url": "http://127.0.0.1:1", "user": "WS",
                     "password_env": f"{name.upper()}_X3_PASSWORD"},
            "amazon": {"lwa_app_id": "app", "lwa_client_secret_env": "LWA_SECRET_OF_INTEGRATOR",
                       "accounts": [{"name": "eu", "region": "EU", "marketplaces": ["A1F83G8C2ARO7P"],
                                     "refresh_token_env": f"{name.upper()}_TOKEN_EU"},
                                    {"name": "na", "region": "NA", "marketplaces": ["ATVPDKIKX0DER"],
                                     "refresh_token_env": f"{name.upper()}_TOKEN_NA"}]},
            "settings": {"SAGE_AMAZON_START_DATE": "2026-02-01"}, **extra}


def _write(tmp_path: Path, *entries: dict) -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump({"tenants": list(entries)}))
    return path


SECRETS = {"ACME_X3_PASSWORD": "pw-acme", "LWA_SECRET_OF_INTEGRATOR": "lwa-secret", "ACME_TOKEN_EU": "tok-eu",
           "ACME_TOKEN_NA": "tok-na"}


def test_a_tenant_becomes_its_settings_with_secrets_from_the_variables_named(tmp_path):
    (tenant,) = tenants_file.load(_write(tmp_path, _entry("acme", tmp_path)))
    env = tenants_file.tenant_env(tenant, {**SECRETS, "SAGE_X3_PASSWORD": "someone else's"})
    assert env["SAGE_AMAZON_TENANT"] == "acme" and env["SAGE_AMAZON_DATA_DIR"] == str(tmp_path / "acme")
    assert env["SAGE_X3_PASSWORD"] == "pw-acme" and env["LWA_CLIENT_SECRET"] == "lwa-secret"
    assert env["SAGE_X3_FOLDER"] == "ACME" and env["SAGE_AMAZON_START_DATE"] == "2026-02-01"
    assert env["SP_API_MARKETPLACES"] == "A1F83G8C2ARO7P,ATVPDKIKX0DER"
    accounts = yaml.safe_load(Path(env["SAGE_AMAZON_ACCOUNTS_FILE"]).read_text())["accounts"]
    assert [a["refresh_token_env"] for a in accounts] == ["ACME_TOKEN_EU", "ACME_TOKEN_NA"]
    assert "tok-eu" not in Path(env["SAGE_AMAZON_ACCOUNTS_FILE"]).read_text()  # the file names the variable only
    assert env["ACME_TOKEN_EU"] == "tok-eu"


@pytest.mark.parametrize(("change", "says"), [
    ({"sage": {"target": "x3", "password": "hunter2"}}, "sage.password is a secret"),
    ({"name": "Acme-1"}, "name must match"),
    ({"queue": ""}, "queue must name the Celery queue"),
    ({"settings": {"SAGE_X3_PASSWORD": "x"}}, "not SAGE_X3_PASSWORD"),
    ({"sage": {"target": "oracle"}}, "sage.target must be one of x3, sage500"),
])
def test_a_bad_entry_is_one_line_naming_the_tenant(tmp_path, change, says):
    with pytest.raises(ConfigError) as caught:
        tenants_file.load(_write(tmp_path, {**_entry("acme", tmp_path), **change}))
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_missing_secret_variable_is_named(tmp_path):
    (tenant,) = tenants_file.load(_write(tmp_path, _entry("acme", tmp_path)))
    with pytest.raises(ConfigError, match=r"tenant acme: .*\(ACME_X3_PASSWORD\) is not set"):
        tenants_file.tenant_env(tenant, {k: v for k, v in SECRETS.items() if k != "ACME_X3_PASSWORD"})


def test_a_tenants_code_location_has_its_pools_tags_and_stage_jobs(tmp_path):
    """A fresh process loads the location `sage_amazon.tenants.location:acme`, as a code server and a worker do."""
    path = _write(tmp_path, _entry("acme", tmp_path, automation="off"), _entry("globex", tmp_path, queue="worker_2"))
    code = """if True:
        import json, sage_amazon.tenants.location as location
        from sage_amazon.tenants.coordinator import tenant_tags
        defs = location.acme
        graph = defs.resolve_asset_graph()
        jobs = {j.name: dict(j.tags or {}) for j in defs.jobs if j.name.startswith("tenant_")}
        print(json.dumps({"pools": sorted({p for n in graph.asset_nodes for p in n.pools or ()}),
                          "jobs": jobs, "sensors": len(list(defs.sensors or [])),
                          "tags": [tenant_tags("tenant_globex"), tenant_tags("sage_amazon")],
                          "data_dir": __import__("os").environ["SAGE_AMAZON_DATA_DIR"]}))
        try:
            location.globex
        except Exception as exc:
            print(type(exc).__name__)
    """
    env = {**os.environ, **SECRETS, "GLOBEX_X3_PASSWORD": "g", "GLOBEX_TOKEN_EU": "g", "GLOBEX_TOKEN_NA": "g",
           "SAGE_AMAZON_TENANTS_FILE": str(path), "SAGE_AMAZON_DATA_DIR": str(tmp_path / "not-a-tenant")}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    found = json.loads(lines[-2])
    assert found["pools"] == ["acme/duckdb_write", "acme/sage_x3", "acme/sp_api_eu_na"]
    assert found["data_dir"] == str(tmp_path / "acme")
    assert found["sensors"] == 0  # automation: off
    assert "tenant_settlement_discovery" in found["jobs"]
    assert any(name.endswith("_daily") for name in found["jobs"])
    assert all(tags["sage_amazon/tenant"] == "acme" for tags in found["jobs"].values())
    assert found["tags"] == [{"sage_amazon/tenant": "globex", "dagster-celery/queue": "worker_2"}, {}]
    assert lines[-1] == "DagsterInvariantViolationError"  # one process serves one tenant
