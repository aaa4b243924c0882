"""`sage-amazon cockpit export FILE.xlsx` and `sage-amazon settlement export ID --xlsx`: the cockpit's tables, or
one settlement whole, as a workbook for the accountant (sage_amazon/cockpit/export.py)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("cockpit")
def cockpit_group() -> None:
    """What finance and operations read first: the settlements overview, per-flow counts, dead letters."""


def _export(sheets_of, output: Path) -> None:
    from sage_amazon.cli_support import OperatorError, require_data_dir
    from sage_amazon.cockpit import export
    from sage_amazon.warehouse import Warehouse

    settings = require_data_dir()
    with Warehouse(settings.warehouse_path, lock_timeout=120).write() as con:
        try:
            sheets = sheets_of(con)
        except export.UnknownSettlement as exc:
            raise OperatorError(str(exc)) from None
    path = export.write_workbook(output, sheets)
    click.echo(f"wrote {path}: " + ", ".join(f"{s.name} ({len(s.rows)} rows)" for s in sheets))


@cockpit_group.command("export")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
def cockpit_export_command(output: Path) -> None:
    """Write OUTPUT (.xlsx): settlements overview, flows, open dead letters, order tie-out, reconciliation."""
    from sage_amazon.cockpit import export

    _export(export.cockpit_sheets, output)


@click.command("export")
@click.argument("settlement_id")
@click.option("--xlsx", "output", is_flag=False, flag_value="", default="", metavar="[FILE]",
              help="Write an xlsx workbook (the only format), to FILE or settlement-<ID>.xlsx here.")
def settlement_export_command(settlement_id: str, output: str) -> None:
    """Write one settlement as a workbook: summary, journal lines, per-account trace and the raw rows."""
    from sage_amazon.cockpit import export

    _export(lambda con: export.settlement_sheets(con, settlement_id),
            Path(output) if output else Path(f"settlement-{settlement_id}.xlsx"))
