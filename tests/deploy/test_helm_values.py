"""deploy/helm/values.yaml: values for Dagster's official Helm chart (issue 19.4), validated as `helm install`
validates them: the chart's default values with ours merged over them (Helm's coalescing), against the chart's
values.schema.json, for the chart and its dagster-user-deployments subchart.

The chart's schema and default values are copied in dagster_chart/ (THIRD_PARTY.md: no network at test time;
Helm itself is not needed). The Kubernetes objects the schema refers to (volumes, env vars, secrets...) are
validated against the Kubernetes JSON schemas that the kubernetes-validate package ships (the non-strict
variant, as the chart refers to: the chart itself adds keys such as startupProbe.enabled to Kubernetes objects).
"""

import copy
import functools
import importlib
import json
import re
from pathlib import Path

import jsonschema
import pytest
import referencing
import yaml
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
VALUES = ROOT / "deploy" / "helm" / "values.yaml"
CHART = Path(__file__).parent / "dagster_chart"
SUBCHART = "dagster-user-deployments"
K8S_VERSION = "v1.30.0"  # a Kubernetes version the chart supports (kubeVersion >= 1.18)
TENANT_TAG = "sage_amazon/tenant"
INSTANCE = ROOT / "deploy" / "celery" / "dagster.yaml"  # the many-sellers instance (docs/multi-seller.md)
TENANTS = ROOT / "deploy" / "compose" / "tenants.example.yaml"
TENANTS_FILE = "/opt/dagster/tenants/tenants.yaml"


def coalesce(defaults, overrides):
    """Helm's merge of user values over a chart's defaults: maps merge key by key, anything else (lists
    included) replaces, a null removes the key."""
    merged = copy.deepcopy(defaults)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@functools.cache
def _kubernetes_definitions():
    import kubernetes_validate

    path = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"{K8S_VERSION}-local"
    definitions = json.loads((path / "_definitions.json").read_text())
    # the chart refers to .../_definitions.json#/definitions/<name>; these files keep them under $defs
    definitions["definitions"] = definitions["$defs"]
    return definitions


def _retrieve(uri):
    if re.match(r"https://raw\.githubusercontent\.com/yannh/kubernetes-json-schema/master/v[\d.]+/_definitions"
                r"\.json$", uri):
        return referencing.Resource.from_contents(_kubernetes_definitions(), default_specification=DRAFT202012)
    raise referencing.exceptions.NoSuchResource(uri)


def validator(schema_path):
    schema = json.loads(schema_path.read_text())
    registry = referencing.Registry(retrieve=_retrieve)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def errors(validator_, values):
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
                  for e in validator_.iter_errors(values))


@pytest.fixture(scope="module")
def ours():
    return yaml.safe_load(VALUES.read_text())


@pytest.fixture(scope="module")
def chart():
    return validator(CHART / "values.schema.json"), yaml.safe_load((CHART / "values.yaml").read_text())


@pytest.fixture(scope="module")
def subchart():
    return (validator(CHART / SUBCHART / "values.schema.json"),
            yaml.safe_load((CHART / SUBCHART / "values.yaml").read_text()))


def test_values_validate_against_the_chart_schema(ours, chart):
    schema, defaults = chart
    assert errors(schema, coalesce(defaults, ours)) == []


def test_user_deployments_validate_against_the_subchart_schema(ours, subchart):
    schema, defaults = subchart
    assert ours[SUBCHART]["enableSubchart"] is True
    assert errors(schema, coalesce(defaults, ours[SUBCHART])) == []


def test_the_schema_refuses_mistakes(ours, chart, subchart):
    """The check is live: a misspelt run launcher key, a volume without its claim name, a secret reference
    whose name is not a string and a run coordinator limit without its tag key are each refused."""
    schema, defaults = chart
    sub_schema, sub_defaults = subchart
    bad = copy.deepcopy(ours)
    bad["runLauncher"]["config"]["k8sRunLauncher"]["envSecret"] = [{"name": "x"}]
    assert any("envSecret" in e for e in errors(schema, coalesce(defaults, bad)))
    bad = copy.deepcopy(ours)
    bad[SUBCHART]["deployments"][0]["volumes"][1]["persistentVolumeClaim"] = {"claim": "data"}
    assert errors(sub_schema, coalesce(sub_defaults, bad[SUBCHART]))
    bad = copy.deepcopy(ours)
    bad[SUBCHART]["deployments"][0]["envSecrets"] = [{"name": ["sage-amazon-acme"]}]
    assert errors(sub_schema, coalesce(sub_defaults, bad[SUBCHART]))
    bad = copy.deepcopy(ours)
    del bad["concurrency"]["runs"]["tagConcurrencyLimits"][0]["key"]
    assert errors(schema, coalesce(defaults, bad))
    bad = copy.deepcopy(ours)
    bad["dagsterDaemon"]["runCoordinator"]["config"]["customRunCoordinator"]["klass"] = "TenantRunCoordinator"
    assert errors(schema, coalesce(defaults, bad))


