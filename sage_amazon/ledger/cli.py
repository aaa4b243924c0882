"""`sage-amazon settlement import FILE`, `settlement remove ID` and `settlement inspect FILE [--json]`.

Import-light: everything heavy (duckdb, dagster) is imported inside the commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.group("settlement")
def settlement_group() -> None:
    """Amazon settlement reports: import files downloaded by hand, preview their journals."""


def _money(value) -> str:
    return f"{value:,.2f}" if value is not None else ""


@settlement_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--run/--no-run", default=False,
              help="Also run the settlement job for it now, in this process (default: leave it to Dagster).")
def import_command(file: Path, run: bool) -> None:
    """Bring in a settlement file downloaded from Seller Central (reports older than 90 days are not in
    the API). It is kept under the data dir and added as a settlement partition, like a discovered one.

    The file is read in full first: what `settlement inspect` refuses (a value that cannot be read, a
    truncated file, a 1 MB field, lines not adding up to total-amount) is refused here in one line (exit 1)
    and nothing is kept. A new file for a settlement already posted is a reissue (accounts.yaml `reissue`:
    on hold by default, or corrected by a difference journal or a reversal and repost). With --run, a
    settlement on hold is not run (exit 1; `sage-amazon deadletter list` shows why)."""
    from sage_amazon.amazon.settlement import SettlementFileError
    from sage_amazon.cli_support import OperatorError, require_data_dir, require_sage500
    from sage_amazon.ledger import holds, intake, reissue
    from sage_amazon.mapping import MappingError
    from sage_amazon.warehouse import Warehouse, WarehouseBusy

    settings = require_data_dir()
    if run:
        require_sage500(settings)  # before anything is stored: one line if the Sage 500 database is not there
    try:
        reissue.mode()  # a wrong accounts.yaml `reissue` is one line before anything is stored
        stored = intake.store(file, settings.raw_dir, origin="import")
    except SettlementFileError as exc:
        click.echo(f"sage-amazon: {exc}", err=True)
        sys.exit(1)
    except MappingError as exc:
        raise OperatorError(str(exc)) from None
    state = ("already imported (same content)" if stored.kept_existing and stored.file_format != "V1"
             else "kept the V2 file already there" if stored.kept_existing
             else "replaced an earlier file (kept beside it)" if stored.replaced else "stored")
    click.echo(f"settlement {stored.settlement_id} ({stored.file_format}): {state} at {stored.path}")
    try:  # a posted settlement whose file changed: a reissue, on hold or corrected (never silently kept)
        for line in reissue.screen(settings.raw_dir, settings.warehouse_path):
            click.echo(line)
        with Warehouse(settings.warehouse_path, lock_timeout=120).read() as con:
            on_hold = holds.held(con).get(stored.settlement_id)
    except WarehouseBusy as exc:
        raise OperatorError(f"{exc}; the file is stored: the next run screens it") from None
    from sage_amazon.runner import add_settlement_partition, run_settlement

    if add_settlement_partition(stored.settlement_id):
        click.echo(f"added partition {stored.settlement_id} to settlement_ids")
    if on_hold:
        click.echo(f"settlement {stored.settlement_id} is on hold: not run (sage-amazon deadletter list)")
        if run:
            sys.exit(1)
        return
    if run:
        from sage_amazon.runner import RunStopped, exit_now, finish_stopped

        try:
            ok, run_id = run_settlement(stored.settlement_id)
        except RunStopped as stop:  # SIGTERM / Ctrl-C, or a pool slot never granted
            finish_stopped(stop)
        click.echo(f"settlement_job {'succeeded' if ok else 'FAILED'} (run {run_id})")
        exit_now(0 if ok else 1)  # no interpreter teardown after a Dagster run (DuckDB's leak pages)
    else:
        click.echo("materialize it from the UI (settlement_job) or re-run with --run")


@settlement_group.command("remove")
@click.argument("settlement_id")
def remove_command(settlement_id: str) -> None:
    """Take back a settlement imported or downloaded by mistake, if nothing of it is posted to Sage.

    Its warehouse rows, failed attempts and open dead letters go, its files move to
    <data dir>/raw/settlements/removed/, and its Dagster partition is deleted. A settlement with a
    journal or credit note in Sage (or one whose sending had an unknown outcome) is refused: reverse it in Sage."""
    from sage_amazon.cli_support import OperatorError, require_data_dir
    from sage_amazon.ledger import remove
    from sage_amazon.warehouse import Warehouse

    settings = require_data_dir()
    from sage_amazon.runner import embedded_instance

    instance = embedded_instance()
    partition = instance.has_dynamic_partition("settlement_ids", settlement_id)
    try:
        removal = remove.remove(Warehouse(settings.warehouse_path), settings.raw_dir, settlement_id,
                                in_partitions=partition)
    except (remove.AlreadyPosted, remove.UnknownSettlement) as exc:
        raise OperatorError(str(exc)) from None
    if partition:
        instance.delete_dynamic_partition("settlement_ids", settlement_id)
    rows = sum(removal.rows.values())
    click.echo(f"settlement {settlement_id} removed: {rows} warehouse row(s) in {len(removal.rows)} table(s), "
               f"{removal.ledger_entries} failed attempt(s), {removal.dead_letters} dead letter(s) closed"
               + (", partition deleted" if partition else "")
               + (f"; files moved to {removal.moved_to}" if removal.moved_to else ""))


@settlement_group.command("inspect")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.option("--target", type=click.Choice(["x3", "sage500"]), default=None,
              help="Account codes of this Sage target (default: SAGE_AMAZON_TARGET).")
def inspect_command(file: Path, as_json: bool, target: str | None) -> None:
    """Parse, validate and preview the journals of a settlement file, without posting anything.
    Exit code 1 when a blocking check fails or the file cannot be read."""
    from sage_amazon.amazon.settlement import SettlementFileError
    from sage_amazon.ledger import settlements

    try:
        preview = settlements.preview(file, target)
    except SettlementFileError as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "status": "unreadable", "error": str(exc), "file": exc.path,
                                   "line": exc.line, "column": exc.column, "value": exc.value}))
        else:
            click.echo(f"sage-amazon: {exc}", err=True)
        sys.exit(1)
    blocking_failed = preview.blocked
    cur = preview.summary.currency

    def amt(value) -> str | None:  # two decimals, none for zero-decimal currencies (JPY)
        return None if value is None else _amount(value, cur)

    if as_json:
        doc = {
            "ok": not blocking_failed,
            "status": "blocked" if blocking_failed else "ready",
            "blocked": [{"name": o.name, "description": o.description} for o in blocking_failed],
            "warnings": preview.warnings,
            "settlement": preview.summary.as_dict(),
            "checks": [{"name": o.name, "passed": o.passed, "blocking": o.blocking, "description": o.description}
                       for o in preview.outcomes],
            "reconciliation": {k: (str(v) if v is not None else None) for k, v in (preview.reconciliation or {}).items()},
            "accounts": [{**{k: str(v) for k, v in row.items()},
                          "types": [{**t, "amount": amt(t["amount"])} for t in preview.account_types.get(row["account"], [])]}
                         for row in preview.accounts],
            "unmapped": [{"transaction_type": u[0], "amount_type": u[1], "amount_description": u[2],
                          "lines": u[3], "amount": amt(u[4])} for u in preview.unmapped],
            "journals": [{
                "reference": j.reference, "accounting_date": j.accounting_date.isoformat(), "currency": j.currency,
                "rate": str(j.rate), "description": j.description, "site": j.site,
                "lines": [{"account": line.account, "debit": amt(line.debit), "credit": amt(line.credit),
                           "ledger_debit": None if line.ledger_debit is None else _amount(line.ledger_debit, ""),
                           "ledger_credit": None if line.ledger_credit is None else _amount(line.ledger_credit, ""),
                           "tax_code": line.tax_code, "description": line.description} for line in j.lines],
            } for j in preview.journals],
        }
        click.echo(json.dumps(doc, indent=2))
    else:
        _print_preview(preview)
    if blocking_failed:
        sys.exit(1)


def _amount(value, currency: str) -> str:
    from sage_amazon.ledger.settlements import ZERO_DECIMAL_CURRENCIES

    return f"{value:.0f}" if currency in ZERO_DECIMAL_CURRENCIES else f"{value:.2f}"


def _print_preview(preview) -> None:
    from tabulate import tabulate

    from sage_amazon.ledger.settlements import ZERO_DECIMAL_CURRENCIES

    s = preview.summary
    cur = s.currency

    def money(value) -> str:
        if value is None:
            return ""
        return f"{value:,.0f}" if cur in ZERO_DECIMAL_CURRENCIES else f"{value:,.2f}"

    if preview.blocked:  # the block first: nothing below will be posted
        click.echo(f"BLOCKED: settlement {s.settlement_id} will not be posted")
        for o in preview.blocked:
            click.echo(f"  {o.name}: {o.description}")
        click.echo("")
    start = f"{s.settlement_start:%Y-%m-%d}" if s.settlement_start else "?"
    end = f"{s.settlement_end:%Y-%m-%d}" if s.settlement_end else "?"
    click.echo(f"settlement {s.settlement_id} ({s.file_format}, {s.marketplace or '?'}, {cur}) "
               f"{start} .. {end}, deposit {s.deposit_date}, {s.line_count} lines")
    for warning in preview.warnings:
        click.echo(f"warning: {warning}")
    r = preview.reconciliation or {}
    click.echo(tabulate(
        [("total-amount", money(r.get("total_amount"))), ("sum of lines", money(r.get("sum_lines"))),
         ("sum of journal lines", money(r.get("sum_journal_lines"))), ("deposit", money(r.get("deposit"))),
         ("variance", money(r.get("variance"))), ("unmapped (suspense)", money(r.get("unmapped_amount")))],
        tablefmt="plain", colalign=("left", "right"), disable_numparse=True))
    click.echo("")
    # a blocked settlement: its journals are a preview only, "balanced" is not a reassurance worth printing
    shown = [o for o in preview.outcomes if not (preview.blocked and o.passed)]
    if shown:
        click.echo(tabulate([("ok" if o.passed else ("FAIL" if o.blocking else "warn"), o.name, o.description)
                             for o in shown], headers=["", "check", ""], tablefmt="simple"))
    for journal in preview.journals:
        foreign = any(line.ledger_debit is not None for line in journal.lines)
        click.echo(f"\n{journal.reference}  {journal.accounting_date}  {journal.currency}"
                   + (f"  rate {journal.rate}" if journal.rate != 1 else "") + (f"  site {journal.site}" if journal.site else "")
                   + f"  {journal.description}" + ("  (not posted: blocked)" if preview.blocked else ""))
        rows = []
        for line in journal.lines:
            row = [line.account, money(line.debit) if line.debit else "", money(line.credit) if line.credit else ""]
            if foreign:
                row += [f"{line.ledger_debit:,.2f}" if line.ledger_debit else "",
                        f"{line.ledger_credit:,.2f}" if line.ledger_credit else ""]
            types = preview.account_types.get(line.account, []) if "clearing" not in line.description else []
            row += [line.description, "; ".join(sorted({t["amount_description"] or t["transaction_type"] for t in types}))[:60]]
            rows.append(row)
        total = ["", money(sum(line.debit for line in journal.lines)), money(sum(line.credit for line in journal.lines))]
        if foreign:
            total += [f"{sum(x.ledger_debit or 0 for x in journal.lines):,.2f}",
                      f"{sum(x.ledger_credit or 0 for x in journal.lines):,.2f}"]
        rows.append(total + ["total", ""])
        headers = ["account", "debit", "credit"] + (["debit (company)", "credit (company)"] if foreign else []) \
            + ["", "Amazon types"]
        click.echo(tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True,
                            colalign=("left", "right", "right") + (("right", "right") if foreign else ()) + ("left", "left")))
    if preview.account_types:
        click.echo("\nrules per account:")
        click.echo(tabulate(
            [(account, t["marketplace"], t["transaction_type"], t["amount_type"], t["amount_description"], t["lines"],
              money(t["amount"]), t["rule"]) for account, types in sorted(preview.account_types.items()) for t in types],
            headers=["account", "mkt", "transaction-type", "amount-type", "amount-description", "lines", "amount", "rule"],
            tablefmt="simple", disable_numparse=True))
    if preview.unmapped:
        click.echo("\nunmapped lines (posted to suspense; add a rule to accounts.yaml):")
        click.echo(tabulate(preview.unmapped, headers=["transaction-type", "amount-type", "amount-description",
                                                       "lines", "amount"], tablefmt="simple"))


def _add_tieout() -> None:  # the order-level tie-out lives in its own module (ledger/tieout_cli.py)
    from sage_amazon.ledger.tieout_cli import tieout_command

    settlement_group.add_command(tieout_command)


_add_tieout()


@settlement_group.command("trace")
@click.argument("settlement_id")
@click.option("--account", default=None, help="Only the rows behind this GL account.")
@click.option("--journal", default=None, help="Only the rows behind this journal reference (AMZ-<id>-<yyyymm>...).")
def trace_command(settlement_id: str, account: str | None, journal: str | None) -> None:
    """Print the settlement rows (raw.settlement_lines, in landed order) behind a journal line."""
    from tabulate import tabulate

    from sage_amazon.cli_support import OperatorError, require_data_dir
    from sage_amazon.ledger import trace
    from sage_amazon.warehouse import Warehouse, table_exists

    settings = require_data_dir()
    with Warehouse(settings.warehouse_path).read() as con:
        if not table_exists(con, trace.TABLE):
            raise OperatorError(f"no {trace.TABLE} in the warehouse yet: run the settlement first")
        found = trace.rows(con, settlement_id, account, journal)
    if not found:
        raise OperatorError(f"no rows of settlement {settlement_id}"
                            + (f" for account {account}" if account else "")
                            + (f" in journal {journal}" if journal else ""))
    click.echo(tabulate([[r[c] for c in trace.COLUMNS] for r in found], headers=trace.COLUMNS, tablefmt="simple"))
    total = sum(r["amount"] for r in found if r["amount"] is not None)
    click.echo(f"{len(found)} row(s), total {total:.2f} {found[0]['currency'] or ''}")
