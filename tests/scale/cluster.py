"""A many-seller deployment on this machine, as docs/multi-seller.md describes it: a PostgreSQL instance (its own
database, dropped after) configured by deploy/celery/dagster.yaml, Celery workers on RabbitMQ (127.0.0.1:5672),
the Dagster webserver and daemon on a workspace of one code location per tenant. Everything is stopped even when
the test fails. Used by tests/scale and bench/bench_scale.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests import postgres as pg_server
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BROKER = os.environ.get("DAGSTER_CELERY_BROKER_URL", "pyamqp://guest:guest@127.0.0.1:5672//")
INSTANCE_ENV = ("DAGSTER_HOME", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST", "DAGSTER_PG_DB",
                "DAGSTER_PG_PORT", "DAGSTER_CELERY_BROKER_URL", "SAGE_AMAZON_TENANTS_FILE")
START_PATIENCE = 240.0  # a loaded machine (load 10-20) takes minutes to import dagster in several processes


def tenant_entry(name: str, queue: str, stack_env: dict[str, str], data_root: Path) -> tuple[dict, dict[str, str]]:
    """A tenants-file entry for a seller whose sandbox exported `stack_env`, and the secret variables it names
    (each tenant its own variable names: `<NAME>_X3_PASSWORD`...)."""
    from sage_amazon import config

    secrets = {f"{name.upper()}_X3_PASSWORD": stack_env["SAGE_X3_PASSWORD"],
               f"{name.upper()}_LWA_CLIENT_SECRET": stack_env.get("LWA_CLIENT_SECRET")
               or config.SETTINGS["LWA_CLIENT_SECRET"][0]}
    accounts = yaml.safe_load(Path(stack_env["SAGE_AMAZON_ACCOUNTS_FILE"]).read_text())["accounts"]
    for account in accounts:
        variable = f"{name.upper()}_{account['refresh_token_env']}"
        secrets[variable] = stack_env[account["refresh_token_env"]]
        account["refresh_token_env"] = variable
    settings = {k: v for k, v in stack_env.items() if k in config.SETTINGS and k not in config.SECRETS
                and k not in ("DAGSTER_HOME", "SAGE_AMAZON_DATA_DIR", "SAGE_AMAZON_ACCOUNTS_FILE", "SAGE_AMAZON_TARGET",
                              "SAGE_X3_URL", "SAGE_X3_USER", "SAGE_X3_FOLDER", "SAGE_X3_POOL", "SAGE_AMAZON_TENANT",
                              "SP_API_MARKETPLACES", "LWA_APP_ID", "SP_API_LWA_ENDPOINT", "SQS_QUEUE_URL")}
    entry = {
        "name": name, "queue": queue, "data_root": str(data_root), "automation": False,
        "sage": {"target": "x3", "company": stack_env.get("SAGE_X3_FOLDER") or config.SETTINGS["SAGE_X3_FOLDER"][0],
                 "pool": stack_env.get("SAGE_X3_POOL") or config.SETTINGS["SAGE_X3_POOL"][0],
                 "url": stack_env["SAGE_X3_URL"], "user": stack_env.get("SAGE_X3_USER", "admin"),
                 "password_env": f"{name.upper()}_X3_PASSWORD"},
        "amazon": {"lwa_app_id": stack_env.get("LWA_APP_ID") or config.SETTINGS["LWA_APP_ID"][0],
                   "lwa_client_secret_env": f"{name.upper()}_LWA_CLIENT_SECRET",
                   "sqs_queue_url": stack_env.get("SQS_QUEUE_URL") or config.SETTINGS["SQS_QUEUE_URL"][0],
                   "accounts": accounts},
        "settings": settings,
    }
    if stack_env.get("SP_API_LWA_ENDPOINT"):
        entry["amazon"]["lwa_endpoint"] = stack_env["SP_API_LWA_ENDPOINT"]
    return entry, secrets


@dataclass
class Cluster:
    home: Path
    env: dict[str, str]
    webserver: str  # host:port
    logs: Path
    worker_queues: dict[str, str]  # worker name -> queue
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start_worker(self, name: str) -> None:
        log = self.logs / f"{name}.log"
        marker = log.stat().st_size if log.exists() else 0
        proc = _spawn([str(BIN / "celery"), "-A", "sage_amazon.tenants.celery_app", "worker",
                       "-Q", self.worker_queues[name], "-n", f"{self.worker_queues[name]}@%h", "--concurrency", "2", "--loglevel", "INFO",
                       "--without-gossip", "--without-mingle", "--without-heartbeat"], self.env, log)
        self.workers[name] = proc
        self.processes.append(proc)
        deadline = time.monotonic() + START_PATIENCE
        while "ready." not in log.read_text(errors="replace")[marker:]:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {name} did not start: {log.read_text(errors='replace')[-3000:]}")
            time.sleep(1)

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker and every process it started (a machine or pod lost), and wait until they are gone."""
        proc = self.workers.pop(name)
        _kill_group(proc, signal.SIGKILL)

    def instance(self):
        """The instance, as this process's DAGSTER_HOME (restored when the cluster stops)."""
        import dagster as dg

        os.environ.update({k: self.env[k] for k in INSTANCE_ENV})
        return dg.DagsterInstance.get()


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _kill_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    deadline = time.monotonic() + 60  # its children (the run processes) leave with it: same session
    while time.monotonic() < deadline and _group_alive(proc.pid):
        time.sleep(0.5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None or _group_alive(proc.pid):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        if _group_alive(proc.pid):
            _kill_group(proc, signal.SIGKILL)


@contextmanager
def _database() -> Iterator[str]:
    import sqlalchemy as sa

    pg_server.require()
    name = f"dagster_scale_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(pg_server.SERVER_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def _restore_env(before: dict[str, str | None]) -> None:
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _delete_queues(queues: list[str]) -> None:
    from kombu import Connection

    try:
        with Connection(BROKER, connect_timeout=10) as conn:
            channel = conn.channel()
            for queue in queues:
                channel.queue_delete(queue)
    except Exception as exc:  # noqa: BLE001 - a queue left on the broker is harmless (named for this test only)
        print(f"scale cluster: queues not deleted: {exc}", file=sys.stderr)


def _wait_webserver(port: int, proc: subprocess.Popen, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + START_PATIENCE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"the webserver did not start: {log.read_text(errors='replace')[-3000:]}")


def wait_locations_loaded(cluster: Cluster, locations: list[str]) -> None:
    """Until every tenant's code location is loaded in the webserver (each is its own process, importing dagster
    and the project: slow on a loaded machine)."""
    from dagster_graphql import DagsterGraphQLClient

    host, _, port = cluster.webserver.rpartition(":")
    client = DagsterGraphQLClient(host, port_number=int(port), timeout=120)
    query = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
    deadline = time.monotonic() + START_PATIENCE * 2
    while True:
        entries = client._execute(query)["workspaceOrError"]["locationEntries"]
        state = {e["name"]: e for e in entries}
        errors = {n: e["locationOrLoadError"].get("message") for n, e in state.items()
                  if e["locationOrLoadError"] and e["locationOrLoadError"]["__typename"] == "PythonError"}
        if errors:
            raise RuntimeError(f"code locations failed to load: {errors}")
        if all(state.get(n, {}).get("loadStatus") == "LOADED" and state[n]["locationOrLoadError"] for n in locations):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"code locations not loaded in time: {state}")
        time.sleep(2)


