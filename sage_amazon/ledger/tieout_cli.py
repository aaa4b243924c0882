"""`sage-amazon settlement tieout [--json] [--as-of DAY] [--status S]`: per Amazon order id, what Sage invoiced
against what Amazon's settlements paid (open items, settled never invoiced, differences, ageing) and the refunds
against the credit notes in Sage."""

from __future__ import annotations

import json
from datetime import date

import click


@click.command("tieout")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Age open items up to this day (default: the last settlement end date in the warehouse).")
@click.option("--status", "statuses", multiple=True,
              type=click.Choice(["open", "settled_not_invoiced", "difference", "matched", "refunded"]),
              help="Only these statuses (repeatable; default: everything but matched).")
def tieout_command(as_json: bool, as_of, statuses: tuple[str, ...]) -> None:
    """Order-level tie-out between Sage sales orders / invoices and Amazon settlement money.
    Exit code 1 when settled orders were never invoiced or amounts differ (revenue: sage_invoices)."""
    from sage_amazon.cli_support import require_data_dir
    from sage_amazon.ledger import tieout
    from sage_amazon.mapping import accounts
    from sage_amazon.warehouse import Warehouse

    settings = require_data_dir()
    amap = accounts.load()
    revenue = amap.revenue
    day: date | None = as_of.date() if as_of else None
    with Warehouse(settings.warehouse_path).read() as con:
        day = day or tieout.default_as_of(con)
        tie = tieout.rows(con, day)
    summary = tieout.summarize(tie, day, revenue, amap.documents)
    checks = tieout.outcomes(summary)
    shown = [r for r in tie if r["status"] in statuses] if statuses else [
        r for r in tie if r["status"] != "matched" or r["refund_status"] not in ("", "refund_matched")]
    if as_json:
        click.echo(json.dumps({
            "summary": summary.as_dict(),
            "checks": [{"name": o.name, "passed": o.passed, "description": o.description} for o in checks],
            "orders": [{k: (v.isoformat() if isinstance(v, date) else str(v) if v is not None else None)
                        for k, v in r.items()} for r in shown],
        }, indent=2))
    else:
        from tabulate import tabulate

        click.echo(f"tie-out as of {day} (revenue: {revenue}): "
                   + ", ".join(f"{n} {s}" for s, n in {**summary.counts, **summary.refund_counts}.items() if n))
        for o in checks:
            click.echo(f"{'ok  ' if o.passed else 'warn'} {o.name}: {o.description}")
        if shown:
            click.echo("")
            click.echo(tabulate(
                [(r["amazon_order_id"], r["marketplace"] or "", r["status"], r["sage_number"] or "",
                  "" if r["invoiced_amount"] is None else f"{r['invoiced_amount']:.2f}",
                  "" if r["settled_amount"] is None else f"{r['settled_amount']:.2f}", f"{r['difference']:.2f}",
                  r["age_days"], r["ageing"], r["refund_status"],
                  "" if not r["refunded_amount"] else f"{r['refunded_amount']:.2f}",
                  "" if r["credited_amount"] is None else f"{r['credited_amount']:.2f}",
                  r["settlement_ids"] or "") for r in shown],
                headers=["order", "mkt", "status", "sage", "invoiced", "settled", "difference", "days", "ageing",
                         "refund", "refunded", "credited", "settlements"], tablefmt="simple", disable_numparse=True))
    if revenue == "sage_invoices" and (summary.counts["settled_not_invoiced"] or summary.counts["difference"]):
        raise SystemExit(1)
