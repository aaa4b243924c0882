"""deploy/compose/: the Docker Compose deployment (issue 19.4) is a valid Compose file whose services match the
Dagster instance they share (deploy/compose/dagster.yaml), and the image it builds runs this code location.

`docker compose config` checks the file when the compose plugin is present. Without it (this machine has the
docker CLI but no compose plugin and no daemon) the file is still checked the way `docker compose config` does:
variables interpolated as Compose does, then validated against the Compose Specification's JSON schema
(compose_spec/, see THIRD_PARTY.md), then the references between services, volumes and files are resolved.
"""

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yaml"
SPEC = Path(__file__).parent / "compose_spec" / "compose-spec.json"
DAGSTER_HOME = "/opt/dagster/dagster_home"  # where the Dockerfile puts dagster.yaml, celery.yaml, workspace.yaml
TENANT_TAG = "sage_amazon/tenant"
ENV = {"DAGSTER_PG_PASSWORD": "pg-test-password", "RABBITMQ_PASSWORD": "mq-test-password"}

_VARIABLE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>.*))?$", re.S)


class InterpolationError(ValueError):
    pass


def interpolate(value, env):
    """Compose's variable interpolation: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error},
    ${VAR?error}, ${VAR:+alt}, ${VAR+alt}, and $$ for a literal $ (compose-spec, 'Interpolation')."""
    if isinstance(value, dict):
        return {interpolate(k, env): interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match):
        if match["escaped"]:
            return "$"
        if match["named"]:
            return env.get(match["named"], "")
        braced = _BRACED.match(match["braced"])
        if not braced:
            raise InterpolationError(f"invalid interpolation format: ${{{match['braced']}}}")
        name, op, arg = braced["name"], braced["op"], braced["arg"] or ""
        is_set, non_empty = name in env, bool(env.get(name))
        if op == ":-":
            return env[name] if non_empty else interpolate(arg, env)
        if op == "-":
            return env[name] if is_set else interpolate(arg, env)
        if op in (":?", "?"):
            if (op == ":?" and not non_empty) or (op == "?" and not is_set):
                raise InterpolationError(f"required variable {name} is missing a value: {arg}")
            return env[name]
        if op == ":+":
            return interpolate(arg, env) if non_empty else ""
        if op == "+":
            return interpolate(arg, env) if is_set else ""
        return env.get(name, "")

    return _VARIABLE.sub(one, value)


def load_compose(env):
    """The Compose model as `docker compose config` builds it: YAML (anchors and merge keys resolved by the
    YAML loader), variables interpolated, then validated against the Compose Specification."""
    model = interpolate(yaml.safe_load(COMPOSE_FILE.read_text()), env)
    jsonschema.Draft7Validator(json.loads(SPEC.read_text())).validate(model)
    return model


def environment(service) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return env


def dagster_services(model) -> dict:
    """Every service running a Dagster process (the project's image), by name."""
    return {name: s for name, s in model["services"].items() if "build" in s or "sage-amazon" in s["image"]}


def option(command, flag):
    return command[command.index(flag) + 1]


@pytest.fixture(scope="module")
def model():
    return load_compose(ENV)


@pytest.fixture(scope="module")
def instance_config():
    return yaml.safe_load((COMPOSE_DIR / "dagster.yaml").read_text())


@pytest.fixture(scope="module")
def workspace():
    return yaml.safe_load((COMPOSE_DIR / "workspace.yaml").read_text())


@pytest.fixture(scope="module")
def tenants(workspace):
    return [entry["grpc_server"]["location_name"] for entry in workspace["load_from"]]


