"""The summary tells the truth (issues 20.4, 21.4): counts read from the warehouse for this run only, a
refusal that became a dead letter counted once, records left by a stop not called refusals, and the exit
status from them; the user's one line without the module/class prefix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sage_amazon import deadletters, posting_ledger, run_summary
from sage_amazon.cli import _print_summary
from sage_amazon.runner import EXIT_ATTENTION, EXIT_FAILED, EXIT_OK, user_line
from sage_amazon.warehouse import Warehouse


def test_counts_since_the_run_began(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.write() as con:
        posting_ledger.start(con, "orders", "OLD", "h")
        posting_ledger.posted(con, "orders", "OLD", "SO0")
        con.execute("UPDATE ops.posting_ledger SET updated_at = now() - INTERVAL 2 DAY")  # an earlier run's
    # the ledger stamps rows with the warehouse clock (now()); `since` marks the run start on that same clock
    since = datetime.now(UTC) - timedelta(seconds=1)  # clock-ok
    with warehouse.write() as con:
        for n in range(3):
            posting_ledger.start(con, "orders", f"A{n}", "h")
            posting_ledger.posted(con, "orders", f"A{n}", f"SO{n}")
        posting_ledger.start(con, "orders", "R1", "h")
        posting_ledger.failed(con, "orders", "R1", "Sage refused: SOHTYP : X : Record does not exist")
        deadletters.record(con, "orders", "R1", "Sage refused: SOHTYP : X : Record does not exist", {})
        deadletters.record(con, "orders", "U1", "unmapped SKU: NW-FILTER-SQ", {})
        posting_ledger.start(con, "orders", "S1", "h")
        posting_ledger.failed(con, "orders", "S1", "not sent: the load stopped before this record")
        posting_ledger.start(con, "orders", "F1", "h")  # in flight when the run was killed
        posting_ledger.start(con, "settlement_journal", "J1", "h")
        posting_ledger.failed(con, "settlement_journal", "J1", "period 2025-06 is closed")

    outcome = run_summary.read(warehouse.path, since)
    flows = {f.flow: f for f in outcome.flows}
    orders, journals = flows["orders"], flows["settlement_journal"]
    assert (orders.posted, orders.refused, orders.dead_lettered, orders.not_sent, orders.in_flight) == (3, 0, 2, 1, 1)
    assert ("unmapped SKU: NW-FILTER-SQ", 1) in orders.reasons
    assert (journals.refused, journals.reasons) == (1, [("period 2025-06 is closed", 1)])
    assert outcome.attention
    assert [f.label for f in outcome.flows] == ["sales orders", "settlement journals"]

    assert _print_summary([("days", True, "r1")], outcome) == EXIT_ATTENTION
    assert _print_summary([("days", True, "r1")], run_summary.Outcome()) == EXIT_OK
    assert _print_summary([("days", True, "r1"), ("settlement 1", False, "r2")], outcome) == EXIT_FAILED
    assert _print_summary([], None, crashed="boom") == EXIT_FAILED


def test_the_users_line():
    assert user_line("sage_amazon.errors.Unfinished: Sage X3 at SAGE_X3_URL=x still unavailable\nTraceback") == (
        "Sage X3 at SAGE_X3_URL=x still unavailable")
    assert user_line("login refused by LWA at SP_API_LWA_ENDPOINT=y") == "login refused by LWA at SP_API_LWA_ENDPOINT=y"
