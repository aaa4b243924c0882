"""The whole product from the outside: `sage-amazon sandbox up` on free ports, then `sage-amazon run`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import postgres as pg_server
from tests.ports import free_port, sandbox_ports

ROOT = Path(__file__).resolve().parents[2]
# issue 12's "books close" run on both ERPs (test_books_close.py) is slow: `make test-books` runs it
# (SAGE_AMAZON_BOOKS_TEST=1), `make test` leaves it out
collect_ignore = [] if os.environ.get("SAGE_AMAZON_BOOKS_TEST") == "1" else ["test_books_close.py"]


@dataclass
class Stack:
    env: dict[str, str]
    data_dir: Path
    target: str
    outputs: list[str] = field(default_factory=list)  # every command's stdout and stderr (scanned for secrets)

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "sage_amazon.cli", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.outputs += [done.stdout, done.stderr]
        return done


def _postgres_database() -> tuple[str, callable]:
    import sqlalchemy as sa

    name = f"sage500_e2e_{uuid.uuid4().hex[:8]}"
    pg_server.require()
    engine = sa.create_engine(pg_server.SERVER_URL, isolation_level="AUTOCOMMIT")

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}", drop


@contextmanager
def running_stack(target: str, data_dir: Path, history_days: int = 30) -> Iterator[Stack]:
    """`sage-amazon sandbox up --regions` on free ports for one Sage target, `amazon connect` done, stopped after.
    history_days: days of Amazon history the sandbox generates (its closed settlements come from them)."""
    ports = sandbox_ports()  # the Amazon port + 1, 2, 3: the regional hosts
    env = {**os.environ, "SAGE_AMAZON_DATA_DIR": str(data_dir), "SAGE_AMAZON_TARGET": target}
    env.pop("DAGSTER_HOME", None)
    env["SANDBOX_X3_PASSWORD"] = f"x3-Pw-{uuid.uuid4().hex[:12]}"  # distinctive, so a scan hit means a leak
    drop = None
    if target == "sage500":
        env["SAGE500_DB_URL"], drop = _postgres_database()
    cmd = [sys.executable, "-m", "sage_amazon.cli", "sandbox", "up", "--time-scale", "60", "--order-rate", "0"]
    cmd += ["--history-days", str(history_days), "--regions"]  # one account per region, each on its own strict host
    cmd += [f"--{name}-port={port}" for name, port in ports.items()]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        for line in proc.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                env[name] = value.strip("'")
            if "Sandboxes running" in line:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"{target}: sandboxes did not start in time")
        else:
            pytest.fail(f"{target}: sandbox up exited with {proc.wait()}")
        # issue 13.1: the product reaches Amazon only through its regional accounts (SAGE_AMAZON_ACCOUNTS_FILE);
        # the all-regions host is made unreachable so any request that bypasses them fails the run
        assert env.get("SAGE_AMAZON_ACCOUNTS_FILE"), "sandbox up --regions exported no accounts file"
        closed = f"http://127.0.0.1:{free_port()}"
        env["SP_API_ENDPOINT"], env["SP_API_LWA_ENDPOINT"] = closed, f"{closed}/auth/o2/token"
        stack = Stack(env=env, data_dir=data_dir, target=target)
        assert env["SAGE_X3_PASSWORD"] == env["SANDBOX_X3_PASSWORD"], "sandbox up exported another X3 password"
        connected = stack.cli("amazon", "connect", timeout=60)  # the user's one-time Amazon setup
        assert connected.returncode == 0, connected.stderr + connected.stdout
        yield stack
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if drop is not None:
            drop()


@pytest.fixture(scope="module")
def stacks(tmp_path_factory) -> Iterator[dict[str, Stack]]:
    """One stack per Sage target, started side by side: the module's tests run both ERPs' `sage-amazon run`s at
    the same time (one xdist worker holds this file; run one after the other they were the suite's long pole)."""
    targets = ["x3", "sage500"]
    reason = pg_server.unavailable()
    if reason and os.environ.get("CI", "").lower() != "true":
        targets = ["x3"]  # a developer machine without PostgreSQL still runs the X3 half; CI fails instead
    with ExitStack() as opened, ThreadPoolExecutor(len(targets)) as pool:
        started = {
            target: pool.submit(opened.enter_context, running_stack(target, tmp_path_factory.mktemp(f"e2e-{target}")))
            for target in targets
        }
        yield {target: future.result() for target, future in started.items()}