def test_docker_compose_config_accepts_the_file(tmp_path):
    """The real `docker compose config` where the compose plugin exists; the Compose Specification schema and
    Compose's interpolation always (the same checks, without Docker)."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for tenant in ("acme", "globex"):
        (secrets / f"{tenant}.env").write_text("LWA_CLIENT_SECRET=not-a-real-secret\n")
    env = {**ENV, "SAGE_AMAZON_SECRETS_DIR": str(secrets), "SAGE_AMAZON_TENANTS_DIR": str(tmp_path)}
    model = load_compose(env)
    assert model["name"] == "sage-amazon"
    docker = shutil.which("docker")
    has_compose = docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    if has_compose:
        done = subprocess.run([docker, "compose", "-f", str(COMPOSE_FILE), "config", "--format", "json"],
                              capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env}, timeout=120)
        assert done.returncode == 0, done.stderr
        assert set(json.loads(done.stdout)["services"]) == set(model["services"])


def test_a_missing_password_stops_compose_with_its_name():
    with pytest.raises(InterpolationError, match="RABBITMQ_PASSWORD is missing a value"):
        load_compose({"DAGSTER_PG_PASSWORD": "x"})


def test_the_schema_rejects_what_compose_rejects():
    """The validator is live: a misspelt service key and a bad depends_on condition are refused."""
    validator = jsonschema.Draft7Validator(json.loads(SPEC.read_text()))
    base = load_compose(ENV)
    broken = json.loads(json.dumps(base))
    broken["services"]["daemon"]["comand"] = ["dagster-daemon", "run"]
    assert not validator.is_valid(broken)
    broken = json.loads(json.dumps(base))
    broken["services"]["daemon"]["depends_on"]["postgres"]["condition"] = "service_ready"
    assert not validator.is_valid(broken)


def test_references_resolve(model):
    """What `docker compose config` resolves beyond the schema: depends_on names services, named volumes are
    declared, the build context and Dockerfile exist."""
    services = model["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith(("/", ".", "$")):
                assert source in model["volumes"], f"{name} mounts undeclared volume {source}"
        if "build" in service:
            context = (COMPOSE_DIR / service["build"]["context"]).resolve()
            assert (context / service["build"]["dockerfile"]).is_file()
    built = [name for name, s in services.items() if "build" in s]
    assert built, "one service builds the project image"


def test_the_deployment_has_the_pieces_issue_19_names(model, tenants):
    services = model["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["rabbitmq"]["image"].startswith("rabbitmq:")
    assert "5672:5672" in services["rabbitmq"]["ports"][0]
    assert services["webserver"]["command"][0] == "dagster-webserver"
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]
    assert len(tenants) >= 2
    for tenant in tenants:
        code = services[f"code-{tenant}"]["command"]
        assert code[:3] == ["dagster", "code-server", "start"]
        assert option(code, "-m") == "sage_amazon.definitions" and option(code, "-a") == "defs"
        worker = services[f"worker-{tenant}"]["command"]
        assert worker[:3] == ["dagster-celery", "worker", "start"]
        assert option(worker, "-A") == "dagster_celery.app"
    # the attribute the code servers load exists in the module
    tree = ast.parse((ROOT / "sage_amazon" / "definitions.py").read_text())
    assert any(isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "defs" for t in node.targets)
               for node in tree.body)


def test_services_match_the_instance(model, instance_config, workspace, tenants):
    """Every Dagster process gets what dagster.yaml reads: the PostgreSQL variables pointing at the postgres
    service, the broker URL of the Celery run launcher pointing at the rabbitmq service."""
    storage = instance_config["storage"]["postgres"]["postgres_db"]
    pg_vars = {key: value["env"] for key, value in storage.items() if isinstance(value, dict)}
    launcher = instance_config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_celery.launcher", "CeleryRunLauncher")
    broker_var = launcher["config"]["broker"]["env"]
    celery = yaml.safe_load((COMPOSE_DIR / "celery.yaml").read_text())
    assert celery["execution"]["config"]["broker"] == {"env": broker_var}, "workers and launcher share a broker"
    services = model["services"]
    dagster = dagster_services(model)
    assert {"webserver", "daemon", "instance-migrate"} <= set(dagster)
    for name, service in dagster.items():
        env = environment(service)
        for var in pg_vars.values():
            assert env.get(var), f"{name} lacks {var}, which dagster.yaml reads"
        assert env["DAGSTER_PG_HOST"] == "postgres" and env["DAGSTER_PG_PASSWORD"] == ENV["DAGSTER_PG_PASSWORD"]
        assert env[broker_var].startswith("pyamqp://") and "@rabbitmq:5672/" in env[broker_var]
        assert "postgres" in service.get("depends_on", {}) or name == "postgres"
    assert environment(services["postgres"])["POSTGRES_PASSWORD"] == ENV["DAGSTER_PG_PASSWORD"]
    assert environment(services["rabbitmq"])["RABBITMQ_DEFAULT_PASS"] == ENV["RABBITMQ_PASSWORD"]
    # the workspace the webserver and daemon load names each tenant's code server, on the port it serves
    for name in ("webserver", "daemon"):
        assert option(services[name]["command"], "-w") == f"{DAGSTER_HOME}/workspace.yaml"
    for entry in workspace["load_from"]:
        server = entry["grpc_server"]
        code = services[server["host"]]
        assert option(code["command"], "-p") == str(server["port"])
        assert environment(code)["SAGE_AMAZON_TENANT"] == server["location_name"]
    for tenant in tenants:
        assert option(services[f"worker-{tenant}"]["command"], "-y") == f"{DAGSTER_HOME}/celery.yaml"


def test_each_tenant_has_one_queue_one_worker_one_warehouse(model, instance_config, tenants):
    """Runs go to the queue named by their dagster-celery/queue tag; each tenant's queue is consumed by one
    worker, the only one mounting the tenant's data volume (DuckDB: one writer per warehouse); runs without
    the tag wait on a queue no worker consumes; the run queue limits each tenant separately."""
    services = model["services"]
    workers = {name: s for name, s in services.items() if s.get("command", [""])[0] == "dagster-celery"}
    queues = {option(s["command"], "-q"): name for name, s in workers.items()}
    assert set(queues) == set(tenants) and len(queues) == len(workers)
    assert instance_config["run_launcher"]["config"]["default_queue"] not in queues
    for tenant in tenants:
        worker = services[queues[tenant]]
        assert environment(worker)["SAGE_AMAZON_TENANT"] == tenant
        data = f"data-{tenant}:/opt/dagster/data"
        writers = [name for name, s in workers.items() if data in s.get("volumes", [])]
        assert writers == [queues[tenant]], f"{tenant}'s warehouse volume is mounted by workers {writers}"
        readers = [name for name, s in services.items() if data in s.get("volumes", [])]
        assert set(readers) == {queues[tenant], f"code-{tenant}"}
        assert any(v.endswith(":/opt/dagster/logs") for v in worker["volumes"]), "the UI reads compute logs"
    limits = instance_config["concurrency"]["runs"]["tag_concurrency_limits"]
    per_tenant = [limit for limit in limits if limit["key"] == TENANT_TAG]
    assert per_tenant and per_tenant[0]["value"] == {"applyLimitPerUniqueValue": True}
    assert instance_config["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_dagster_loads_the_instance_and_the_worker_config(monkeypatch, tmp_path):
    """dagster 1.13 and dagster-celery accept dagster.yaml and celery.yaml as written: the instance config
    validates, the run launcher, run coordinator and compute log manager build, the PostgreSQL storage config
    validates against dagster-postgres' schema (no connection needed)."""
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster._serdes import ConfigurableClassData
    from dagster_celery.cli import get_validated_config
    from dagster_postgres import DagsterPostgresStorage

    monkeypatch.setenv("DAGSTER_CELERY_BROKER_URL", "pyamqp://dagster:secret@rabbitmq:5672//")
    for var, value in {"DAGSTER_PG_USER": "dagster", "DAGSTER_PG_PASSWORD": "secret", "DAGSTER_PG_HOST": "postgres",
                       "DAGSTER_PG_DB": "dagster", "DAGSTER_PG_PORT": "5432"}.items():
        monkeypatch.setenv(var, value)
    config, custom_class = dagster_instance_config(str(COMPOSE_DIR))
    assert custom_class is None
    built = {}
    for key in ("run_launcher", "run_coordinator", "compute_logs"):
        entry = config[key]
        built[key] = ConfigurableClassData(entry["module"], entry["class"], yaml.safe_dump(entry.get("config") or {})) \
            .rehydrate(as_type=object)
    assert type(built["run_launcher"]).__name__ == "CeleryRunLauncher"
    assert built["run_launcher"].broker == "pyamqp://dagster:secret@rabbitmq:5672//"
    assert type(built["run_coordinator"]).__name__ == "QueuedRunCoordinator"
    storage = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
    assert storage.success, storage.errors
    assert config["concurrency"]["pools"]["default_limit"] == 1
    worker = get_validated_config(str(COMPOSE_DIR / "celery.yaml"))
    assert worker["broker"] == "pyamqp://dagster:secret@rabbitmq:5672//"


