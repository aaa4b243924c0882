"""`sage-amazon demo`: sandboxes, one pipeline run, then the Dagster UI with automation on.

The UI is `dagster-webserver` and `dagster-daemon run`, two children of this process (rather than
`dagster dev`, which ignores SIGTERM and Ctrl-C for about 35 s). Every child, sandbox or Dagster,
runs in its own process group that dies with this process: Ctrl-C, SIGTERM or SIGHUP stop them all
within a few seconds, and a watchdog stops them even when this process is killed with SIGKILL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import click

from sage_amazon import config, instance
from sage_amazon.sandbox import supervisor
from sage_amazon.sandbox.watchdog import Children

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _dagster(program: str, *args: str) -> list[str]:
    return [str(Path(sys.executable).with_name(program)), *args]


# The demo speeds the sandbox's clock (rate limits, report processing) so a first run takes minutes, not hours.
DEMO_TIME_SCALE = 30.0
DEMO_ORDER_RATE = 6.0  # new Amazon orders per minute, each announced on SQS


def _record_first_day(start: str | None) -> None:
    """Without a configured first day, the daily partitions start on the first run's first day (recorded in the
    instance's settings file, read by the UI, the daemon and every run), not months of never-loaded days."""
    if config.source("SAGE_AMAZON_START_DATE") != "default":
        return
    from datetime import UTC, date, datetime, timedelta

    try:
        first = date.fromisoformat(start) if start else datetime.now(UTC).date() - timedelta(days=7)
    except ValueError:
        raise click.BadParameter(f"--start: expected a date like 2026-11-01, got {start!r}") from None
    path = config.record("SAGE_AMAZON_START_DATE", first.isoformat())
    click.echo(f"Daily partitions start on {first} (SAGE_AMAZON_START_DATE in {path}: set an earlier day there "
               "to backfill older days)")


def run_demo(
    start: str | None,
    ui_port: int = 3000,
    ports: dict[str, int] | None = None,
    seed: int = 42,
    history_days: int | None = None,
    first_run: bool = True,
) -> int:
    """Returns the exit code: 0 when stopped by the operator, 1 when the UI or the daemon died by itself."""
    settings = config.load()
    _record_first_day(start)
    supervisor.require_free({"ui": ui_port, **{**supervisor.PORTS, **(ports or {})}})
    home = instance.ensure_home(settings.dagster_home)
    children = Children()
    logs = settings.data_dir / "sandbox" / "logs"
    code = 0
    try:
        with supervisor.sandboxes(
            seed=seed, time_scale=DEMO_TIME_SCALE, order_rate=DEMO_ORDER_RATE, ports=ports,
            history_days=history_days, children=children,
            regions=True,  # one account per region, each on its own strict host, as a real seller connects them
        ) as env:
            try:
                code = _serve(env, home, start, ui_port, children, logs, first_run)
            finally:
                children.stop()  # everything at once: UI, daemon, their code servers, the sandboxes
    except KeyboardInterrupt:
        pass
    finally:
        children.stop()
    click.echo("Demo stopped.")
    return code


def _serve(env: dict[str, str], home: Path, start: str | None, ui_port: int, children: Children, logs: Path,
           first_run: bool) -> int:
    os.environ.update(env)
    os.environ["DAGSTER_HOME"] = str(home)
    click.echo(supervisor.format_env(env))
    click.echo("\n== Amazon notifications: sage-amazon amazon connect ==")  # as a user sets up a real account
    if children.spawn([sys.executable, "-m", "sage_amazon.cli", "amazon", "connect"], cwd=PROJECT_ROOT).wait() != 0:
        click.echo("amazon connect failed (see above): no notification will reach the sensors.", err=True)
    if first_run:
        click.echo("\n== First pipeline run ==")
        run_args = [sys.executable, "-m", "sage_amazon.cli", "run"] + (["--start", start] if start else [])
        if children.spawn(run_args, cwd=PROJECT_ROOT).wait() != 0:
            click.echo("The first run had failures (see above); the UI shows each run's details.", err=True)
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    for kind in ("sensor", "schedule"):
        children.spawn(_dagster("dagster", kind, "start", "--start-all", "-w", workspace), cwd=PROJECT_ROOT,
                       stdout=subprocess.DEVNULL).wait()
    logs.mkdir(parents=True, exist_ok=True)
    # Both log to files, as the sandboxes do: on Ctrl-C, Dagster turns the SIGTERM its code servers get into a
    # KeyboardInterrupt, and one that lands while a server's threads are being joined prints a traceback.
    daemon = _spawn_logged(children, logs / "dagster-daemon.log", _dagster("dagster-daemon", "run", "-w", workspace))
    ui = _spawn_logged(children, logs / "dagster-webserver.log",
                       _dagster("dagster-webserver", "-w", workspace, "-h", "127.0.0.1", "-p", str(ui_port)))
    deadline = time.monotonic() + 120
    while not supervisor._port_open(ui_port) and time.monotonic() < deadline:
        if ui.poll() is not None:
            raise supervisor.SandboxError(f"dagster-webserver exited with {ui.returncode} "
                                          f"(see {logs / 'dagster-webserver.log'})")
        time.sleep(0.3)
    click.echo(f"Dagster logs: {logs / 'dagster-webserver.log'}, {logs / 'dagster-daemon.log'}")
    click.echo(f"\n== Dagster UI on http://127.0.0.1:{ui_port} (Ctrl-C stops everything) ==", err=False)
    sys.stdout.flush()
    while True:
        for name, proc in (("dagster-webserver", ui), ("dagster-daemon", daemon)):
            if proc.poll() is not None:
                click.echo(f"{name} exited with {proc.returncode}; stopping the demo (log: {logs / name}.log)",
                           err=True)
                return 1
        time.sleep(0.5)


def _spawn_logged(children: Children, log: Path, args: list[str]) -> subprocess.Popen:
    with log.open("ab") as out:
        return children.spawn(args, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT)
