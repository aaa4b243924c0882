"""Cost of goods sold per settlement period (issue 17.4): a hand-made US settlement across a month end is posted to
the X3 and the Sage 500 sandboxes; per SKU the COGS equals the units sold less the units that came back sellable,
times the item's cost as Sage holds it (read here straight from the sandbox's tables), once."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from sage_amazon.amazon import settlement as parser
from sage_amazon.ledger import cogs, settlements
from sage_amazon.mapping import DEFAULTS_DIR, accounts
from sage_amazon.warehouse import Warehouse
from tests.tax.handmade import Sale, sage500_sandbox, write, x3_sandbox

D = Decimal
SID = "91700000101"
RATE = D("0.0725")
SALES = [  # July sales; the refunds are posted in August, the settlement spans the month end
    Sale("111-1700101-0000001", "NW-TENT-2P", 1, D("149.99"), D("0"), "CA", RATE, date(2026, 7, 22)),
    Sale("111-1700101-0000002", "NW-PAD-UL", 2, D("59.99"), D("0"), "CA", RATE, date(2026, 7, 23)),
    Sale("111-1700101-0000003", "NW-LAMP-300", 1, D("19.99"), D("0"), "CA", RATE, date(2026, 7, 24),
         refunded=1, refund_day=date(2026, 8, 2)),  # came back SELLABLE: its cost comes back to inventory
    Sale("111-1700101-0000004", "NW-STOVE-CMP", 3, D("39.99"), D("0"), "CA", RATE, date(2026, 7, 25),
         refunded=1, refund_day=date(2026, 8, 2)),  # came back damaged: its cost stays a cost
    Sale("111-1700101-0000005", "NW-BAG-20F", 1, D("189.95"), D("0"), "CA", RATE, date(2026, 8, 1)),
    Sale("111-1700101-0000006", "NW-KNIFE-MT", 2, D("27.49"), D("0"), "CA", RATE, date(2026, 7, 26),
         channel="MFN"),  # merchant-fulfilled: leaves the seller's own warehouse (US01), at its cost there
]
MFN_SKUS = {"NW-KNIFE-MT"}
RETURNS = [("111-1700101-0000003", "NW-LAMP-300", 1, "SELLABLE"),
           ("111-1700101-0000004", "NW-STOVE-CMP", 1, "CUSTOMER_DAMAGED")]
# what an accountant counts from the file and the returns report: (period, SKU) -> net units leaving inventory
UNITS = {("2026-07", "NW-TENT-2P"): 1, ("2026-07", "NW-PAD-UL"): 2, ("2026-07", "NW-LAMP-300"): 1,
         ("2026-07", "NW-STOVE-CMP"): 3, ("2026-07", "NW-KNIFE-MT"): 2, ("2026-08", "NW-LAMP-300"): -1,
         ("2026-08", "NW-BAG-20F"): 1}
X3_ITEMS = {"NW-LAMP-300": "NW-HL300"}  # skus.yaml aliases of the X3 folder
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cogs") / f"{SID}.txt"
    write(path, SID, date(2026, 7, 20), date(2026, 8, 3), SALES)
    return path


def _land(con, path, target, returns=RETURNS, sid=SID):
    from sage_amazon.returns import store

    accounts.write_table(con, accounts.load(), target)
    store.ensure(con)
    for n, (order, sku, qty, disposition) in enumerate(returns):
        con.execute("INSERT INTO raw.amazon_fba_returns (return_date, amazon_order_id, sku, quantity, "
                    "detailed_disposition, license_plate_number, extracted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [date(2026, 7, 30), order, sku, qty, disposition, f"LPN{n}", date(2026, 7, 30)])
    parser.land(con, path)
    settlements.build(con, sid)


def _x3_costs(x3) -> dict[str, Decimal]:
    """Item -> average cost at the site its units leave: FBAUS, or the own warehouse US01 for MFN items."""
    mfn = {X3_ITEMS.get(s, s) for s in MFN_SKUS}
    return {r["ITMREF_0"]: D(str(r["AVC_0"])) for r in x3.rows("ITMMVT")
            if r["STOFCY_0"] == ("US01" if r["ITMREF_0"] in mfn else "FBAUS")}


def _inventory(expected: dict[tuple[str, str], Decimal], period: str) -> dict[str, Decimal]:
    """Debit-positive movement per account of a period's COGS journal."""
    fba = sum(v for (p, sku), v in expected.items() if p == period and sku not in MFN_SKUS)
    own = sum(v for (p, sku), v in expected.items() if p == period and sku in MFN_SKUS)
    return {k: v for k, v in {"5000": fba + own, "1310": -fba, "1300": -own}.items() if v}


def _expected(costs: dict[str, Decimal], items: dict[str, str]) -> dict[tuple[str, str], Decimal]:
    return {(p, sku): (n * costs[items.get(sku, sku)]).quantize(D("0.01")) for (p, sku), n in UNITS.items()}


