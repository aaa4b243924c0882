"""Starts the sandboxes as child processes on loopback and stops them, even on failure."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sage_amazon import config
from sage_amazon.sandbox import watchdog
from sage_amazon.sandbox.watchdog import Children

PORTS = {"sqs": 9324, "amazon": 8100, "x3": 8124}
# the option of `sandbox up` / `demo` that moves each port, named in the "port busy" line
PORT_FLAGS = {"sqs": "--sqs-port", "amazon": "--amazon-port", "x3": "--x3-port", "ui": "--ui-port",
              **{f"amazon-{r}": "--amazon-port (--regions uses it + 1, 2, 3)" for r in ("na", "eu", "fe")}}


class SandboxError(RuntimeError):
    """An operator-facing failure to start: the message is one line saying what to do."""


class PortBusy(SandboxError):
    def __init__(self, name: str, port: int) -> None:
        self.name, self.port = name, port
        flag = PORT_FLAGS.get(name, f"--{name}-port")
        super().__init__(f"port {port} ({name}) is already in use on 127.0.0.1; stop what holds it or move it with {flag}")


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on the port and we may bind it."""
    if _port_open(port, host):
        return False
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free(ports: dict[str, int]) -> None:
    """Raise PortBusy for the first busy port."""
    for name, port in ports.items():
        if not port_free(port):
            raise PortBusy(name, port)


