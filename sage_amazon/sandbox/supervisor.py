"""Starts the sandboxes as child processes on loopback and stops them, even on failure."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sage_amazon import config

PORTS = {"sqs": 9324, "amazon": 8100, "x3": 8124}


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def _wait_for(name: str, port: int, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"sandbox {name} exited with {proc.returncode}; last log lines:\n{tail}")
        if _port_open(port):
            return
        time.sleep(0.2)
    raise RuntimeError(f"sandbox {name} did not listen on 127.0.0.1:{port} within {timeout:.0f}s (log: {log})")


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "sage_amazon.cli", *args],
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so stopping it stops its children too
    )


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def sandbox_env(ports: dict[str, int] | None = None) -> dict[str, str]:
    """The settings that point the product at the sandboxes."""
    ports = {**PORTS, **(ports or {})}
    from sage_amazon.sandbox.amazon.credentials import SANDBOX_CREDENTIALS
    from sage_amazon.sandbox.x3.cli import SANDBOX_SETTINGS as X3_SETTINGS

    env = {**SANDBOX_CREDENTIALS, **X3_SETTINGS}
    env["SP_API_ENDPOINT"] = f"http://127.0.0.1:{ports['amazon']}"
    env["SP_API_LWA_ENDPOINT"] = f"http://127.0.0.1:{ports['amazon']}/auth/o2/token"
    env["SQS_QUEUE_URL"] = env["SQS_QUEUE_URL"].replace(":9324/", f":{ports['sqs']}/")
    env["SAGE_X3_URL"] = f"http://127.0.0.1:{ports['x3']}"
    if config.get("SAGE_AMAZON_TARGET") == "sage500":
        from sage_amazon.sandbox.sage500.cli import SANDBOX_SETTINGS as S500_SETTINGS

        env.update(S500_SETTINGS)
        env["SAGE_AMAZON_TARGET"] = "sage500"
    return env


@contextmanager
def sandboxes(
    seed: int = 42,
    time_scale: float | None = None,
    ports: dict[str, int] | None = None,
    order_rate: float | None = None,
    history_days: int | None = None,
) -> Iterator[dict[str, str]]:
    """Run SQS, the Amazon SP-API and Sage X3 (and install the Sage 500 database when it is the target)."""
    ports = {**PORTS, **(ports or {})}
    settings = config.load()
    logs = settings.data_dir / "sandbox" / "logs"
    busy = [f"{name} ({port})" for name, port in ports.items() if _port_open(port)]
    if busy:
        raise RuntimeError(f"ports already in use: {', '.join(busy)}; is another sandbox running?")
    env = sandbox_env(ports)
    procs: list[subprocess.Popen] = []
    # SIGTERM (timeout, systemd, kill) must stop the children too, like Ctrl-C does
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        if settings.target == "sage500":
            subprocess.run(
                [sys.executable, "-m", "sage_amazon.cli", "sandbox", "sage500", "--db", env["SAGE500_DB_URL"]],
                check=True,
            )
        sqs = _spawn(["sandbox", "sqs", "--port", str(ports["sqs"])], logs / "sqs.log")
        procs.append(sqs)
        _wait_for("sqs", ports["sqs"], sqs, logs / "sqs.log")
        amazon_args = ["sandbox", "amazon", "--port", str(ports["amazon"]), "--seed", str(seed)]
        amazon_args += ["--sqs-endpoint", f"http://127.0.0.1:{ports['sqs']}"]
        if time_scale:
            amazon_args += ["--time-scale", str(time_scale)]
        if order_rate is not None:
            amazon_args += ["--order-rate", str(order_rate)]
        if history_days is not None:
            amazon_args += ["--history-days", str(history_days)]
        amazon = _spawn(amazon_args, logs / "amazon.log")
        procs.append(amazon)
        x3 = _spawn(["sandbox", "x3", "--port", str(ports["x3"])], logs / "x3.log")
        procs.append(x3)
        _wait_for("amazon", ports["amazon"], amazon, logs / "amazon.log", timeout=180)
        _wait_for("x3", ports["x3"], x3, logs / "x3.log", timeout=120)
        if time_scale:  # the sandbox's buckets refill faster; its headers still carry Amazon's rates
            env["SP_API_RATE_SCALE"] = str(time_scale)
        yield env
    finally:
        stop(procs)
        signal.signal(signal.SIGTERM, previous)


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def format_env(env: dict[str, str]) -> str:
    import shlex

    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items()))


def wait_forever() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
