"""`sage-amazon demo`: sandboxes, one pipeline run, then the Dagster UI with automation on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

from sage_amazon import config, instance
from sage_amazon.sandbox import supervisor

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _dagster(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("dagster")), *args]


# The demo speeds the sandbox's clock (rate limits, report processing) so a first run takes minutes, not hours.
DEMO_TIME_SCALE = 30.0
DEMO_ORDER_RATE = 6.0  # new Amazon orders per minute, each announced on SQS


def run_demo(start: str | None, ui_port: int = 3000) -> None:
    settings = config.load()
    home = instance.ensure_home(settings.dagster_home)
    with supervisor.sandboxes(time_scale=DEMO_TIME_SCALE, order_rate=DEMO_ORDER_RATE) as env:
        os.environ.update(env)
        os.environ["DAGSTER_HOME"] = str(home)
        click.echo(supervisor.format_env(env))
        click.echo("\n== First pipeline run ==")
        run_args = [sys.executable, "-m", "sage_amazon.cli", "run"] + (["--start", start] if start else [])
        first = subprocess.run(run_args, cwd=PROJECT_ROOT)
        if first.returncode != 0:
            click.echo("The first run had failures (see above); the UI shows each run's details.", err=True)
        workspace = str(PROJECT_ROOT / "workspace.yaml")
        for kind in ("sensor", "schedule"):
            subprocess.run(_dagster(kind, "start", "--start-all", "-w", workspace), cwd=PROJECT_ROOT, check=False)
        click.echo(f"\n== Dagster UI on http://127.0.0.1:{ui_port} (Ctrl-C stops everything) ==")
        ui = subprocess.Popen(
            _dagster("dev", "-w", workspace, "-h", "127.0.0.1", "-p", str(ui_port)),
            cwd=PROJECT_ROOT,
            start_new_session=True,
        )
        try:
            ui.wait()
        except KeyboardInterrupt:
            pass
        finally:
            supervisor.stop([ui])
