"""The `sage-amazon` command: sandboxes, pipeline runs, the demo, settlements and dead letters."""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime, timedelta

import click

from sage_amazon import config


class _Cli(click.Group):
    """Turns configuration errors into one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except config.ConfigError as exc:
            click.echo(f"sage-amazon: configuration error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Cli)
def main() -> None:
    """Amazon Selling Partner API ⇄ Sage X3 / Sage 500, on Dagster."""


def _prepare_dagster_home() -> str:
    """DAGSTER_HOME under the data dir, with an instance config that holds the pools."""
    from sage_amazon import instance

    settings = config.load()
    home = instance.ensure_home(settings.dagster_home)
    os.environ["DAGSTER_HOME"] = str(home)
    return str(home)


def _day(value: str | None, default: date) -> date:
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date like 2026-11-01, got {value!r}") from None


@main.command("run")
@click.option("--start", help="First UTC day to extract (default: 7 days ago).")
@click.option("--end", help="Last UTC day to extract (default: today).")
def run_command(start: str | None, end: str | None) -> None:
    """Materialize the whole asset graph once, without the UI, and print a summary."""
    today = datetime.now(UTC).date()
    first, last = _day(start, today - timedelta(days=7)), _day(end, today)
    if first > last:
        raise click.BadParameter(f"--start {first} is after --end {last}")
    settings = config.load()
    if first < settings.start_date:
        raise click.BadParameter(
            f"--start {first} is before SAGE_AMAZON_START_DATE {settings.start_date}, the first order partition"
        )
    _prepare_dagster_home()
    from sage_amazon.definitions import run_pipeline

    outcomes = run_pipeline(first.isoformat(), last.isoformat())
    _print_summary(outcomes)
    _exit_now(0 if outcomes and all(ok for _, ok, _ in outcomes) else 1)


def _exit_now(code: int) -> None:
    """Leave without interpreter teardown: everything is written and closed by now, and DuckDB's
    bindings otherwise print pages of harmless "nanobind: leaked instance" lines after a Dagster run."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _print_summary(outcomes: list[tuple[str, bool, str]]) -> None:
    from tabulate import tabulate

    rows = [(label, "ok" if ok else "FAILED", run_id) for label, ok, run_id in outcomes]
    click.echo("")
    click.echo(tabulate(rows, headers=["stage", "result", "run id"], tablefmt="simple"))
    failed = sum(1 for _, ok, _ in outcomes if not ok)
    click.echo(f"\n{len(outcomes) - failed} stage run(s) succeeded, {failed} failed.")


@main.command("demo")
@click.option("--start", help="First UTC day of the initial run (default: 7 days ago).")
@click.option("--port", default=3000, show_default=True, help="Dagster UI port.")
def demo_command(start: str | None, port: int) -> None:
    """Sandboxes up, one pipeline run, then the Dagster UI with sensors and schedules running."""
    from sage_amazon import demo

    demo.run_demo(start=start, ui_port=port)


from sage_amazon.sandbox.cli import sandbox  # noqa: E402

main.add_command(sandbox)

try:  # the settlement flow's commands
    from sage_amazon.ledger.cli import settlement_group
except ImportError:  # pragma: no cover - until the settlement flow lands
    settlement_group = None
if settlement_group is not None:
    main.add_command(settlement_group)

from sage_amazon.deadletter_cli import deadletter  # noqa: E402

main.add_command(deadletter)


if __name__ == "__main__":
    main()
