"""`sage-amazon report sales-tax|margin|deferred OUTPUT.csv|OUTPUT.xlsx [--month YYYY-MM]`: the reports finance
files with (sage_amazon/ledger/reports.py), rebuilt from the warehouse and written for the accountant."""

from __future__ import annotations

from pathlib import Path

import click

from sage_amazon.ledger.reports import REPORTS


@click.command("report")
@click.argument("name", type=click.Choice(sorted(REPORTS)))
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--month", default=None, metavar="YYYY-MM", help="Only this month (default: every month).")
def report_command(name: str, output: Path, month: str | None) -> None:
    """Write report NAME to OUTPUT (.csv or .xlsx): sales-tax (US facilitator tax per month and state), margin
    (units, revenue, Amazon fees, COGS and margin per month and SKU), deferred (the orders behind each month's
    deferred accrual)."""
    from sage_amazon.cli_support import OperatorError, require_data_dir
    from sage_amazon.ledger import reports
    from sage_amazon.warehouse import Warehouse

    if month is not None and (len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit()):
        raise OperatorError(f"--month must be YYYY-MM, got {month!r}")
    settings = require_data_dir()
    with Warehouse(settings.warehouse_path, lock_timeout=120).write() as con:
        try:
            reports.build(con, name)
            sheet = reports.read(con, name, month)
        except reports.NoData as exc:
            raise OperatorError(str(exc)) from None
    try:
        path = reports.write(output, sheet)
    except ValueError as exc:
        raise OperatorError(str(exc)) from None
    click.echo(f"wrote {path}: {name} ({len(sheet.rows)} rows)")