@contextmanager
def running_cluster(directory: Path, tenants: list[dict], secrets: dict[str, str],
                    workers: dict[str, str]) -> Iterator[Cluster]:
    """tenants: tenants-file entries; workers: worker name -> its Celery queue. Stopped and dropped after."""
    from sage_amazon.tenants.__main__ import workspace_yaml
    from sage_amazon.tenants.tenants_file import load

    directory.mkdir(parents=True, exist_ok=True)
    home, logs = directory / "dagster_home", directory / "logs"
    home.mkdir(exist_ok=True)
    logs.mkdir(exist_ok=True)
    shutil.copy(ROOT / "deploy" / "celery" / "dagster.yaml", home / "dagster.yaml")  # the shipped instance file
    tenants_file = directory / "tenants.yaml"
    tenants_file.write_text(yaml.safe_dump({"tenants": tenants}, sort_keys=False))
    workspace = directory / "workspace.yaml"
    workspace.write_text(workspace_yaml(load(tenants_file)))
    before = {k: os.environ.get(k) for k in INSTANCE_ENV}
    with ExitStack() as stack:
        stack.callback(_restore_env, before)
        db = stack.enter_context(_database())
        stack.callback(_delete_queues, sorted(set(workers.values())))
        env = {**os.environ, **secrets, "DAGSTER_HOME": str(home), "SAGE_AMAZON_TENANTS_FILE": str(tenants_file),
               "DAGSTER_PG_USER": "postgres", "DAGSTER_PG_PASSWORD": "trust", "DAGSTER_PG_HOST": "127.0.0.1",
               "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_DB": db, "DAGSTER_CELERY_BROKER_URL": BROKER,
               "PYTHONPATH": str(ROOT)}
        for name in ("SAGE_AMAZON_DATA_DIR", "SAGE_AMAZON_ACCOUNTS_FILE", "SAGE_AMAZON_TENANT"):
            env.pop(name, None)
        port = free_port()
        cluster = Cluster(home=home, env=env, webserver=f"127.0.0.1:{port}", logs=logs, worker_queues=dict(workers))
        stack.callback(lambda: [_stop(p) for p in reversed(cluster.processes)])
        created = subprocess.run([sys.executable, "-c", "import dagster; dagster.DagsterInstance.get().dispose()"],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert created.returncode == 0, created.stderr[-3000:]  # the storage's schema, once, before the others
        web = _spawn([str(BIN / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)],
                     env, logs / "webserver.log")
        cluster.processes.append(web)
        cluster.processes.append(_spawn([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env,
                                        logs / "daemon.log"))
        for name in workers:
            cluster.start_worker(name)
        _wait_webserver(port, web, logs / "webserver.log")
        wait_locations_loaded(cluster, [f"tenant_{t['name']}" for t in tenants])
        yield cluster