def test_units_sold_and_returned_per_period_and_sku(file, tmp_path):
    with Warehouse(tmp_path / "wh.duckdb", lock_timeout=30).write() as con:
        _land(con, file, "x3")
        found = {(u.period, u.sku): (u.sold, u.refunded, u.returned) for u in cogs.units(con, SID, "sellable")}
        every_refund = {(u.period, u.sku): u.net for u in cogs.units(con, SID, "refunds")}
        no_refund = {(u.period, u.sku): u.net for u in cogs.units(con, SID, "none")}
    assert found == {("2026-07", "NW-TENT-2P"): (1, 0, 0), ("2026-07", "NW-PAD-UL"): (2, 0, 0),
                     ("2026-07", "NW-LAMP-300"): (1, 0, 0), ("2026-07", "NW-STOVE-CMP"): (3, 0, 0),
                     ("2026-07", "NW-KNIFE-MT"): (2, 0, 0), ("2026-08", "NW-LAMP-300"): (0, 1, 1), ("2026-08", "NW-STOVE-CMP"): (0, 1, 0),
                     ("2026-08", "NW-BAG-20F"): (1, 0, 0)}
    assert every_refund[("2026-08", "NW-STOVE-CMP")] == -1  # refunds as returns: the damaged one too
    assert no_refund[("2026-08", "NW-LAMP-300")] == no_refund[("2026-08", "NW-STOVE-CMP")] == 0  # shown, no cost back


def test_cogs_posts_to_x3_at_the_item_valuation_once(file, tmp_path):
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with wh.write() as con:
        _land(con, file, "x3")
    with x3_sandbox(tmp_path) as (x3, target):
        report = cogs.run(wh.write, target, SID, "x3")
        again = cogs.run(wh.write, target, SID, "x3")
        with wh.write() as con:
            con.execute(f"DROP TABLE {cogs.TABLE}")  # the table lost: the posting ledger still knows
        rebuilt = cogs.run(wh.write, target, SID, "x3")
        expected = _expected(_x3_costs(x3), X3_ITEMS)
        heads = {h["NUM_0"]: h for h in x3.rows("GACCENTRY")}
        lines = x3.rows("GACCENTRYD")
    assert report.all_posted and sorted(report.posted) == ["COGS-91700000101-202607", "COGS-91700000101-202608"]
    assert not again.posted and again.already.keys() == report.posted.keys()  # once
    assert not rebuilt.posted and rebuilt.already.keys() == report.posted.keys()
    assert len(heads) == 2
    by_period: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    per_line: dict[tuple[str, str], Decimal] = {}
    for line in lines:
        head = heads[line["NUM_0"]]
        period = str(head["ACCDAT_0"])[:7]
        amount = D(str(line["AMTCUR_0"])) * line["SNS_0"]  # debit-positive
        by_period[period][line["ACC_0"]] += amount
        if line["ACC_0"] == "5000":
            per_line[(period, line["DES_0"].split()[1])] = amount
    assert per_line == expected  # per SKU: net units x Sage's average cost of the FBA site
    for period in ("2026-07", "2026-08"):
        assert by_period[period] == _inventory(expected, period)  # COGS against FBA (and own) inventory
    assert {str(h["ACCDAT_0"])[:10] for h in heads.values()} == {"2026-07-31", "2026-08-05"}  # the journals' days


def test_cogs_posts_to_sage500_at_the_standard_cost(file, tmp_path):
    from sqlalchemy import text

    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with wh.write() as con:
        _land(con, file, "sage500")
    with sage500_sandbox() as (db, target):
        report = cogs.run(wh.write, target, SID, "sage500")
        again = cogs.run(wh.write, target, SID, "sage500")
        with db.engine.connect() as conn:
            costs = {i: D(c) for i, c in conn.execute(text(
                "SELECT ItemID, StdUnitCost FROM timItem WHERE CompanyID = :c"), {"c": db.company_id})}
            rows = conn.execute(text(
                "SELECT b.BatchCmnt, a.GLAcctNo, t.PostAmt FROM tglTransaction t "
                "JOIN tglAccount a ON a.GLAcctKey = t.GLAcctKey "
                "JOIN tciBatchLog b ON b.BatchKey = t.BatchKey")).fetchall()
    assert report.all_posted and len(report.posted) == 2 and not again.posted
    expected = _expected(costs, {})
    posted: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for ref, acc, amount in rows:
        posted[ref][acc] += D(amount)  # debit positive
    for period in ("2026-07", "2026-08"):
        assert posted[f"COGS-{SID}-{period.replace('-', '')}"] == _inventory(expected, period)
    with wh.write() as con:
        table = {(r["period"], r["sku"]): (r["net_units"], r["unit_cost"], r["cost"], r["posted"])
                 for r in cogs.rows(con, SID)}
    assert {k: v[2] for k, v in table.items() if v[0]} == expected  # the table finance reads: units x cost
    assert all(v[3] for v in table.values()) and all(v[1] == costs[k[1]] for k, v in table.items())