def test_one_code_location_per_tenant_with_its_own_data_root_and_secrets(ours):
    """Each tenant of the tenants file (the Compose example's, read by the product's reader) has a code server
    loading its attribute of sage_amazon.tenants.location, listed in the workspace as tenant_<name>; its run
    Jobs get its Secret and its volume mounted at its data root; no two tenants share a claim."""
    from sage_amazon.tenants.tenants_file import load

    tenants = {t.name: t for t in load(TENANTS)}
    deployments = ours[SUBCHART]["deployments"]
    servers = {s["host"]: s for s in ours["dagsterWebserver"]["workspace"]["servers"]}
    assert ours["dagsterWebserver"]["workspace"]["enabled"] is True
    claims = []
    for deployment in deployments:
        args = deployment["codeServerArgs"]
        assert args[args.index("-m") + 1] == "sage_amazon.tenants.location"
        tenant = tenants[args[args.index("-a") + 1]]
        assert deployment["name"] == f"tenant-{tenant.name}"
        server = servers[deployment["name"]]
        assert (server["port"], server["name"]) == (deployment["port"], tenant.location)
        assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
        assert deployment["envSecrets"] == [{"name": f"sage-amazon-{tenant.name}"}]
        assert {"name": "SAGE_AMAZON_TENANTS_FILE", "value": TENANTS_FILE} in deployment["env"]
        volumes = {v["name"]: v for v in deployment["volumes"]}
        mounted = {m["mountPath"]: volumes[m["name"]] for m in deployment["volumeMounts"]}
        assert "persistentVolumeClaim" in mounted[str(tenant.data_root)], "the data root is the tenant's claim"
        claims.append(mounted[str(tenant.data_root)]["persistentVolumeClaim"]["claimName"])
        assert mounted[str(Path(TENANTS_FILE).parent)]["configMap"]["name"] == "sage-amazon-tenants"
        assert "resources" not in deployment, "a user deployment's resources would be its run Jobs' too"
    assert sorted(d["name"] for d in deployments) == sorted(servers) == sorted(f"tenant-{n}" for n in tenants)
    assert len(set(claims)) == len(claims)
    assert ours["runLauncher"]["type"] == "K8sRunLauncher"


def test_the_tenants_run_coordinator_and_the_instance_rules(ours):
    """The daemon and the webserver run the project's image with the tenants' run coordinator (a
    QueuedRunCoordinator that tags each run with its tenant) and the tenants file; the run queue and the pools
    follow the same rules as the Celery instance (deploy/celery/dagster.yaml)."""
    from dagster._core.run_coordinator import QueuedRunCoordinator

    instance = yaml.safe_load(INSTANCE.read_text())
    coordinator = ours["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] and coordinator["type"] == "CustomRunCoordinator"
    custom = coordinator["config"]["customRunCoordinator"]
    assert (custom["module"], custom["class"]) == (instance["run_coordinator"]["module"],
                                                   instance["run_coordinator"]["class"])
    module = importlib.import_module(custom["module"])
    assert issubclass(getattr(module, custom["class"]), QueuedRunCoordinator)
    image = ours["dagsterWebserver"]["image"]
    assert ours["dagsterDaemon"]["image"] == image == ours[SUBCHART]["deployments"][0]["image"]
    for part in ("dagsterWebserver", "dagsterDaemon"):
        assert {"name": "SAGE_AMAZON_TENANTS_FILE", "value": TENANTS_FILE} in ours[part]["env"]
        assert ours[part]["volumeMounts"][0]["mountPath"] == str(Path(TENANTS_FILE).parent)
    assert ours["concurrency"]["enabled"] is True
    ours_limit = next(x for x in ours["concurrency"]["runs"]["tagConcurrencyLimits"] if x["key"] == TENANT_TAG)
    instance_limit = next(x for x in instance["concurrency"]["runs"]["tag_concurrency_limits"]
                          if x["key"] == TENANT_TAG)
    assert ours_limit == instance_limit
    assert ours["concurrency"]["pools"]["defaultLimit"] == instance["concurrency"]["pools"]["default_limit"]
    assert ours["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"


def test_secrets_are_only_referenced(ours):
    """No password in the values: the chart reads the PostgreSQL password from an existing Secret, tenants'
    secrets come from their Secrets; the chart's default test password is never used."""
    assert ours["generatePostgresqlPasswordSecret"] is False
    assert ours["global"]["postgresqlSecretName"]
    assert ours["postgresql"]["enabled"] is False and "postgresqlPassword" not in ours["postgresql"]

    def walk(node, path=""):
        if isinstance(node, dict):
            for key, value in node.items():
                if re.search(r"password|secret|token", key, re.I) and isinstance(value, str):
                    assert key.endswith("SecretName"), f"{path}/{key} holds a value: secrets go in K8s Secrets"
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, path)
        elif isinstance(node, str):
            assert not re.search(r"://[^/\s]*:[^@/\s]+@", node), f"{path}: a URL with a password"

    walk(ours)
