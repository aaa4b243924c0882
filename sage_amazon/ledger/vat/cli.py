"""`sage-amazon vat summary FILE.csv|FILE.xlsx`: the VAT summary per return period and registration (UK VAT100,
German UStVA, OSS, Canada GST34) as finance files it; `sage-amazon vat land-report FILE`: land Amazon's VAT
transactions report (departure, arrival, buyer VAT numbers) for the settlements waiting on it."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("vat")
def vat_group() -> None:
    """VAT and GST of the settlements: return summaries and Amazon's VAT transactions report."""


@vat_group.command("summary")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--period", default="", help="Only this return period (2026-Q3, or 2026-08 for a monthly filer).")
def summary_command(output: Path, period: str) -> None:
    """Write OUTPUT (.csv or .xlsx): the boxes of each return, rebuilt from every settlement's VAT lines."""
    from sage_amazon.cli_support import OperatorError, require_data_dir
    from sage_amazon.ledger.vat import profile, summary
    from sage_amazon.warehouse import Warehouse

    if output.suffix.lower() not in (".csv", ".xlsx"):
        raise OperatorError(f"{output}: the VAT summary is written as .csv or .xlsx")
    settings = require_data_dir()
    monthly = profile.load(settings.target).monthly_returns
    with Warehouse(settings.warehouse_path, lock_timeout=120).write() as con:
        rows = summary.build(con, monthly)
    rows = [r for r in rows if not period or r["return_period"] == period]
    path = summary.export(rows, output)
    returns = {(r["return_period"], r["registration"], r["form"]) for r in rows}
    click.echo(f"wrote {path}: {len(rows)} boxes of {len(returns)} returns")


@vat_group.command("land-report")
@click.argument("report", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def land_report_command(report: Path) -> None:
    """Land REPORT, Amazon's VAT transactions report; the settlements waiting on it decide on their next run."""
    from sage_amazon.cli_support import OperatorError, require_data_dir
    from sage_amazon.ledger.vat import facts
    from sage_amazon.warehouse import Warehouse

    settings = require_data_dir()
    with Warehouse(settings.warehouse_path, lock_timeout=120).write() as con:
        try:
            count = facts.land_report(con, report)
        except ValueError as exc:
            raise OperatorError(str(exc)) from None
    click.echo(f"landed {count} VAT transaction rows from {report.name}")
