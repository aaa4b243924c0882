"""Every operator mistake ends the real CLI with one clear line on stderr and a non-zero exit, never a
traceback: a busy port (named, with the flag that moves it), a data dir that is not writable, no
PostgreSQL for the Sage 500 target, an unknown --flow, a file that does not exist, a bad option value."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("SAGE500")}
    env.update({"SAGE_AMAZON_DATA_DIR": str(tmp_path / "data"), "SAGE_AMAZON_TARGET": "x3"})
    return env


def _one_line(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run([sys.executable, "-m", "sage_amazon.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode != 0, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("sage-amazon: "), lines[0]
    return lines[0]


@pytest.fixture
def busy_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.mark.parametrize("flag", ["--amazon-port", "--sqs-port", "--x3-port"])
def test_sandbox_up_on_a_busy_port_names_the_port_and_the_flag(env, busy_port, flag):
    others = {"--amazon-port": _free_port(), "--sqs-port": _free_port(), "--x3-port": _free_port(), flag: busy_port}
    line = _one_line(["sandbox", "up", *[f"{k}={v}" for k, v in others.items()]], env)
    assert str(busy_port) in line and flag in line and "in use" in line


def test_demo_on_a_busy_ui_port_names_the_port_and_the_flag(env, busy_port):
    ports = [f"--amazon-port={_free_port()}", f"--sqs-port={_free_port()}", f"--x3-port={_free_port()}"]
    line = _one_line(["demo", "--no-run", f"--ui-port={busy_port}", *ports], env)
    assert str(busy_port) in line and "--ui-port" in line


def test_data_dir_not_writable(env, tmp_path):
    if os.geteuid() == 0:  # root writes anywhere: a data dir below a plain file cannot be created either
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        data = blocker / "data"
    else:
        data = tmp_path / "read-only"
        data.mkdir()
        data.chmod(0o555)
    env["SAGE_AMAZON_DATA_DIR"] = str(data)
    ports = [f"--amazon-port={_free_port()}", f"--sqs-port={_free_port()}", f"--x3-port={_free_port()}"]
    for args in (["run"], ["deadletter", "list"], ["sandbox", "up", *ports], ["demo", "--no-run", *ports]):
        line = _one_line(args, env)
        assert str(data) in line and "writ" in line, line


def test_sage500_without_postgresql(env):
    env.update({"SAGE_AMAZON_TARGET": "sage500",
                "SAGE500_DB_URL": f"postgresql+psycopg2://sage:s3cret@127.0.0.1:{_free_port()}/sage500"})
    line = _one_line(["run"], env)
    assert "SAGE500_DB_URL" in line and "s3cret" not in line, line
    sample = ROOT / "tests" / "settlements" / "files" / "de-v2-local.txt"
    line = _one_line(["settlement", "import", str(sample), "--run"], env)
    assert "SAGE500_DB_URL" in line and "s3cret" not in line, line
    ports = [f"--amazon-port={_free_port()}", f"--sqs-port={_free_port()}", f"--x3-port={_free_port()}"]
    line = _one_line(["sandbox", "up", *ports], env)
    assert "SAGE500_DB_URL" in line and "s3cret" not in line, line


@pytest.mark.parametrize("command", ["import", "inspect"])
def test_a_file_that_does_not_exist(env, tmp_path, command):
    missing = tmp_path / "nope.txt"
    line = _one_line(["settlement", command, str(missing)], env)
    assert str(missing) in line and "does not exist" in line


def test_bad_values_and_unknown_options(env):
    assert "2026-13-45" in _one_line(["run", "--start", "2026-13-45"], env)
    assert "--frobnicate" in _one_line(["run", "--frobnicate"], env)
    env["SAGE_AMAZON_TARGET"] = "x4"
    assert "SAGE_AMAZON_TARGET" in _one_line(["run"], env)


def test_version(env):
    done = subprocess.run([sys.executable, "-m", "sage_amazon.cli", "--version"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    from importlib.metadata import version

    assert done.returncode == 0 and done.stdout.strip() == f"sage-amazon {version('sage-amazon')}"


@pytest.mark.parametrize("command", ["list", "replay"])
def test_unknown_flow(env, command):
    line = _one_line(["deadletter", command, "--flow", "ordres"], env)
    assert "ordres" in line and "orders" in line and "--flow" in line


def test_the_known_flows_are_the_flows_the_assets_write():
    from sage_amazon import deadletters
    from sage_amazon.deadletter_cli import known_flows
    from sage_amazon.definitions import defs

    graph = defs.resolve_asset_graph()
    tagged = {flow for key in graph.get_all_asset_keys()
              for flow in graph.get(key).tags.get(deadletters.FLOW_TAG, "").split(",") if flow}
    assert set(known_flows()) == tagged
