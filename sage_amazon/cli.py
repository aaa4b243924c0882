"""The `sage-amazon` command: sandboxes, pipeline runs, the demo, settlements and dead letters."""

from __future__ import annotations

import errno
import os
import sys
from datetime import UTC, date, datetime, timedelta

import click

from sage_amazon import config
from sage_amazon.cli_support import require_data_dir, require_sage500


def _one_line(exc: BaseException) -> str | None:
    """The operator-facing line for the mistakes we recognise, or None for a bug (traceback)."""
    from sage_amazon.instance import InstanceError
    from sage_amazon.sandbox.supervisor import SandboxError
    from sage_amazon.warehouse import WarehouseBusy

    if isinstance(exc, config.ConfigError):
        return f"configuration error: {exc}"
    if isinstance(exc, SandboxError | WarehouseBusy | InstanceError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR,
                                                  errno.ENOSPC, errno.EDQUOT):
        where = exc.filename or ""
        return f"cannot write {where}: {exc.strerror} (check SAGE_AMAZON_DATA_DIR / DAGSTER_HOME)"
    return None


class _Cli(click.Group):
    """Turns operator mistakes into one clear line on stderr and a non-zero exit, never a traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
            _fail(f"{exc.format_message().rstrip('.')}{hint}", exc.exit_code)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            _fail("interrupted", 130)
        except Exception as exc:
            line = _one_line(exc)
            if line is None:
                raise
            _fail(line, 2)
        sys.exit(code if isinstance(code, int) else 0)


def _fail(line: str, code: int) -> None:
    click.echo(f"sage-amazon: {' '.join(line.split())}", err=True)
    sys.stdout.flush()
    sys.exit(code)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sage-amazon")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree without installing
        return "unknown"


@click.group(cls=_Cli)
@click.version_option(_version(), "--version", prog_name="sage-amazon", message="%(prog)s %(version)s")
def main() -> None:
    """Amazon Selling Partner API ⇄ Sage X3 / Sage 500, on Dagster."""


def _prepare_dagster_home() -> str:
    """DAGSTER_HOME under the data dir, with an instance config that holds the pools."""
    from sage_amazon import instance

    settings = require_data_dir()
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
            f"--start {first} is before SAGE_AMAZON_START_DATE {settings.start_date} (from "
            f"{config.source('SAGE_AMAZON_START_DATE')}), the first order partition: set an earlier day there"
        )
    require_sage500(settings)
    _prepare_dagster_home()
    from sage_amazon import run_summary
    from sage_amazon.runner import RUN_STARTED, RunStopped, install_stop_handlers, run_pipeline, user_line

    install_stop_handlers()
    RUN_STARTED[:] = [datetime.now(UTC)]
    stopped: RunStopped | None = None
    crashed = ""
    try:
        outcomes = run_pipeline(first.isoformat(), last.isoformat())
    except RunStopped as stop:
        stopped, outcomes = stop, getattr(stop, "outcomes", [])
    except Exception as exc:  # noqa: BLE001 - never a traceback: one line, then the summary
        if os.environ.get("SAGE_AMAZON_DEBUG"):
            raise
        from sage_amazon.errors import one_line

        crashed, outcomes = user_line(one_line(exc)), []
    outcome = run_summary.read(settings.warehouse_path, RUN_STARTED[0])
    _exit_now(_print_summary(outcomes, outcome, stopped, crashed))


def _exit_now(code: int) -> None:
    """Leave without interpreter teardown: everything is written and closed by now, and DuckDB's
    bindings otherwise print pages of harmless "nanobind: leaked instance" lines after a Dagster run."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _print_summary(outcomes: list[tuple[str, bool, str]], outcome=None, stopped=None, crashed: str = "") -> int:
    """The stages, the business outcome and one line of cause per failure; returns the exit status:
    0 all posted, 3 posted with dead letters / refusals / holds, 1 a stage failed, 130 / 143 stopped."""
    from tabulate import tabulate

    from sage_amazon.runner import EXIT_ATTENTION, EXIT_FAILED, EXIT_OK, _watch

    rows = [(label, "ok" if ok else "FAILED", run_id[:8]) for label, ok, run_id in outcomes]
    if stopped is not None:
        rows.append((getattr(stopped, "stage", "(rest of the run)"), "STOPPED" if stopped.code != EXIT_FAILED
                     else "GAVE UP", ""))
    click.echo("")
    click.echo(tabulate(rows, headers=["stage", "result", "run id"], tablefmt="simple"))
    failed = sum(1 for _, ok, _ in outcomes if not ok)
    click.echo(f"\n{len(outcomes) - failed} stage run(s) succeeded, {failed} failed.")
    if outcome is not None and outcome.flows:
        click.echo("")
        table = [(f.label, f.posted, f.refused, f.dead_lettered, f.not_sent + f.in_flight) for f in outcome.flows]
        click.echo(tabulate(table, headers=["posted to Sage during this run", "posted", "refused by Sage",
                                            "dead letters / on hold", "left for the next run"], tablefmt="simple"))
        if _watch.skipped:
            click.echo(f"{_watch.skipped} record(s) skipped (already posted, or waiting for Amazon).")
        for f in outcome.flows:
            for reason, n in f.reasons[:3]:
                click.echo(f"  {f.label}: {n} × {reason[:200]}")
    elif outcome is not None and outcome.unread:
        click.echo(f"\nposting counts not read: {outcome.unread}")
    else:
        click.echo("\nnothing was posted to Sage during this run.")
    causes = [(step, line) for step, line in _watch.failures]
    if crashed:
        causes.append(("run", crashed))
    if stopped is not None:
        causes.append(("run", str(stopped)))
    if causes:
        click.echo("")
        seen = set()
        for step, line in causes:
            if (step, line) not in seen:
                seen.add((step, line))
                click.echo(f"✗ {step}: {line[:300]}")
    if stopped is not None:
        click.echo("stopped: what was posted is recorded; the rest is left for the next run "
                   "(`sage-amazon run` resumes it).")
        return stopped.code
    if crashed or failed or not outcomes:
        return EXIT_FAILED
    return EXIT_ATTENTION if outcome is not None and outcome.attention else EXIT_OK


