"""(c) returned units back into Sage's stock by disposition, once, on both ERPs; (d) what cannot be received is a
dead letter with its reason."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal

from sage_amazon.returns import restock
from tests.metadata import by_partition, summed
from tests.returns.conftest import REFERENCE, materialize, query

PATH = [*REFERENCE, "sage_return_receipts"]  # on the landed warehouse (conftest)


def test_returned_units_enter_sage_once_by_disposition(erp_env, amazon) -> None:
    result = materialize(erp_env, PATH)
    returns = query(erp_env, "SELECT amazon_order_id, sku, return_ref, disposition, channel, quantity "
                             "FROM staging.stg_amazon_returns WHERE status = 'ok'")
    assert len(returns) >= 10
    ledger = dict(query(erp_env, "SELECT record_key, status FROM ops.posting_ledger WHERE flow = ?", [restock.FLOW]))
    letters = dict(query(erp_env, "SELECT record_key, reason FROM ops.dead_letters WHERE flow = ? "
                                  "AND resolved_at IS NULL", [restock.FLOW]))
    for order_id, sku, ref, _disposition, _channel, _qty in returns:
        key = f"{order_id}|{sku}|{ref}"
        assert ledger.get(key) == "posted" or key in letters, key
    missing = [k for k in letters if k.split("|")[1] == "NW-FILTER-SQ"]  # deliberately absent from both Sages
    assert all(ledger.get(k) == "failed" for k in missing)
    posted = summed(result, "sage_return_receipts", "posted")
    assert posted == sum(1 for s in ledger.values() if s == "posted") >= 8
    # what Sage holds: each posted receipt once, at the right site, status or bin, quantity
    target = erp_env["sage"].get_target()
    try:
        from sage_amazon.inventory import rules as inventory_rules

        days = sorted(d for (d,) in query(erp_env, "SELECT DISTINCT return_date FROM staging.stg_amazon_returns"))
        receipts = []
        with erp_env["warehouse"].read() as con:
            for day in days:
                receipts += restock.plan(con, day, restock.load(), inventory_rules.load(erp_env["sage"].target))[0]
        checked = 0
        for rc in receipts:
            if ledger.get(rc.key) != "posted":
                continue
            assert _sage_receipt(target, rc) == (rc.site, rc.quantity, rc.status if target.name == "x3" else rc.bin)
            checked += 1
        assert checked == posted
        # each day's partition shows the receipts of its own day, not the run's
        per_day = by_partition(result, "sage_return_receipts")
        posted_on = Counter(rc.day.isoformat() for rc in receipts if ledger.get(rc.key) == "posted")
        assert len(posted_on) >= 2
        assert {d: md["posted"] for d, md in per_day.items() if md["posted"]} == dict(posted_on)
        assert all(md["dagster/row_count"] == md["posted"] + md["adopted"] for md in per_day.values())
        damaged = [rc for rc in receipts if rc.status == "R" and ledger.get(rc.key) == "posted"]
        assert damaged and all(rc.bin == "DMG" for rc in damaged)
    finally:
        getattr(target, "close", lambda: None)()
    # a re-run posts nothing again
    again = materialize(erp_env, ["sage_return_receipts"])
    assert summed(again, "sage_return_receipts", "posted") == 0
    assert summed(again, "sage_return_receipts", "already_posted") == posted


def _sage_receipt(target, rc) -> tuple:
    if target.name == "x3":
        from sage_amazon.sage.x3.rest import quote_literal

        rows = list(target.rest.query("STOJOU", where=f"MVTDES eq {quote_literal(rc.reference)}", count=5))
        assert len(rows) == 1, rows
        return rows[0]["STOFCY"], Decimal(str(rows[0]["QTYSTU"])), rows[0].get("STA")
    from sqlalchemy import text

    with target._tx() as conn:
        rows = conn.execute(text(
            "SELECT w.WhseID, t.TranQty, b.WhseBinID FROM timInvtTran t JOIN timWarehouse w ON w.WhseKey = t.WhseKey "
            "LEFT JOIN timWhseBin b ON b.WhseBinKey = t.WhseBinKey WHERE t.TranCmnt = :r"),
            {"r": rc.reference}).all()
    assert len(rows) == 1, rows
    whse, qty, bin_id = rows[0]
    return whse, Decimal(qty), "" if bin_id in ("FBA", "A01") else bin_id


def test_plan_dead_letters_what_cannot_be_received() -> None:
    """Without Sage: a mapped line becomes a receipt at its site; an unmapped disposition, a marketplace without a
    site and the tie-out statuses become problems with their reasons."""
    from datetime import date

    import duckdb

    from sage_amazon.inventory.rules import InventoryRules

    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    con.execute("CREATE TABLE staging.stg_amazon_returns (return_date DATE, channel VARCHAR, amazon_order_id VARCHAR, "
                "sku VARCHAR, quantity INTEGER, disposition VARCHAR, return_ref VARCHAR, returned_at TIMESTAMP, "
                "marketplace_id VARCHAR, units_shipped BIGINT, returned_to_date BIGINT, status VARCHAR)")
    day = date(2026, 11, 2)
    for row in (("AFN", "O1", "S1", 1, "SELLABLE", "L1", "ATVPDKIKX0DER", 1, 1, "ok"),
                ("AFN", "O2", "S1", 1, "WAREHOUSE_DAMAGED", "L2", "ATVPDKIKX0DER", 1, 1, "ok"),
                ("AFN", "O3", "S1", 1, "SELLABLE", "L3", "A1VC38T7YXB528", 1, 1, "ok"),
                ("MFN", "O4", "S2", 2, "SELLABLE", "R4", "ATVPDKIKX0DER", 2, 2, "ok"),
                ("AFN", "O5", "S1", 3, "SELLABLE", "L5", "ATVPDKIKX0DER", 1, 3, "over_return"),
                ("AFN", "O6", "S9", 1, "SELLABLE", "L6", None, None, 1, "unknown_order")):
        con.execute("INSERT INTO staging.stg_amazon_returns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [day, *row[:6], datetime(2026, 11, 2, 10), *row[6:]])
    rules = restock.load({"mode": "receive", "dispositions": {
        "SELLABLE": {"site": "fba"}, "CUSTOMER_DAMAGED": {"site": "fba", "status": "R", "bin": "DMG"}}})
    inventory = InventoryRules(mode="report_only", reason_code="FBA", large_units=1, large_value=Decimal(1),
                               fba_sites={"FBAUS": ("ATVPDKIKX0DER",)}, mfn_sites={"ATVPDKIKX0DER": "US01"})
    receipts, problems = restock.plan(con, day, rules, inventory)
    assert [(r.key, r.site, r.quantity, r.status) for r in receipts] == [
        ("O1|S1|L1", "FBAUS", 1, "A"), ("O4|S2|R4", "US01", 2, "A")]  # merchant returns go to the merchant site
    reasons = {k: reason for k, reason, _ in problems}
    assert reasons["O2|S1|L2"] == "disposition WAREHOUSE_DAMAGED has no mapping in returns.yaml"
    assert reasons["O3|S1|L3"].startswith("no Sage site for AFN returns of marketplace A1VC38T7YXB528")
    assert reasons["O5|S1|L5"] == "more units of S1 back (3) than order O5 shipped (1)"
    assert reasons["O6|S9|L6"] == "return of an unknown Amazon order O6 (no such order read)"
