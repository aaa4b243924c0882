"""deploy/compose/: the Docker Compose deployment (issue 19.4) is a valid Compose file whose services match the
Dagster instance they share (deploy/celery/dagster.yaml, docs/multi-seller.md) and the tenants file, and the image
it builds runs the project's code locations.

`docker compose config` checks the file when the compose plugin is present. Without it (this machine has the
docker CLI but no compose plugin and no daemon) the file is still checked the way `docker compose config` does:
variables interpolated as Compose does, then validated against the Compose Specification's JSON schema
(compose_spec/, see THIRD_PARTY.md), then the references between services, volumes and files are resolved.
"""

import ast
import json
import os
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
INSTANCE = ROOT / "deploy" / "celery" / "dagster.yaml"  # the many-sellers instance, built into the image
TENANTS = COMPOSE_DIR / "tenants.example.yaml"
DAGSTER_HOME = "/opt/dagster/dagster_home"  # where the Dockerfile puts dagster.yaml and workspace.yaml
TENANTS_FILE = "/opt/dagster/tenants/tenants.yaml"
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
    return {name: s for name, s in model["services"].items() if "build" in s}


def option(command, flag):
    return command[command.index(flag) + 1]


def mounts(service) -> dict[str, str]:
    """target -> source of a service's volumes (short syntax)."""
    return {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes", [])}


def env_files(service) -> list[str]:
    return [Path(item["path"]).name for item in service.get("env_file", [])]


@pytest.fixture(scope="module")
def model():
    return load_compose(ENV)


@pytest.fixture(scope="module")
def instance_config():
    return yaml.safe_load(INSTANCE.read_text())


@pytest.fixture(scope="module")
def workspace():
    return yaml.safe_load((COMPOSE_DIR / "workspace.yaml").read_text())


@pytest.fixture(scope="module")
def tenants():
    """The example tenants file, validated by the product's own reader (secrets only by variable name)."""
    from sage_amazon.tenants.tenants_file import load

    return load(TENANTS)


def test_docker_compose_config_accepts_the_file(tmp_path):
    """The real `docker compose config` where the compose plugin exists; the Compose Specification schema and
    Compose's interpolation always (the same checks, without Docker)."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for tenant in ("acme", "initech", "globex"):
        (secrets / f"{tenant}.env").write_text("NOT_A_SECRET=1\n")
    env = {**ENV, "SAGE_AMAZON_SECRETS_DIR": str(secrets), "SAGE_AMAZON_TENANTS_DIR": str(tmp_path)}
    model = load_compose(env)
    assert model["name"] == "sage-amazon"
    docker = shutil.which("docker")
    has_compose = docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    if has_compose:
        done = subprocess.run([docker, "compose", "-f", str(COMPOSE_FILE), "config", "--format", "json"],
                              capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
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
        for source in mounts(service).values():
            if not source.startswith(("/", ".")):
                assert source in model["volumes"], f"{name} mounts undeclared volume {source}"
        if "build" in service:
            context = (COMPOSE_DIR / service["build"]["context"]).resolve()
            assert (context / service["build"]["dockerfile"]).is_file()
    assert dagster_services(model), "the Dagster services build the project image"


def test_the_deployment_has_the_pieces_issue_19_names(model, workspace):
    """PostgreSQL, RabbitMQ (5672), the webserver and the daemon on the workspace, the instance migration,
    one code server per tenant and at least two Celery workers running the tenants' Celery app."""
    services = model["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["rabbitmq"]["image"].startswith("rabbitmq:")
    assert services["rabbitmq"]["ports"][0].endswith(":5672")
    assert services["webserver"]["command"][0] == "dagster-webserver"
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]
    assert services["instance-migrate"]["command"] == ["dagster", "instance", "migrate"]
    for name in ("webserver", "daemon"):
        assert option(services[name]["command"], "-w") == f"{DAGSTER_HOME}/workspace.yaml"
        assert set(services[name]["depends_on"]) >= {e["grpc_server"]["host"] for e in workspace["load_from"]}
    for entry in workspace["load_from"]:
        server = entry["grpc_server"]
        command = services[server["host"]]["command"]
        assert command[:3] == ["dagster", "code-server", "start"]
        assert option(command, "-p") == str(server["port"])
        assert option(command, "-m") == "sage_amazon.tenants.location"
        assert option(command, "--location-name") == server["location_name"] == f"tenant_{option(command, '-a')}"
        assert "healthcheck" in services[server["host"]]
    workers = [s for s in services.values() if s.get("command", [""])[0] == "celery"]
    assert len(workers) >= 2
    for worker in workers:
        assert option(worker["command"], "-A") == "sage_amazon.tenants.celery_app"
        assert "worker" in worker["command"]


def test_services_match_the_instance(model, instance_config):
    """Every Dagster process gets what the instance reads: the PostgreSQL variables pointing at the postgres
    service, the broker URL of the Celery run launcher pointing at the rabbitmq service, the tenants file the
    tenants' run coordinator reads; the instance's run queue limits each tenant."""
    storage = instance_config["storage"]["postgres"]["postgres_db"]
    pg_vars = {value["env"] for value in storage.values() if isinstance(value, dict)}
    launcher = instance_config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_celery.launcher", "CeleryRunLauncher")
    broker_var = launcher["config"]["broker"]["env"]
    for name, service in dagster_services(model).items():
        env = environment(service)
        for var in pg_vars:
            assert env.get(var), f"{name} lacks {var}, which the instance reads"
        assert env["DAGSTER_PG_HOST"] == "postgres" and env["DAGSTER_PG_PASSWORD"] == ENV["DAGSTER_PG_PASSWORD"]
        assert env[broker_var].startswith("pyamqp://") and "@rabbitmq:5672/" in env[broker_var]
        assert env["SAGE_AMAZON_TENANTS_FILE"] == TENANTS_FILE
        assert Path(TENANTS_FILE).parent.as_posix() in mounts(service), f"{name} lacks the tenants file"
        assert {"postgres", "instance-migrate"} & set(service.get("depends_on", {}))
    services = model["services"]
    assert environment(services["postgres"])["POSTGRES_PASSWORD"] == ENV["DAGSTER_PG_PASSWORD"]
    assert environment(services["rabbitmq"])["RABBITMQ_DEFAULT_PASS"] == ENV["RABBITMQ_PASSWORD"]
    # the UI reads the steps' stdout/stderr the workers capture (the default compute logs: DAGSTER_HOME/storage)
    assert "compute_logs" not in instance_config
    storage_dir = f"{DAGSTER_HOME}/storage"
    workers = [s for s in services.values() if s.get("command", [""])[0] == "celery"]
    assert all(mounts(s).get(storage_dir) == mounts(services["webserver"])[storage_dir] for s in workers)
    limits = instance_config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": TENANT_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 2} in limits


def test_each_tenant_is_served_by_its_code_server_and_one_worker_that_owns_its_warehouse(model, tenants):
    """A tenant's runs go to its queue (docs/multi-seller.md); exactly one worker consumes that queue, and
    that worker's data volume holds the tenant's data root; the tenant's code server mounts the same volume and
    no other worker does (DuckDB: one writer per warehouse); its secrets file reaches its code server and its
    worker only."""
    services = model["services"]
    workers = {name: s for name, s in services.items() if s.get("command", [""])[0] == "celery"}
    queues: dict[str, str] = {}
    for name, worker in workers.items():
        queue = option(worker["command"], "-Q")
        assert "," not in queue and queue not in queues, f"queue {queue} is consumed by two workers"
        queues[queue] = name
    assert set(queues) == {t.queue for t in tenants}, "every worker serves tenants, every tenant has a worker"
    assert len({t.name for t in tenants}) >= 3
    for tenant in tenants:
        worker_name = queues[tenant.queue]
        code = services[f"code-{tenant.name}"]
        assert option(code["command"], "-a") == tenant.name
        worker_target = next(t for t in mounts(workers[worker_name]) if tenant.data_root.is_relative_to(t))
        volume = mounts(workers[worker_name])[worker_target]
        assert mounts(code).get(worker_target) == volume, f"{tenant.name}'s code server lacks its data root"
        others = [n for n, w in workers.items() if n != worker_name and volume in mounts(w).values()]
        assert not others, f"{tenant.name}'s warehouse volume is also mounted by {others}"
        secrets = f"{tenant.name}.env"
        assert env_files(code) == [secrets]
        holders = {n for n, s in services.items() if secrets in env_files(s)}
        assert holders == {f"code-{tenant.name}", worker_name}


def test_dagster_loads_the_instance_the_services_share(monkeypatch):
    """dagster 1.13 and dagster-celery accept the instance as the image holds it: the config validates, the
    tenants' run coordinator (a QueuedRunCoordinator) and the Celery run launcher build with the broker of
    the environment, the PostgreSQL storage config validates against dagster-postgres' schema."""
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster._serdes import ConfigurableClassData
    from dagster_postgres import DagsterPostgresStorage

    monkeypatch.setenv("DAGSTER_CELERY_BROKER_URL", "pyamqp://dagster:secret@rabbitmq:5672//")
    for var, value in {"DAGSTER_PG_USER": "dagster", "DAGSTER_PG_PASSWORD": "secret", "DAGSTER_PG_HOST": "postgres",
                       "DAGSTER_PG_DB": "dagster", "DAGSTER_PG_PORT": "5432"}.items():
        monkeypatch.setenv(var, value)
    config, custom_class = dagster_instance_config(str(INSTANCE.parent))
    assert custom_class is None
    built = {}
    for key in ("run_launcher", "run_coordinator"):
        entry = config[key]
        data = ConfigurableClassData(entry["module"], entry["class"], yaml.safe_dump(entry.get("config") or {}))
        built[key] = data.rehydrate(as_type=object)
    assert type(built["run_launcher"]).__name__ == "CeleryRunLauncher"
    assert built["run_launcher"].broker == "pyamqp://dagster:secret@rabbitmq:5672//"
    assert isinstance(built["run_coordinator"], QueuedRunCoordinator)
    storage = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
    assert storage.success, storage.errors
    assert config["concurrency"]["pools"]["default_limit"] == 1


def test_secrets_are_only_referenced():
    """No password, secret or token has a value in the files: Compose takes them from the environment
    (`${VAR:?...}`), the tenants' from their env files outside the repository (the tenants file names the
    variables: its reader refuses an inline secret)."""
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
    ignored = (COMPOSE_DIR / ".gitignore").read_text().split()
    assert {"secrets/", "tenants/", ".env"} <= set(ignored)
    example = (COMPOSE_DIR / ".env.example").read_text()
    assert re.findall(r"^(?:DAGSTER_PG_PASSWORD|RABBITMQ_PASSWORD)=$", example, re.M)


def test_the_image_runs_the_code_locations():
    """The Dockerfile installs the project (the pinned dagster family of pyproject.toml), puts the instance and
    the workspace where the services read them, defaults to the project's code location; its .dockerignore
    keeps everything it copies; the modules the services run exist."""
    text = (COMPOSE_DIR / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert instructions[0].startswith("FROM python:3.11")
    assert ">=3.11" in re.search(r'requires-python = "([^"]+)"', (ROOT / "pyproject.toml").read_text())[1]
    env = " ".join(line for line in instructions if line.startswith("ENV "))
    assert f"DAGSTER_HOME={DAGSTER_HOME}" in env
    assert any(line.startswith("RUN python -m pip install") and " -e ." in line for line in instructions)
    copies = [line.split()[1:] for line in instructions if line.startswith("COPY ")]
    sources = [part for copy in copies for part in copy[:-1] if not part.startswith("--")]
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, missing from the repository"
    # every package pyproject.toml installs, and the SQL models the code location reads beside them
    import tomllib

    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    for pattern in packages["include"]:
        assert any(Path(src).name == pattern.rstrip("*") for src in sources), f"the image lacks {pattern}"
    assert "dbt_like_sql" in sources and "README.md" in sources
    into_home = [copy for copy in copies if copy[-1].rstrip("/") == DAGSTER_HOME]
    assert into_home and {"deploy/celery/dagster.yaml", "deploy/compose/workspace.yaml"} <= set(into_home[0])
    cmd = json.loads(next(line for line in instructions if line.startswith("CMD "))[4:])
    assert cmd[:3] == ["dagster", "code-server", "start"] and option(cmd, "-m") == "sage_amazon.definitions"
    tree = ast.parse((ROOT / "sage_amazon" / "definitions.py").read_text())
    assert any(isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "defs" for t in node.targets)
               for node in tree.body)
    for module in ("sage_amazon/tenants/location.py", "sage_amazon/tenants/celery_app.py"):
        assert (ROOT / module).is_file()
    ignore = (COMPOSE_DIR / "Dockerfile.dockerignore").read_text().split()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore
    for source in sources:
        assert source.rstrip("/") in kept, f".dockerignore drops {source}, which the Dockerfile copies"