@main.command("demo")
@click.option("--start", help="First UTC day of the initial run (default: 7 days ago).")
@click.option("--ui-port", "--port", "ui_port", default=3000, show_default=True, help="Dagster UI port.")
@click.option("--amazon-port", default=8100, show_default=True, help="Amazon SP-API + LWA sandbox port.")
@click.option("--sqs-port", default=9324, show_default=True, help="SQS sandbox port.")
@click.option("--x3-port", default=8124, show_default=True, help="Sage X3 sandbox port.")
@click.option("--seed", default=42, show_default=True, help="Seed of the generated seller.")
@click.option("--history-days", default=None, type=int, help="Days of generated Amazon history (default 90).")
@click.option("--no-run", is_flag=True, help="Skip the first pipeline run (the sensors and schedules still run).")
@click.option("--stop-with-parent", is_flag=True,
              help="Also stop when the process that started this one exits (used by `make demo`).")
def demo_command(start: str | None, ui_port: int, amazon_port: int, sqs_port: int, x3_port: int, seed: int,
                 history_days: int | None, no_run: bool, stop_with_parent: bool) -> None:
    """Sandboxes up, one pipeline run, then the Dagster UI with sensors and schedules running.

    Ctrl-C, SIGTERM or SIGHUP stop everything within seconds; if this process is killed, its children
    stop by themselves."""
    from sage_amazon import demo
    from sage_amazon.sandbox import watchdog

    if stop_with_parent:
        watchdog.stop_with_parent()
    if start is not None:
        _day(start, date.min)
    require_data_dir()
    sys.exit(demo.run_demo(start=start, ui_port=ui_port, ports={"amazon": amazon_port, "sqs": sqs_port,
                                                                "x3": x3_port},
                           seed=seed, history_days=history_days, first_run=not no_run))


from sage_amazon.sandbox.cli import sandbox  # noqa: E402

main.add_command(sandbox)

try:  # the settlement flow's commands
    from sage_amazon.ledger.cli import settlement_group
except ImportError:  # pragma: no cover - until the settlement flow lands
    settlement_group = None
if settlement_group is not None:
    main.add_command(settlement_group)

from sage_amazon.cockpit.cli import cockpit_group, settlement_export_command  # noqa: E402

main.add_command(cockpit_group)
if settlement_group is not None:
    settlement_group.add_command(settlement_export_command)

from sage_amazon.amazon.subscriptions import amazon_group  # noqa: E402
from sage_amazon.deadletter_cli import deadletter  # noqa: E402

main.add_command(deadletter)
main.add_command(amazon_group)

from sage_amazon.ledger.vat.cli import vat_group  # noqa: E402

main.add_command(vat_group)

from sage_amazon.ledger.report_cli import report_command  # noqa: E402

main.add_command(report_command)


if __name__ == "__main__":
    main()
