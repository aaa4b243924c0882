"""`sage-amazon sandbox up` and `sage-amazon demo` stop every child and free every port within 10 s,
whether the parent gets Ctrl-C (SIGINT), SIGTERM, or dies by SIGKILL (the watchdog and the kernel's
parent-death signal stop the children then), and when a launcher such as `make` is killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sage_amazon.sandbox.watchdog import descendants
from tests.ports import REGION_OFFSETS, sandbox_ports

ROOT = Path(__file__).resolve().parents[2]
STOP_WITHIN = 10.0


def _with_regions(ports: list[int]) -> list[int]:
    """The ports given plus the regional Amazon hosts (the Amazon port + 1, 2, 3): all must be freed."""
    return ports + [ports[0] + i for i in REGION_OFFSETS]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


class _Started:
    """A command started in the background; its output collected by a thread; killed whole on exit."""

    def __init__(self, cmd: list[str], env: dict[str, str], wrapper: bool = False) -> None:
        if wrapper:  # a launcher like `make`: the command's parent, itself killed with SIGKILL
            code = "import subprocess, sys, time; subprocess.Popen(sys.argv[1:]); time.sleep(3600)"
            cmd = [sys.executable, "-c", code, *cmd]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines: list[str] = []
        self.tree: set[int] = set()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail(f"{text!r} not printed; output:\n{''.join(self.lines)[-3000:]}")

    def snapshot(self) -> set[int]:
        self.tree |= set(descendants([self.proc.pid]))
        return self.tree

    def cleanup(self) -> None:
        for pid in [*self.snapshot(), self.proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update({"SAGE_AMAZON_DATA_DIR": str(tmp_path / "data"), "SAGE_AMAZON_TARGET": "x3",
                "PYTHONUNBUFFERED": "1"})
    return env


def _stop_and_check(started: _Started, sig: int, ports: list[int], whose: str) -> None:
    tree = started.snapshot()
    assert len(tree) >= 4, f"expected the sandboxes and the watchdog below {whose}, got {tree}"
    os.kill(started.proc.pid, sig)  # the command itself, or the launcher that started it
    t0 = time.monotonic()
    deadline = t0 + STOP_WITHIN
    while time.monotonic() < deadline:
        if started.proc.poll() is None and sig != signal.SIGKILL:
            started.snapshot()  # anything started while stopping counts too
        if all(_port_free(p) for p in ports) and not [p for p in started.tree if _alive(p)]:
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - t0
    busy = [p for p in ports if not _port_free(p)]
    left = [p for p in started.tree if _alive(p)]
    assert not busy and not left, (
        f"{elapsed:.1f}s after {signal.Signals(sig).name}: ports still busy {busy}, processes left {left}\n"
        + "".join(started.lines)[-2000:]
    )
    if sig != signal.SIGKILL:
        assert started.proc.wait(timeout=STOP_WITHIN) in (0, 130, -sig), "".join(started.lines)[-2000:]
        assert "Traceback" not in "".join(started.lines)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_sandbox_up_stops_every_child(tmp_path, sig):
    ports = list(sandbox_ports().values())
    cmd = [sys.executable, "-m", "sage_amazon.cli", "sandbox", "up", "--history-days", "1",
           f"--amazon-port={ports[0]}", f"--sqs-port={ports[1]}", f"--x3-port={ports[2]}"]
    started = _Started(cmd, _env(tmp_path))
    try:
        started.wait_for("Sandboxes running", timeout=120)
        assert not any(_port_free(p) for p in ports)
        _stop_and_check(started, sig, _with_regions(ports), "sandbox up")
    finally:
        started.cleanup()


def test_sandbox_up_stops_with_its_launcher(tmp_path):
    """`make sandbox` / `make demo` pass --stop-with-parent: killing make (SIGKILL) stops everything."""
    ports = list(sandbox_ports().values())
    cmd = [sys.executable, "-m", "sage_amazon.cli", "sandbox", "up", "--history-days", "1", "--stop-with-parent",
           f"--amazon-port={ports[0]}", f"--sqs-port={ports[1]}", f"--x3-port={ports[2]}"]
    started = _Started(cmd, _env(tmp_path), wrapper=True)
    try:
        started.wait_for("Sandboxes running", timeout=120)
        _stop_and_check(started, signal.SIGKILL, _with_regions(ports), "launcher")
    finally:
        started.cleanup()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_demo_stops_sandboxes_webserver_daemon_and_code_servers(tmp_path, sig):
    ports = list(sandbox_ports("ui").values())
    cmd = [sys.executable, "-m", "sage_amazon.cli", "demo", "--no-run", "--history-days", "1",
           f"--amazon-port={ports[0]}", f"--sqs-port={ports[1]}", f"--x3-port={ports[2]}", f"--ui-port={ports[3]}"]
    started = _Started(cmd, _env(tmp_path))
    try:
        started.wait_for("Dagster UI on", timeout=240)
        # the webserver and the daemon each start a code server: wait until both run, so they are killed too
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            servers = [p for p in started.snapshot() if b"api\x00grpc" in _cmdline(p)]
            if len(servers) >= 2:
                break
            time.sleep(0.5)
        assert len(servers) >= 2, "no code servers found under the demo"
        # Dagster's own output (its code servers' interrupt handling included) goes to the logs, not the console
        logs = tmp_path / "data" / "sandbox" / "logs"
        assert "Serving dagster-webserver" in (logs / "dagster-webserver.log").read_text()
        assert not any("dagster.code_server" in line for line in started.lines)
        _stop_and_check(started, sig, _with_regions(ports), "demo")
    finally:
        started.cleanup()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


PARENT = """
import subprocess, sys, time
from sage_amazon.sandbox.watchdog import Children
grandchild = "import os, time; os.setsid(); time.sleep(600)"  # leaves its parent's process group
child = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {grandchild!r}]); time.sleep(600)"
Children().spawn([sys.executable, "-c", child])
print("started", flush=True)
time.sleep(600)
"""


def test_a_grandchild_that_left_the_group_is_stopped_too_after_sigkill(tmp_path):
    started = _Started([sys.executable, "-c", PARENT], _env(tmp_path))
    try:
        started.wait_for("started", timeout=30)
        deadline = time.monotonic() + 20
        while len(started.snapshot()) < 3 and time.monotonic() < deadline:  # watchdog, child, grandchild
            time.sleep(0.2)
        time.sleep(1.0)  # the watchdog records descendants twice a second
        tree = set(started.tree)
        assert len(tree) >= 3, tree
        os.kill(started.proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_WITHIN
        while [p for p in tree if _alive(p)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in tree if _alive(p)], "processes left after the parent's SIGKILL"
    finally:
        started.cleanup()
