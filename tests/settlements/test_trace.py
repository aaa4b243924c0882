"""Trace (issue 16.3): every journal account line knows the settlement rows behind it; the postings asset shows a
sample per account; `sage-amazon settlement trace ID --account A --journal REF` prints the rows."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
from click.testing import CliRunner

from tests.settlements.conftest import V2_SAMPLE
from tests.settlements.test_assets import _import, _run, env  # noqa: F401  (env is a fixture)


def test_journal_lines_trace_to_their_settlement_rows(env):  # noqa: F811
    from sage_amazon.ledger import trace
    from sage_amazon.ledger.cli import settlement_group
    from sage_amazon.warehouse import Warehouse

    _x3, resources, instance, settings = env
    sid = _import(V2_SAMPLE, settings, instance)
    result = _run(sid, resources, instance)
    assert result.success
    with Warehouse(settings.warehouse_path).read() as con:
        lines = con.execute("SELECT count(*) FROM raw.settlement_lines WHERE settlement_id = ?", [sid]).fetchone()[0]
        traced = con.execute(f"SELECT count(*), count(DISTINCT row_no), min(row_no), max(row_no) FROM {trace.TABLE}"
                             " WHERE settlement_id = ?", [sid]).fetchone()
        # each journal account line = the sum of the rows traced to it, and counts them
        mismatched = con.execute(f"""
            SELECT j.journal_reference, j.account, j.amount, t.amount, j.line_count, t.n
            FROM marts.journal_settlement_lines AS j
            JOIN (SELECT journal_reference, account, role, site, marketplace, tax_code, sum(amount) AS amount,
                         count(*) AS n FROM {trace.TABLE} WHERE settlement_id = ? GROUP BY ALL) AS t
              USING (journal_reference, account, role, site, marketplace, tax_code)
            WHERE j.settlement_id = ? AND j.line_kind = 'account' AND (j.amount <> t.amount OR j.line_count <> t.n)
            """, [sid, sid]).fetchall()
        account_lines = con.execute("SELECT count(*) FROM marts.journal_settlement_lines WHERE settlement_id = ? "
                                    "AND line_kind = 'account'", [sid]).fetchone()[0]
        # rows of a journal line that nets to zero (not posted) keep an empty reference, and net to zero
        untraced = con.execute(f"SELECT count(*), sum(amount) FROM {trace.TABLE} WHERE settlement_id = ? "
                               "AND journal_reference IS NULL", [sid]).fetchone()
        sales = trace.rows(con, sid, account="4000", journal=f"AMZ-{sid}-202606")
    assert traced == (lines, lines, 1, lines)  # every row once, numbered 1..n
    # the sample's only zero-net pair was facilitator tax collected/withheld, posted gross since (2240 / 2245)
    assert mismatched == [] and account_lines > 0 and untraced == (0, None)
    assert sales and {r["account"] for r in sales} == {"4000"} and all(r["amount"] is not None for r in sales)

    posting = [m for m in result.get_asset_materialization_events()
               if m.asset_key == dg.AssetKey("settlement_journal_postings")][0]
    sample = posting.materialization.metadata["trace_sample"].value
    assert f"| AMZ-{sid}-202606 | 4000 |" in sample

    out = CliRunner().invoke(settlement_group, ["trace", sid, "--account", "4000", "--journal", f"AMZ-{sid}-202606"])
    assert out.exit_code == 0, out.output
    total = sum((r["amount"] for r in sales), Decimal("0"))
    assert f"{len(sales)} row(s), total {total:.2f}" in out.output
    assert "transaction_type" in out.output
    none = CliRunner().invoke(settlement_group, ["trace", sid, "--account", "nope"])
    assert none.exit_code != 0 and "no rows of settlement" in none.output