def test_secrets_are_only_referenced():
    """No password, secret or token has a value in the files: Compose takes them from the environment
    (`${VAR:?...}`) or the tenant's env file outside the repository."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    blocks = [v for k, v in raw.items() if k.startswith("x-") and isinstance(v, dict)]
    blocks += [s.get("environment") or {} for s in raw["services"].values()]
    checked = 0
    for block in blocks:
        for key, value in block.items():
            if re.search(r"PASSWORD|SECRET|TOKEN|_PASS$|BROKER_URL", str(key)):
                checked += 1
                assert re.search(r"\$\{[A-Z_]+:\?", str(value)), f"{key} must come from the environment: {value}"
    assert checked >= 4
    for service in raw["services"].values():
        for env_file in service.get("env_file", []):
            assert env_file["path"].startswith("${SAGE_AMAZON_SECRETS_DIR")
    assert "secrets/" in (COMPOSE_DIR / ".gitignore").read_text()
    example = (COMPOSE_DIR / ".env.example").read_text()
    assert re.findall(r"^(?:DAGSTER_PG_PASSWORD|RABBITMQ_PASSWORD)=$", example, re.M)


def test_the_image_runs_this_code_location():
    """The Dockerfile installs the project (pinned dagster family from pyproject.toml), puts the instance
    files where the services read them, starts the code location of sage_amazon.definitions; its
    .dockerignore keeps everything it copies."""
    lines = [line.strip() for line in (COMPOSE_DIR / "Dockerfile").read_text().replace("\\\n", " ").splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0].startswith("FROM python:3.11")
    requires = re.search(r'requires-python = "([^"]+)"', (ROOT / "pyproject.toml").read_text())[1]
    assert ">=3.11" in requires
    env = " ".join(line for line in instructions if line.startswith("ENV "))
    assert f"DAGSTER_HOME={DAGSTER_HOME}" in env
    assert any(line.startswith("RUN python -m pip install") and " -e ." in line for line in instructions)
    copies = [line.split()[1:] for line in instructions if line.startswith("COPY ")]
    sources = [part for copy in copies for part in copy[:-1] if not part.startswith("--")]
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, missing from the repository"
    assert any(copy[-1].rstrip("/") == DAGSTER_HOME for copy in copies)
    for name in ("dagster.yaml", "celery.yaml", "workspace.yaml"):
        assert f"deploy/compose/{name}" in sources
    cmd = json.loads(next(line for line in instructions if line.startswith("CMD "))[4:])
    assert cmd[:3] == ["dagster", "code-server", "start"] and option(cmd, "-m") == "sage_amazon.definitions"
    ignore = (COMPOSE_DIR / "Dockerfile.dockerignore").read_text().split()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore
    for source in sources:
        assert source.rstrip("/") in kept, f".dockerignore drops {source}, which the Dockerfile copies"