def _wait_for(name: str, port: int, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            raise SandboxError(
                f"sandbox {name} exited with {proc.returncode}"
                + (f": {tail[0][:300]}" if tail else "") + f" (log: {log})"
            )
        if _port_open(port):
            return
        time.sleep(0.2)
    raise SandboxError(f"sandbox {name} did not listen on 127.0.0.1:{port} within {timeout:.0f}s (log: {log})")


def _spawn(children: Children, args: list[str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as handle:
        return children.spawn(
            [sys.executable, "-m", "sage_amazon.cli", *args], stdout=handle, stderr=subprocess.STDOUT
        )


def stop(procs: list[subprocess.Popen]) -> None:
    """Stop processes started elsewhere, with their process groups and descendants (SIGTERM, then SIGKILL)."""
    groups = [p.pid for p in procs if p.poll() is None]
    if groups:
        watchdog.terminate(groups, watchdog.descendants(groups))
    for proc in procs:
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL was sent
            pass


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
    env["SAGE_X3_PASSWORD"] = os.environ.get("SANDBOX_X3_PASSWORD") or env["SAGE_X3_PASSWORD"]  # the X3 child's
    if config.get("SAGE_AMAZON_TARGET") == "sage500":
        from sage_amazon.sandbox.sage500.cli import SANDBOX_SETTINGS as S500_SETTINGS

        env.update(S500_SETTINGS)
        env["SAGE_AMAZON_TARGET"] = "sage500"
    return env


REGIONS = ("NA", "EU", "FE")


def region_ports(amazon_port: int) -> dict[str, int]:
    """The regional hosts of `sandbox up --regions`: the Amazon port + 1, + 2, + 3 (NA, EU, FE)."""
    return {region: amazon_port + i for i, region in enumerate(REGIONS, 1)}


def regional_env(env: dict[str, str], ports: dict[str, int | str], accounts_file: Path,
                 marketplaces: Iterable[str] | None = None) -> dict[str, str]:
    """Point the product at one account per region (the sandbox's regional hosts, strict as Amazon's): writes
    the accounts file (SAGE_AMAZON_ACCOUNTS_FILE) and puts each region's refresh token in its own variable.
    ports: region -> port on 127.0.0.1, or the host's URL; marketplaces: the seller's (default: the sandbox
    seller's, seller_catalog). SP_API_ENDPOINT stays the main port (the NA host) for tools that read one
    endpoint; SP_API_MARKETPLACES becomes every account's marketplaces."""
    import yaml

    from sage_amazon.sandbox.amazon.credentials import REGION_REFRESH_TOKENS
    from sage_amazon.sandbox.amazon.regions import REGION_MARKETPLACES
    from sage_amazon.sandbox.seller_catalog import DEFAULT_MARKETPLACE_IDS

    wanted = list(marketplaces or DEFAULT_MARKETPLACE_IDS)
    entries = []
    for region in REGIONS:
        mps = [m for m in wanted if m in REGION_MARKETPLACES[region]]
        if not mps:
            continue
        host = ports[region]
        url = host if isinstance(host, str) else f"http://127.0.0.1:{host}"
        entries.append({"name": f"sandbox-{region.lower()}", "region": region, "endpoint": url,
                        "lwa_endpoint": f"{url}/auth/o2/token", "marketplaces": mps,
                        "refresh_token_env": f"SP_API_REFRESH_TOKEN_{region}"})
        env[f"SP_API_REFRESH_TOKEN_{region}"] = REGION_REFRESH_TOKENS[region]
    accounts_file.parent.mkdir(parents=True, exist_ok=True)
    accounts_file.write_text(yaml.safe_dump({"accounts": entries}, sort_keys=False))
    env["SAGE_AMAZON_ACCOUNTS_FILE"] = str(accounts_file)
    env["SP_API_MARKETPLACES"] = ",".join(m for entry in entries for m in entry["marketplaces"])
    return env


class _Stop(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C: stop the children and leave."""


def _raise_stop(signum, frame) -> None:
    raise _Stop(signal.Signals(signum).name)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM (timeout, systemd, kill) and SIGHUP (terminal closed) raise KeyboardInterrupt like Ctrl-C, and
    SIGINT does even when it was ignored at start (a shell starts background commands with SIGINT ignored)."""
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def sandboxes(
    seed: int = 42,
    time_scale: float | None = None,
    ports: dict[str, int] | None = None,
    order_rate: float | None = None,
    history_days: int | None = None,
    children: Children | None = None,
    regions: bool = False,
) -> Iterator[dict[str, str]]:
    """Run SQS, the Amazon SP-API and Sage X3 (and install the Sage 500 database when it is the target).

    Every child runs in its own process group and dies with this process, however it ends (a watchdog
    stops them even after SIGKILL). On leaving, they are stopped (SIGTERM, SIGKILL after 4 s).
    regions: the Amazon sandbox also serves NA, EU and FE on their own ports (region_ports) and the product is
    configured with one account per region (regional_env)."""
    ports = {**PORTS, **(ports or {})}
    settings = config.load()
    logs = settings.data_dir / "sandbox" / "logs"
    regional = region_ports(ports["amazon"]) if regions else {}
    require_free({**ports, **{f"amazon-{r.lower()}": p for r, p in regional.items()}})
    env = sandbox_env(ports)
    if regions:
        env = regional_env(env, regional, settings.data_dir / "sandbox" / "accounts.yaml")
    own = children is None
    children = children or Children()
    procs: list[subprocess.Popen] = []
    with stop_on_signals():
        try:
            if settings.target == "sage500":
                install_sage500(env["SAGE500_DB_URL"])
            sqs = _spawn(children, ["sandbox", "sqs", "--port", str(ports["sqs"])], logs / "sqs.log")
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
            if regional:
                amazon_args += ["--region-ports", ",".join(f"{r}={p}" for r, p in regional.items())]
            amazon = _spawn(children, amazon_args, logs / "amazon.log")
            procs.append(amazon)
            # --web-orders: the seller's web shop orders, which Multi-Channel Fulfillment ships (flow mcf)
            x3 = _spawn(children, ["sandbox", "x3", "--port", str(ports["x3"]), "--web-orders"], logs / "x3.log")
            procs.append(x3)
            _wait_for("amazon", ports["amazon"], amazon, logs / "amazon.log", timeout=180)
            _wait_for("x3", ports["x3"], x3, logs / "x3.log", timeout=120)
            for region, port in regional.items():
                _wait_for(f"amazon {region}", port, amazon, logs / "amazon.log", timeout=60)
            if time_scale:  # the sandbox's buckets refill faster; its headers still carry Amazon's rates
                env["SP_API_RATE_SCALE"] = str(time_scale)
            yield env
        finally:
            children.stop(None if own else procs)


def install_sage500(db_url: str) -> None:
    """Create the Sage 500 sandbox database; one line naming SAGE500_DB_URL when PostgreSQL is not there."""
    done = subprocess.run(
        [sys.executable, "-m", "sage_amazon.cli", "sandbox", "sage500", "--db", db_url, "--web-orders"],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        reason = lines[-1].removeprefix("Error: ").removeprefix("sage-amazon: ") if lines else "failed"
        raise SandboxError(f"Sage 500 sandbox not installed: {reason} (set SAGE500_DB_URL to a reachable PostgreSQL)")


def format_env(env: dict[str, str]) -> str:
    import shlex

    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items()))


def wait_forever() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
