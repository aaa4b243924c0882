"""The settlements overview (issue 16.1, 16.2): one row per settlement with its status and reason, the tied-out
difference, journals in Sage; numbers as Dagster numbers (floats only beside the exact text) for the plots."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import dagster as dg

from sage_amazon import deadletters, posting_ledger

POSTED, BLOCKED, HELD, WAITING = "11111111111", "22222222222", "33333333333", "44444444444"


def seed_settlements(warehouse) -> None:
    """Four settlements: posted in full, one journal refused by Sage, a reissue on hold, one not run yet."""
    with warehouse.write() as con:
        con.execute("""CREATE TABLE raw.settlement_reports (settlement_id VARCHAR, marketplace VARCHAR,
                       currency VARCHAR, settlement_start_date TIMESTAMP, settlement_end_date TIMESTAMP,
                       deposit_date TIMESTAMP, total_amount DECIMAL(18, 2))""")
        reports = [(POSTED, "Amazon.de", "EUR", 1, "1234.56"), (BLOCKED, "Amazon.de", "EUR", 15, "-20.10"),
                   (HELD, "Amazon.co.uk", "GBP", 1, "583.89"), (WAITING, "Amazon.com", "USD", 15, "100.01")]
        for sid, marketplace, currency, day, total in reports:
            con.execute("INSERT INTO raw.settlement_reports VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [sid, marketplace, currency, datetime(2026, 10, day), datetime(2026, 10, day + 13),
                         datetime(2026, 10, day + 15), Decimal(total)])
        con.execute("""CREATE TABLE marts.journal_settlement_lines (settlement_id VARCHAR, journal_reference VARCHAR,
                       line_kind VARCHAR, amount DECIMAL(18, 2))""")
        lines = [(POSTED, f"AMZ-{POSTED}-202610", "bank", "-1234.56"), (POSTED, f"AMZ-{POSTED}-202610", "account", "1234.56"),
                 (BLOCKED, f"AMZ-{BLOCKED}-202610", "bank", "20.10"), (BLOCKED, f"AMZ-{BLOCKED}-202611", "account", "-20.10"),
                 (HELD, f"AMZ-{HELD}-202610", "bank", "-582.89")]
        con.executemany("INSERT INTO marts.journal_settlement_lines VALUES (?, ?, ?, ?)", lines)
        con.execute("CREATE TABLE marts.settlement_reconciliation (settlement_id VARCHAR, variance DECIMAL(18, 2))")
        con.executemany("INSERT INTO marts.settlement_reconciliation VALUES (?, ?)",
                        [(POSTED, Decimal("0.00")), (BLOCKED, Decimal("0.00")), (HELD, Decimal("1.00"))])
        for ref, number in [(f"AMZ-{POSTED}-202610", "JRN-0001"), (f"AMZ-{BLOCKED}-202610", "JRN-0002"),
                            (f"AMZ-{HELD}-202610", "JRN-0003")]:
            posting_ledger.start(con, "settlement_journal", ref, "h")
            posting_ledger.posted(con, "settlement_journal", ref, number)
        posting_ledger.start(con, "settlement_journal", f"AMZ-{BLOCKED}-202611", "h")
        posting_ledger.failed(con, "settlement_journal", f"AMZ-{BLOCKED}-202611", "closed period")
        deadletters.record(con, "settlement", f"{BLOCKED}:AMZ-{BLOCKED}-202611", "fiscal period 2026-11 is closed", {})
        deadletters.record(con, "settlement", f"{HELD}:reissue", "reissue on hold, changed after posting", {})
        posting_ledger.start(con, "orders", "111-1", "h")
        posting_ledger.posted(con, "orders", "111-1", "SOH-1")
        deadletters.record(con, "orders", "111-2", "unmapped SKU: NW-FILTER-SQ", {})


def test_the_overview_says_per_settlement_where_it_stands(warehouse):
    from sage_amazon.cockpit import overview

    seed_settlements(warehouse)
    with warehouse.write() as con:
        result = overview.refresh(con)
    rows = {r["settlement_id"]: r for r in result.settlements}
    assert [r["settlement_id"] for r in result.settlements] == [WAITING, BLOCKED, HELD, POSTED]  # newest deposit first
    assert (rows[POSTED]["status"], rows[POSTED]["sage_numbers"], rows[POSTED]["deposit"]) == (
        "posted", "JRN-0001", Decimal("1234.56"))
    assert rows[BLOCKED]["status"] == "blocked" and rows[BLOCKED]["journals_posted"] == 1
    assert rows[BLOCKED]["reason"] == f"AMZ-{BLOCKED}-202611: fiscal period 2026-11 is closed"
    assert (rows[HELD]["status"], rows[HELD]["reason"]) == ("on hold", "reissue on hold, changed after posting")
    assert rows[HELD]["difference"] == Decimal("1.00")
    assert (rows[WAITING]["status"], rows[WAITING]["reason"], rows[WAITING]["journals"]) == ("waiting", "not run yet", 0)
    assert result.totals_by_currency()["EUR"] == {"total": Decimal("1214.46"), "deposit": Decimal("1214.46"),
                                                  "difference": Decimal("0.00")}
    flows = {r["flow"]: r for r in result.flows}
    assert flows["settlement_journal"] == {"flow": "settlement_journal", "posted": 3, "failed": 1, "sending": 0,
                                                "open_dead_letters": 0}
    assert (flows["orders"]["posted"], flows["orders"]["open_dead_letters"]) == (1, 1)
    assert flows["settlement"]["open_dead_letters"] == 2
    with warehouse.read() as con:  # the same rows for a SQL client, money as DECIMAL
        assert con.execute(f"SELECT status, total_amount FROM marts.settlement_overview WHERE settlement_id = '{HELD}'"
                           ).fetchall() == [("on hold", Decimal("583.89"))]
        assert con.execute("SELECT count(*) FROM marts.flow_overview").fetchone()[0] == len(result.flows)


def test_the_asset_reports_numbers_for_the_plots_beside_the_exact_text(warehouse, instance):
    from assets.cockpit.assets import settlement_overview
    from resources.warehouse import WarehouseResource

    seed_settlements(warehouse)
    result = dg.materialize([settlement_overview], instance=instance,
                            resources={"warehouse": WarehouseResource(path=str(warehouse.path))})
    md = result.asset_materializations_for_node("settlement_overview")[0].metadata
    assert md["dagster/row_count"].value == 4
    assert [md[f"settlements {s}"].value for s in ("posted", "on hold", "blocked", "waiting")] == [1, 1, 1, 1]
    assert isinstance(md["settlements posted"], dg.IntMetadataValue)
    assert md["total EUR"].value == "1214.46" and md["total EUR (plot)"].value == 1214.46
    assert isinstance(md["total EUR (plot)"], dg.FloatMetadataValue)
    assert md["difference GBP"].value == "1.00"
    assert md["posted orders"].value == 1 and md["dead letters orders"].value == 1
    assert md["failed settlement_journal"].value == 1
    table = {r.data["settlement"]: r.data for r in md["settlements"].records}
    assert table[BLOCKED]["journals_posted"] == "1 of 2" and table[BLOCKED]["status"] == "blocked"
    assert table[POSTED]["period"] == "2026-10-01 – 2026-10-14" and table[POSTED]["total"] == "1234.56"
    assert table[HELD]["marketplace"] == "Amazon.co.uk" and table[HELD]["deposit_date"] == "2026-10-16"


def test_a_fresh_warehouse_has_an_empty_overview_not_an_error(warehouse, instance):
    """Before the first run (no settlement tables yet) the cockpit materializes with zeros."""
    from assets.cockpit.assets import open_dead_letters, settlement_overview
    from resources.warehouse import WarehouseResource

    result = dg.materialize([settlement_overview, open_dead_letters], instance=instance,
                            resources={"warehouse": WarehouseResource(path=str(warehouse.path))})
    md = result.asset_materializations_for_node("settlement_overview")[0].metadata
    assert md["dagster/row_count"].value == 0 and md["settlements waiting"].value == 0
    assert result.asset_materializations_for_node("open_dead_letters")[0].metadata["open_total"].value == 0


def test_each_settlement_has_figures_for_the_plots(warehouse, instance):
    """Fees by kind, fee rate and units per settlement (issue 16.2): the Plots tab draws one point per settlement."""
    from assets.cockpit.assets import settlement_figures
    from resources.warehouse import WarehouseResource

    seed_settlements(warehouse)
    with warehouse.write() as con:
        con.execute("""CREATE TABLE staging.stg_settlement_categories (settlement_id VARCHAR, role VARCHAR,
                       amount DECIMAL(18, 2))""")
        con.executemany("INSERT INTO staging.stg_settlement_categories VALUES (?, ?, ?)",
                        [(POSTED, "sales", Decimal("1500.00")), (POSTED, "marketplace_fees", Decimal("-180.00")),
                         (POSTED, "fba_fees", Decimal("-85.44")), (POSTED, "refunds", Decimal("0.00")),
                         (POSTED, "sales", Decimal("0.00")), (BLOCKED, "sales", Decimal("9.99"))])
        con.execute("""CREATE TABLE raw.settlement_lines (settlement_id VARCHAR, order_id VARCHAR,
                       transaction_type VARCHAR, amount_type VARCHAR, amount_description VARCHAR,
                       quantity_purchased INTEGER, amount DECIMAL(18, 2))""")
        con.executemany("INSERT INTO raw.settlement_lines VALUES (?, ?, 'Order', 'ItemPrice', ?, ?, ?)",
                        [(POSTED, "O-1", "Principal", 2, Decimal("1000.00")), (POSTED, "O-2", "Principal", 1,
                                                                               Decimal("500.00")),
                         (POSTED, "O-2", "Shipping", None, Decimal("4.99"))])
    instance.add_dynamic_partitions("settlement_ids", [POSTED])
    result = dg.materialize([settlement_figures], partition_key=POSTED, instance=instance,
                            resources={"warehouse": WarehouseResource(path=str(warehouse.path))})
    md = result.asset_materializations_for_node("settlement_figures")[0].metadata
    assert md["total"].value == "1234.56" and md["total (plot)"].value == 1234.56
    assert md["deposit"].value == "1234.56" and md["currency"].value == "EUR"
    assert md["marketplace_fees"].value == "-180.00" and md["fba_fees (plot)"].value == -85.44
    assert md["fee_rate_percent"].value == "17.6960"  # (180.00 + 85.44) per 100 of 1500.00 sales
    assert md["fba_fees_per_unit"].value == "28.4800" and md["units"].value == 3 and md["orders"].value == 2
    assert isinstance(md["orders"], dg.IntMetadataValue) and isinstance(md["fee_rate_percent (plot)"],
                                                                        dg.FloatMetadataValue)
    with warehouse.read() as con:  # exact in the warehouse
        assert con.execute("SELECT amount FROM marts.settlement_figures WHERE settlement_id = ? AND figure = "
                           "'fee_rate_percent'", [POSTED]).fetchone()[0] == Decimal("17.6960")
