"""US marketplace facilitator tax posted gross (issue 17.2): a hand-made US settlement with orders shipped to
three facilitator states (and one order the orders flow never landed), posted to the X3 and the Sage 500
sandboxes; the tax collected and the tax Amazon withheld land on their own accounts, and per state they equal
what an accountant computes from the orders."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
import yaml

from sage_amazon.amazon import settlement as parser
from sage_amazon.ledger import facilitator_tax, posting, settlements
from sage_amazon.mapping import DEFAULTS_DIR, accounts
from sage_amazon.warehouse import Warehouse
from tests.tax.handmade import Sale, accountant_tax_by_state, sage500_sandbox, write, x3_sandbox
from tests.tax.handmade import land_orders as land_orders_of

D = Decimal
SID = "91700000001"
CA, WA, NY = D("0.0725"), D("0.1025"), D("0.08875")
SALES = [
    Sale("111-1700001-0000001", "NW-TENT-2P", 1, D("149.99"), D("5.99"), "CA", CA, date(2026, 7, 2)),
    Sale("111-1700001-0000002", "NW-PAD-UL", 2, D("59.99"), D("0"), "Washington", WA, date(2026, 7, 3)),
    Sale("111-1700001-0000003", "NW-LAMP-300", 1, D("19.99"), D("0"), "ny", NY, date(2026, 7, 4),
         refunded=1, refund_day=date(2026, 7, 9)),
    Sale("111-1700001-0000004", "NW-STOVE-CMP", 3, D("39.99"), D("0"), "CA", CA, date(2026, 7, 5)),
    Sale("111-1700001-0000005", "NW-BAG-20F", 1, D("189.95"), D("0"), "NY", NY, date(2026, 7, 8)),
    Sale("111-1700001-0000006", "NW-PACK-45L", 1, D("129.00"), D("0"), None, D("0.0625"), date(2026, 7, 10)),
]
CODES = {"CA": "CA", "Washington": "WA", "ny": "NY", "NY": "NY"}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def file(tmp_path_factory):
    path = tmp_path_factory.mktemp("mft") / f"{SID}.txt"
    write(path, SID, date(2026, 7, 1), date(2026, 7, 14), SALES,
          extra=[("other-transaction", "", "other-transaction", "Subscription Fee", D("-39.99"), date(2026, 7, 6),
                  "", 0)])
    return path


def _build(con, path, target):
    accounts.write_table(con, accounts.load(), target)
    land_orders_of(con, SALES)
    parser.land(con, path)
    settlements.build(con, SID)
    assert all(o.passed for o in settlements.validate(con, SID) if o.blocking)
    return facilitator_tax.build(con, SID)


def _expected():
    by_state = accountant_tax_by_state(SALES, CODES)
    collected = sum(c for c, _ in by_state.values())
    withheld = sum(w for _, w in by_state.values())
    return by_state, collected, withheld


def test_accountant_figures_of_the_handmade_settlement():
    # the accountant's own sums, written out: CA 10.87 + 0.43 + 8.70, WA 12.30, NY 1.77 - 1.77 + 16.86
    by_state, collected, withheld = _expected()
    assert by_state == {"CA": (D("20.00"), D("-20.00")), "WA": (D("12.30"), D("-12.30")),
                        "NY": (D("16.86"), D("-16.86")), "unknown": (D("8.06"), D("-8.06"))}
    assert (collected, withheld) == (D("57.22"), D("-57.22"))


def test_collected_and_withheld_post_gross_and_tie_per_state(file, tmp_path):
    by_state, collected, withheld = _expected()
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with wh.write() as con:
        rows = _build(con, file, "x3")
        net = settlements.per_account_totals(con, SID)
        lines = con.execute("SELECT description, account, debit, credit FROM marts.journal_settlement_lines "
                            "WHERE settlement_id = ? AND role IN ('tax_collected', 'tax_withheld') ORDER BY 2",
                            [SID]).fetchall()
        assert facilitator_tax.ties_out(con, SID) == []
    assert net["2240"] == collected and net["2245"] == withheld  # not netted to nothing on one account
    assert "2200" not in net
    assert [(d, a) for d, a, _, _ in lines] == [("AMZ 91700000001 tax collected", "2240"),
                                                ("AMZ 91700000001 tax withheld", "2245")]
    got = {r.state: (r.collected, r.withheld) for r in rows}
    assert got == by_state
    assert all(r.seller_owes == 0 for r in rows)  # Amazon remitted all it collected in every state
    assert {r.state: r.orders for r in rows} == {"CA": 2, "WA": 1, "NY": 2, "unknown": 1}
    assert {(r.collected_account, r.withheld_account, r.journal_reference) for r in rows} == {
        ("2240", "2245", "AMZ-91700000001-202607")}


def test_one_liability_and_its_offset_when_both_map_to_one_account(file, tmp_path, monkeypatch):
    data = yaml.safe_load((DEFAULTS_DIR / "accounts.yaml").read_text())
    for target in data["targets"].values():
        target["accounts"]["tax_collected"] = target["accounts"]["tax_withheld"] = "2200"
    (tmp_path / "accounts.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path))
    by_state, collected, withheld = _expected()
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with wh.write() as con:
        _build(con, file, "sage500")
        lines = con.execute("SELECT account, debit, credit FROM marts.journal_settlement_lines "
                            "WHERE settlement_id = ? AND account = '2200' ORDER BY debit", [SID]).fetchall()
        assert facilitator_tax.ties_out(con, SID) == []
    # both lines on 2200: the liability credited, its offset debited (the account nets to zero, the lines do not)
    assert lines == [("2200", D("0.00"), collected), ("2200", -withheld, D("0.00"))]


def _x3_postings(tmp_path, path):
    from sqlalchemy import text

    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with wh.write() as con:
        _build(con, path, "x3")
    with x3_sandbox(tmp_path) as (x3, target):
        report = posting.post_settlement(wh.write, target, SID)
        assert report.all_posted and report.posted, report
        with x3.engine.connect() as conn:
            rows = conn.execute(text("SELECT d.ACC_0, d.SNS_0, d.AMTCUR_0 FROM GACCENTRYD d")).fetchall()
    out: dict[str, list[Decimal]] = defaultdict(list)
    for acc, sns, amount in rows:
        out[acc].append(-D(str(amount)) * sns)  # credit-positive, line by line
    return out


def _sage500_postings(tmp_path, path):
    from sqlalchemy import text

    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with wh.write() as con:
        _build(con, path, "sage500")
    with sage500_sandbox() as (db, target):
        report = posting.post_settlement(wh.write, target, SID)
        assert report.all_posted and report.posted, report
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT a.GLAcctNo, t.PostAmt FROM tglTransaction t "
                                     "JOIN tglAccount a ON a.GLAcctKey = t.GLAcctKey")).fetchall()
    out: dict[str, list[Decimal]] = defaultdict(list)
    for acc, amount in rows:
        out[acc].append(-D(amount))  # Sage 500: debit positive
    return out


@pytest.mark.parametrize("erp", ["x3", "sage500"])
def test_posted_to_the_erp_the_tax_lines_equal_the_accountants(file, tmp_path, erp):
    _, collected, withheld = _expected()
    posted = (_x3_postings if erp == "x3" else _sage500_postings)(tmp_path, file)
    assert posted["2240"] == [collected] and posted["2245"] == [withheld]
    assert "2200" not in posted
    assert sum(sum(v) for v in posted.values()) == 0


def test_the_asset_writes_the_per_state_table_and_its_check_passes(file, tmp_path):
    import dagster as dg

    from assets.settlements.tax import facilitator_tax_by_state
    from resources.warehouse import WarehouseResource

    by_state, collected, _ = _expected()
    path = tmp_path / "wh.duckdb"
    with Warehouse(path, lock_timeout=30).write() as con:
        _build(con, file, "x3")
        con.execute(f"DROP TABLE {facilitator_tax.TABLE}")  # the asset makes it
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("settlement_ids", [SID])
        result = dg.materialize([facilitator_tax_by_state], partition_key=SID, instance=instance,
                                resources={"warehouse": WarehouseResource(path=str(path))})
    assert result.success
    meta = result.asset_materializations_for_node("facilitator_tax_by_state")[0].metadata
    assert meta["collected"].value == f"{collected:.2f}" and meta["states"].value == 4
    assert meta["unknown_state_orders"].value == 1
    assert [c.passed for c in result.get_asset_check_evaluations()] == [True]
    with Warehouse(path, lock_timeout=30).write() as con:
        table = dict(((s, (D(c), D(w))) for s, c, w in con.execute(
            f"SELECT state, collected, withheld FROM {facilitator_tax.TABLE} WHERE settlement_id = ?",
            [SID]).fetchall()))
    assert table == by_state
