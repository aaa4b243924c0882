"""Deferred transactions at month end (issue 17.3): a US seller's orders shipped in October that no October
settlement paid (Amazon's DD+7 hold) are accrued on 2026-10-31 and reversed on 2026-11-01, once, on the X3 and the
Sage 500 sandboxes; the audit table names the orders; a re-run of the month posts nothing new."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

import pytest

from sage_amazon.amazon import settlement as parser
from sage_amazon.ledger import deferred, reports, settlements
from sage_amazon.mapping import accounts
from sage_amazon.orders import raw
from sage_amazon.warehouse import Warehouse
from tests.tax.handmade import Sale, sage500_sandbox, write, x3_sandbox

D = Decimal
SID = "91700000301"
ZERO_RATE = D("0")
# (order, SKU, ship day, item price, shipping): FBA orders as the fulfilled shipments report lands them
SHIPPED = [
    ("111-1700301-0000001", "NW-TENT-2P", date(2026, 10, 20), D("149.99"), D("0")),  # paid 2026-10-27
    ("111-1700301-0000002", "NW-PAD-UL", date(2026, 10, 28), D("119.98"), D("4.99")),  # paid 2026-11-06: accrued
    ("111-1700301-0000003", "NW-LAMP-300", date(2026, 10, 30), D("19.99"), D("0")),  # paid in no settlement yet
    ("111-1700301-0000004", "NW-BAG-20F", date(2026, 11, 2), D("189.95"), D("0")),  # shipped in November
]
# the settlement (2026-10-24 .. 2026-11-07) pays the first in October and the second in November
SALES = [Sale("111-1700301-0000001", "NW-TENT-2P", 1, D("149.99"), D("0"), "CA", ZERO_RATE, date(2026, 10, 27)),
         Sale("111-1700301-0000002", "NW-PAD-UL", 2, D("59.99"), D("4.99"), "CA", ZERO_RATE, date(2026, 11, 6))]
# a merchant-fulfilled order shipped 2026-10-31 (its last update), 2 x 27.49 less a 5.00 promotion, unpaid
MFN_ORDER = ("111-1700301-0000005", "NW-KNIFE-MT", datetime(2026, 10, 31, 18, 0), D("54.98"), D("5.00"))
# what an accountant accrues for October: principal (sales), shipping, promotions
OCTOBER = {"4000": D("119.98") + D("19.99") + D("54.98"), "4010": D("4.99"), "4050": -D("5.00")}
pytestmark = pytest.mark.slow


def _land(con, tmp_path, target: str) -> None:
    accounts.write_table(con, accounts.load(), target)
    raw.ensure(con)
    for n, (order, sku, day, price, shipping) in enumerate(SHIPPED):
        con.execute("INSERT INTO raw.amazon_fba_shipments (shipment_id, amazon_order_id, partition_date, "
                    "shipment_date, sku, quantity_shipped, currency, item_price, shipping_price, sales_channel, "
                    "extracted_at) VALUES (?, ?, ?, ?, ?, 1, 'USD', ?, ?, 'Amazon.com', ?)",
                    [f"S{n}", order, day, datetime(day.year, day.month, day.day, 15), sku, price, shipping, day])
    order, sku, updated, price, promotion = MFN_ORDER
    con.execute("INSERT INTO raw.amazon_orders (amazon_order_id, partition_date, purchase_date, last_updated, "
                "marketplace_id, order_status, amazon_status, fulfillment_channel, currency, source, extracted_at) "
                "VALUES (?, ?, ?, ?, 'ATVPDKIKX0DER', 'Shipped', 'Shipped', 'MFN', 'USD', 'api', ?)",
                [order, date(2026, 10, 29), datetime(2026, 10, 29, 9), updated, updated])
    con.execute("INSERT INTO raw.amazon_order_items (amazon_order_id, order_item_id, partition_date, last_updated, "
                "sku, quantity, quantity_shipped, currency, unit_price, item_price, shipping_price, "
                "promotion_discount, shipping_discount, source, extracted_at) "
                "VALUES (?, 'OI1', ?, ?, ?, 2, 2, 'USD', 27.49, ?, 0, ?, 0, 'api', ?)",
                [order, date(2026, 10, 29), updated, sku, price, promotion, updated])
    path = tmp_path / f"{SID}.txt"
    write(path, SID, date(2026, 10, 24), date(2026, 11, 7), SALES)
    parser.land(con, path)
    settlements.build(con, SID)


def test_the_orders_behind_the_october_accrual(tmp_path):
    with Warehouse(tmp_path / "wh.duckdb", lock_timeout=30).write() as con:
        _land(con, tmp_path, "x3")
        october = deferred.unreleased(con, "2026-10")
        november = deferred.unreleased(con, "2026-11")
    assert [(a.order_id, a.channel, a.shipped_on, a.amount, a.status) for a in october] == [
        ("111-1700301-0000002", "AFN", date(2026, 10, 28), D("124.97"), "ok"),
        ("111-1700301-0000003", "AFN", date(2026, 10, 30), D("19.99"), "ok"),
        ("111-1700301-0000005", "MFN", date(2026, 10, 31), D("49.98"), "ok")]
    assert {a.journal_reference for a in october} == {"DEFER-US-202610"}
    # by the end of November the 2026-11-06 settlement line paid the second order; the others are still held
    assert [a.order_id for a in november] == ["111-1700301-0000003", "111-1700301-0000005", "111-1700301-0000004"]


def _by_journal_x3(x3) -> dict[str, tuple[str, dict[str, Decimal]]]:
    heads = {h["NUM_0"]: h for h in x3.rows("GACCENTRY")}
    out: dict[str, tuple[str, dict[str, Decimal]]] = {}
    for line in x3.rows("GACCENTRYD"):
        head = heads[line["NUM_0"]]
        day, accs = out.setdefault(head["REF_0"], (str(head["ACCDAT_0"])[:10], defaultdict(Decimal)))
        accs[line["ACC_0"]] -= D(str(line["AMTCUR_0"])) * line["SNS_0"]  # credit-positive
    return {ref: (day, dict(accs)) for ref, (day, accs) in out.items()}


def _expected(reversal: bool) -> dict[str, Decimal]:
    sign = -1 if reversal else 1
    out = {acc: sign * v for acc, v in OCTOBER.items()}
    out["1215"] = -sign * sum(OCTOBER.values())
    return out


def test_october_is_accrued_and_reversed_once_in_x3(tmp_path):
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with wh.write() as con:
        _land(con, tmp_path, "x3")
    with x3_sandbox(tmp_path) as (x3, target):
        first = deferred.run(wh.write, target, "2026-10", "x3")
        again = deferred.run(wh.write, target, "2026-10", "x3")
        with wh.write() as con:
            con.execute(f"DROP TABLE {deferred.TABLE}")  # the audit table lost: the posting ledger still knows
        rebuilt = deferred.run(wh.write, target, "2026-10", "x3")
        posted = _by_journal_x3(x3)
    assert first.all_posted and sorted(first.posted) == ["DEFER-US-202610", "DEFER-US-202610-R"]
    assert not again.posted and sorted(again.already) == sorted(first.posted)
    assert not rebuilt.posted and sorted(rebuilt.already) == sorted(first.posted)
    assert posted == {"DEFER-US-202610": ("2026-10-31", _expected(False)),
                      "DEFER-US-202610-R": ("2026-11-01", _expected(True))}


def test_october_is_accrued_and_reversed_once_in_sage500(tmp_path):
    from sqlalchemy import text

    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with wh.write() as con:
        _land(con, tmp_path, "sage500")
    with sage500_sandbox() as (db, target):
        first = deferred.run(wh.write, target, "2026-10", "sage500")
        again = deferred.run(wh.write, target, "2026-10", "sage500")
        with db.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT b.BatchCmnt, a.GLAcctNo, t.PostAmt, t.PostDate FROM tglTransaction t "
                "JOIN tglAccount a ON a.GLAcctKey = t.GLAcctKey "
                "JOIN tciBatchLog b ON b.BatchKey = t.BatchKey")).fetchall()
    assert first.all_posted and len(first.posted) == 2 and not again.posted
    posted: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    days: dict[str, set[str]] = defaultdict(set)
    for ref, acc, amount, day in rows:
        posted[ref][acc] -= D(amount)  # PostAmt is debit-positive
        days[ref].add(str(day)[:10])
    assert posted == {"DEFER-US-202610": _expected(False), "DEFER-US-202610-R": _expected(True)}
    assert days == {"DEFER-US-202610": {"2026-10-31"}, "DEFER-US-202610-R": {"2026-11-01"}}
    with wh.write() as con:
        audit = deferred.rows(con, "2026-10")
    assert [(r["order_id"], r["amount"], r["posted"]) for r in audit] == [
        ("111-1700301-0000002", D("124.97"), True), ("111-1700301-0000003", D("19.99"), True),
        ("111-1700301-0000005", D("49.98"), True)]


def test_an_order_shipped_without_a_price_holds_the_accrual(tmp_path):
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with wh.write() as con:
        _land(con, tmp_path, "x3")
        con.execute("UPDATE raw.amazon_fba_shipments SET item_price = NULL WHERE amazon_order_id = ?",
                    ["111-1700301-0000003"])
        audit = deferred.unreleased(con, "2026-10")
        conf = deferred.settings("x3")
        deferred._write(con, "2026-10", audit, set())
        todo, waiting = deferred.journals(deferred.rows(con, "2026-10"), "2026-10", "x3", conf)
    assert not todo
    assert waiting == {"DEFER-US-202610": "accrual not posted: order 111-1700301-0000003 was shipped without a "
                                          "price or currency"}


def test_the_accrual_waits_for_a_settlement_ending_after_the_month(tmp_path):
    """Until a settlement of the marketplace ending after 2026-10-31 is landed, an October order may still be
    paid by a line dated in October: nothing is accrued yet, and the reason says which settlement is awaited."""
    with Warehouse(tmp_path / "wh.duckdb", lock_timeout=30).write() as con:
        _land(con, tmp_path, "x3")
        deferred._write(con, "2026-10", deferred.unreleased(con, "2026-10"), set())
        audit = deferred.rows(con, "2026-10")
        ends = deferred.covered(con, date(2026, 10, 31))
    conf = deferred.settings("x3")
    todo, waiting = deferred.journals(audit, "2026-10", "x3", conf, {"US": date(2026, 10, 31)})
    assert not todo and waiting == {"DEFER-US-202610": "accrual not posted: waiting for a US settlement ending after "
                                                      "2026-10-31 (latest landed ends 2026-10-31): it may still pay "
                                                      "orders on or before the month end"}
    assert ends == {"US": date(2026, 11, 7)}
    todo, waiting = deferred.journals(audit, "2026-10", "x3", conf, ends)
    assert [j.reference for j in todo] == ["DEFER-US-202610", "DEFER-US-202610-R"] and not waiting


def test_the_asset_accrues_the_configured_month_and_shows_its_orders(tmp_path):
    import dagster as dg

    from assets.month_end.deferred import deferred_accrual, last_month
    from resources.sage import SageResource
    from resources.warehouse import WarehouseResource
    from sage_amazon.sandbox.x3 import running_x3

    path = tmp_path / "wh.duckdb"
    with Warehouse(path, lock_timeout=30).write() as con:
        _land(con, tmp_path, "x3")
    config = {"ops": {"deferred_accrual": {"config": {"month": "2026-10"}}}}
    with running_x3(tmp_path) as x3, dg.instance_for_test() as instance:
        sage = SageResource(target="x3", x3_url=x3.url, x3_user=x3.user, x3_password=x3.password,
                            x3_pool=x3.pool, x3_folder=x3.folder)
        resources = {"warehouse": WarehouseResource(path=str(path)), "sage": sage}
        result = dg.materialize([deferred_accrual], instance=instance, resources=resources, run_config=config)
        again = dg.materialize([deferred_accrual], instance=instance, resources=resources, run_config=config)
        journals = sorted(j["REF_0"] for j in x3.rows("GACCENTRY"))
    assert result.success and again.success
    meta = result.asset_materializations_for_node("deferred_accrual")[0].metadata
    assert meta["month"].value == "2026-10" and meta["dagster/row_count"].value == 3
    assert meta["accrued"].value == {"DEFER-US-202610": f"{sum(OCTOBER.values()):.2f} USD"}
    assert [r.data["order_id"] for r in meta["orders"].value.records] == [
        "111-1700301-0000002", "111-1700301-0000003", "111-1700301-0000005"]
    assert journals == ["DEFER-US-202610", "DEFER-US-202610-R"]  # the second run posted nothing
    assert [c.passed for c in result.get_asset_check_evaluations()] == [True]
    assert (last_month(date(2027, 1, 1)), last_month(date(2026, 12, 31)), last_month(date(2027, 3, 29))) == (
        "2026-12", "2026-11", "2027-02")


def test_a_month_left_unposted_is_taken_up_again(tmp_path):
    """The asset run without a month takes up every earlier month whose accrual or reversal is not posted
    (waiting, or a dead letter being replayed), and forgets a month once both are."""
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with wh.write() as con:
        _land(con, tmp_path, "x3")
        deferred._write(con, "2026-10", deferred.unreleased(con, "2026-10"), set())
        waiting = deferred.unfinished_months(con)
    with x3_sandbox(tmp_path) as (x3, target):
        deferred.run(wh.write, target, "2026-10", "x3")
    with wh.write() as con:
        done = deferred.unfinished_months(con)
        sheet = reports.build(con, "deferred")
    assert waiting == {"2026-10"} and done == set()
    out = reports.write(tmp_path / "deferred.csv", sheet)  # what `sage-amazon report deferred FILE.csv` writes
    with out.open(newline="") as handle:
        exported = [(r["order_id"], D(r["amount"]), r["journal_reference"], r["posted"]) for r in csv.DictReader(handle)]
    assert exported == [("111-1700301-0000002", D("124.97"), "DEFER-US-202610", "True"),
                        ("111-1700301-0000003", D("19.99"), "DEFER-US-202610", "True"),
                        ("111-1700301-0000005", D("49.98"), "DEFER-US-202610", "True")]


def test_a_uk_accrual_is_in_pounds_at_the_month_end_rate(tmp_path):
    """A UK order shipped 2026-10-29 and unpaid at the month end: the accrual is in GBP at the journal site GB01,
    converted at the last rate on or before 2026-10-31 (the ERP's dated rates), and X3 books it at that rate."""
    from dataclasses import replace

    audit = [{"month": "2026-10", "marketplace": "UK", "order_id": "202-1700301-0000009", "channel": "AFN",
              "shipped_on": date(2026, 10, 29), "currency": "GBP", "principal": D("40.00"), "shipping": D("0"),
              "promotions": D("0"), "journal_reference": "DEFER-UK-202610", "status": "ok", "posted": False}]
    amap = replace(accounts.load(), dated_rates={"GBP": [(date(2026, 7, 1), D("1.2700")),
                                                         (date(2026, 10, 1), D("1.2750")),
                                                         (date(2026, 11, 1), D("1.2800"))]})
    todo, waiting = deferred.journals(audit, "2026-10", "x3", deferred.settings("x3"), {"UK": date(2026, 11, 4)},
                                      amap)
    assert not waiting
    accrual, reversal = todo
    assert (accrual.currency, accrual.rate, accrual.site, reversal.rate) == ("GBP", D("1.2750"), "GB01", D("1.2750"))
    assert [(ln.account, ln.debit, ln.credit, ln.ledger_debit, ln.ledger_credit) for ln in accrual.lines] == [
        ("4000", D("0"), D("40.00"), D("0"), D("51.00")), ("1215", D("40.00"), D("0"), D("51.00"), D("0"))]
    with x3_sandbox(tmp_path) as (x3, target):
        target.post_journal(accrual)
        lines = {r["ACC_0"]: (D(str(r["AMTCUR_0"])), D(str(r["AMTLED_0"]))) for r in x3.rows("GACCENTRYD")
                 if r["LEDTYP_0"] == 1}
    assert lines == {"4000": (D("40.00"), D("51.00")), "1215": (D("40.00"), D("51.00"))}


def test_the_schedule_asks_for_the_previous_month():
    import dagster as dg

    from sensors.month_end import month_end_schedule

    asked = {}
    for when in (datetime(2027, 1, 1, 6, 30), datetime(2026, 12, 31, 6, 30), datetime(2027, 3, 29, 6, 30)):
        with dg.build_schedule_context(scheduled_execution_time=when) as context:
            request = month_end_schedule(context)
        asked[when.date().isoformat()] = request.run_config["ops"]["deferred_accrual"]["config"]["month"]
    assert asked == {"2027-01-01": "2026-12", "2026-12-31": "2026-11", "2027-03-29": "2027-02"}