def test_a_sku_without_a_sage_item_waits_then_posts_once_mapped(tmp_path, monkeypatch):
    from sage_amazon import deadletters

    sid = "91700000102"
    sales = [Sale("111-1700102-0000001", "NW-FILTER-SQ", 2, D("34.99"), D("0"), "CA", RATE, date(2026, 7, 22)),
             Sale("111-1700102-0000002", "NW-PAD-UL", 1, D("59.99"), D("0"), "CA", RATE, date(2026, 7, 23))]
    path = tmp_path / f"{sid}.txt"
    write(path, sid, date(2026, 7, 20), date(2026, 7, 31), sales)
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with wh.write() as con:
        _land(con, path, "x3", returns=[], sid=sid)
    with x3_sandbox(tmp_path) as (x3, target):
        held = cogs.run(wh.write, target, sid, "x3")
        assert not held.posted and list(held.waiting) == [f"COGS-{sid}-202607"]
        assert "NW-FILTER-SQ has no Sage item" in held.waiting[f"COGS-{sid}-202607"]
        assert x3.rows("GACCENTRY") == []  # nothing guessed, nothing posted
        with wh.write() as con:
            waiting = {(r["sku"], r["status"], r["posted"]) for r in cogs.rows(con, sid)}
            assert not deadletters.open_letters(con, "settlement")  # the orders of the SKU have their own
        assert waiting == {("NW-FILTER-SQ", "unmapped_sku", False), ("NW-PAD-UL", "ok", False)}

        mapping = tmp_path / "mapping"
        mapping.mkdir()
        text = (DEFAULTS_DIR / "skus.yaml").read_text().replace("    NW-LAMP-300: NW-HL300",
                                                                "    NW-LAMP-300: NW-HL300\n    NW-FILTER-SQ: NW-PAD-UL")
        (mapping / "skus.yaml").write_text(text)
        monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(mapping))
        fixed = cogs.run(wh.write, target, sid, "x3")
        cost = {r["ITMREF_0"]: D(str(r["AVC_0"])) for r in x3.rows("ITMMVT") if r["STOFCY_0"] == "FBAUS"}["NW-PAD-UL"]
        lines = x3.rows("GACCENTRYD")
        with wh.write() as con:
            table = {(r["sku"], r["item"], r["status"], r["posted"]) for r in cogs.rows(con, sid)}
    assert fixed.all_posted and list(fixed.posted) == [f"COGS-{sid}-202607"]
    assert sum(D(str(r["AMTCUR_0"])) for r in lines if r["ACC_0"] == "5000") == 3 * cost
    assert table == {("NW-FILTER-SQ", "NW-PAD-UL", "ok", True), ("NW-PAD-UL", "NW-PAD-UL", "ok", True)}


def test_the_asset_posts_the_settlement_cogs_and_reports_it(file, tmp_path):
    import dagster as dg

    from assets.settlements.cogs import settlement_cogs
    from resources.sage import SageResource
    from resources.warehouse import WarehouseResource
    from sage_amazon.sandbox.x3 import running_x3

    path = tmp_path / "wh.duckdb"
    with Warehouse(path, lock_timeout=30).write() as con:
        _land(con, file, "x3")
    with running_x3(tmp_path) as x3, dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("settlement_ids", [SID])
        sage = SageResource(target="x3", x3_url=x3.url, x3_user=x3.user, x3_password=x3.password,
                            x3_pool=x3.pool, x3_folder=x3.folder)
        result = dg.materialize([settlement_cogs], partition_key=SID, instance=instance,
                                resources={"warehouse": WarehouseResource(path=str(path)), "sage": sage})
        expected = _expected(_x3_costs(x3), X3_ITEMS)
        journals = x3.rows("GACCENTRY")
    assert result.success
    meta = result.asset_materializations_for_node("settlement_cogs")[0].metadata
    assert meta["cogs"].value == f"{sum(expected.values()):.2f}"
    assert (meta["units_sold"].value, meta["units_returned"].value) == (10, 1)  # 1 + 2 + 1 + 3 + 1 + 2 sold
    assert sorted(meta["posted"].value) == sorted(j["REF_0"] for j in journals) == [
        "COGS-91700000101-202607", "COGS-91700000101-202608"]
    assert [c.passed for c in result.get_asset_check_evaluations()] == [True]


def test_a_table_of_an_earlier_version_gains_the_columns_added_since(tmp_path):
    row = cogs.CogsRow(SID, "2026-07", f"COGS-{SID}-202607", "US01", "US", "NW-PAD-UL", "AFN", "NW-PAD-UL", "FBAUS",
                       1, 0, 0, 1, D("18.20"), D("18.20"), "USD", date(2026, 7, 31), cogs.OK)
    with Warehouse(tmp_path / "wh.duckdb", lock_timeout=30).write() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        con.execute(f"CREATE TABLE {cogs.TABLE} (settlement_id VARCHAR, period VARCHAR, journal_reference VARCHAR, "
                    "sku VARCHAR, cost DECIMAL(18,2))")
        cogs._write(con, SID, [row], set())
        got = cogs.rows(con, SID)
    assert [(r["sku"], r["channel"], r["cost"], r["unit_cost"]) for r in got] == [
        ("NW-PAD-UL", "AFN", D("18.20"), D("18.2000"))]
