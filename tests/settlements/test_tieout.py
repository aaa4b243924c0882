"""Order-level tie-out (what Sage invoiced vs what Amazon settled, per Amazon order id) and the revenue source."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from sage_amazon import posting_ledger
from sage_amazon.amazon import settlement as parser
from sage_amazon.ledger import settlements, tieout
from sage_amazon.mapping import DEFAULTS_DIR, MappingError, accounts

D = Decimal
FILES = Path(__file__).parent / "files"


def _orders(con, rows):
    """The orders flow's side: marts.sage_orders rows and their posting-ledger entries."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute("CREATE TABLE marts.sage_orders (amazon_order_id VARCHAR, partition_date DATE, order_date DATE, "
                "currency VARCHAR, lines_total DECIMAL(18,2), action VARCHAR)")
    posting_ledger.ensure(con)
    for order_id, day, total, posted in rows:
        con.execute("INSERT INTO marts.sage_orders VALUES (?, ?, ?, 'USD', ?, 'post')", [order_id, day, day, D(total)])
        if posted:
            posting_ledger.start(con, "orders", order_id, "h")
            posting_ledger.posted(con, "orders", order_id, f"SO-{order_id[-4:]}")


def test_tieout_per_order(con):
    parser.land(con, FILES / "na-unified.txt")  # settles 4 orders
    _orders(con, [
        ("111-0000020-0000001", date(2026, 6, 1), "108.00", True),    # matched (principal + tax)
        ("702-0000020-0000002", date(2026, 6, 2), "90.00", True),     # settled 90.40: difference 0.40
        ("999-0000000-0000001", date(2026, 3, 1), "25.00", True),     # invoiced, never settled: open, aged
        ("999-0000000-0000002", date(2026, 6, 10), "30.00", False),   # not in Sage (failed): not invoiced
    ])
    tie = {r["amazon_order_id"]: r for r in tieout.rows(con, as_of=date(2026, 6, 15))}
    assert tie["111-0000020-0000001"]["status"] == "matched"
    assert (tie["702-0000020-0000002"]["status"], tie["702-0000020-0000002"]["difference"]) == ("difference", D("0.40"))
    assert tie["702-0000020-0000002"]["marketplace"] == "CA"
    open_item = tie["999-0000000-0000001"]
    assert (open_item["status"], open_item["age_days"], open_item["ageing"]) == ("open", 106, "over 90")
    assert tie["702-0000020-0000003"]["status"] == "settled_not_invoiced"
    assert tie["702-0000020-0000003"]["settled_amount"] == D("45.20")
    assert "999-0000000-0000002" not in tie
    summary = tieout.summarize(list(tie.values()), date(2026, 6, 15), "sage_invoices")
    assert summary.counts == {"open": 1, "settled_not_invoiced": 2, "difference": 1, "matched": 1, "refunded": 0}
    checks = {o.name: o for o in tieout.outcomes(summary)}
    assert not checks["tieout_settled_not_invoiced"].passed and not checks["tieout_open_items_ageing"].passed
    assert not any(o.blocking for o in checks.values())
    assert tieout.build(con, as_of=date(2026, 6, 15)) == 5
    assert con.execute(f"SELECT count(*) FROM {tieout.TABLE} WHERE status = 'open'").fetchone() == (1,)


def test_tieout_before_the_orders_flow_ran(con):
    parser.land(con, FILES / "neg-3-rolled-forward.txt")
    tie = tieout.rows(con)  # as of the last settlement end: no wall clock
    assert [(r["amazon_order_id"], r["status"]) for r in tie] == [("111-0000003-0000003", "settled_not_invoiced")]
    assert tie[0]["age_days"] == (date(2026, 4, 12) - date(2026, 4, 2)).days


def _map(**changes):
    data = yaml.safe_load((DEFAULTS_DIR / "accounts.yaml").read_text())
    data.update(changes)
    return data


def test_shipped_default_is_settlement_revenue():
    amap = accounts.load()
    assert amap.revenue == "settlement"
    assert amap.role_for("Order", "ItemPrice", "Principal")[0] == "sales"


def test_sage_invoices_clears_the_marketplace_receivable(tmp_path, monkeypatch):
    (tmp_path / "accounts.yaml").write_text(yaml.safe_dump(_map(revenue="sage_invoices", documents="credit_notes")))
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path))
    p = settlements.preview(FILES / "na-unified.txt", "x3")
    assert all(o.passed for o in p.outcomes), [o.description for o in p.outcomes if not o.passed]
    net: dict[str, Decimal] = {}
    for journal in p.journals:
        for line in journal.lines:
            net[line.account] = net.get(line.account, D(0)) + line.credit - line.debit
    # principal and collected tax of every marketplace clear receivables: 270.00 + 8.00 + 15.60 + 8.00
    assert net["1100"] == D("301.60")
    assert "4000" not in net and "2220" not in net and "2230" not in net
    assert net["2245"] == D("-8.00")  # the facilitator tax Amazon withheld offsets the tax Sage invoiced
    assert net["6100"] == D("-40.50") and net["6140"] == D("-39.99")


def test_refund_follows_the_credit_notes_in_sage_invoices_mode():
    amap = accounts.parse(_map(revenue="sage_invoices", documents="credit_notes"))
    assert amap.role_for("Refund", "ItemPrice", "Principal")[0] == "receivables"
    assert amap.role_for("Refund", "ItemPrice", "Shipping")[0] == "receivables"
    assert amap.role_for("Order", "ItemFees", "Commission")[0] == "marketplace_fees"
    assert amap.role_for("other-transaction", "other-transaction", "Current Reserve Amount")[0] == "reserve"
    journal_only = accounts.parse(_map(revenue="sage_invoices"))
    assert journal_only.role_for("Refund", "ItemPrice", "Principal")[0] == "refunds"


def test_a_map_counting_revenue_twice_is_refused_in_one_line():
    data = _map(revenue="sage_invoices")
    data["rules"].insert(0, {"amount_type": "ItemPrice", "description": "Principal", "role": "product_revenue"})
    for target in data["targets"].values():
        target["accounts"]["product_revenue"] = "4000"
    with pytest.raises(MappingError) as err:
        accounts.parse(data)
    assert "counted twice" in str(err.value) and "\n" not in str(err.value)
    data = _map()
    data["rules"].insert(0, {"amount_type": "ItemPrice", "description": "Principal", "role": "receivables"})
    with pytest.raises(MappingError, match="revenue: settlement but rule 1"):
        accounts.parse(data)
    with pytest.raises(MappingError, match="revenue must be settlement or sage_invoices"):
        accounts.parse(_map(revenue="both"))


def test_tieout_cli(data_dir, tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from sage_amazon import config
    from sage_amazon.ledger.cli import settlement_group
    from sage_amazon.warehouse import Warehouse

    with Warehouse(config.load().warehouse_path).write() as con:
        parser.land(con, FILES / "na-unified.txt")
        _orders(con, [("111-0000020-0000001", date(2026, 6, 1), "108.00", True),
                      ("999-0000000-0000001", date(2026, 3, 1), "25.00", True)])
    runner = CliRunner()
    result = runner.invoke(settlement_group, ["tieout", "--json"])
    assert result.exit_code == 0, result.output  # revenue: settlement (shipped default): information only
    doc = json.loads(result.output)
    assert doc["summary"]["as_of"] == "2026-06-15"
    assert doc["summary"]["counts"]["open"] == 1 and doc["summary"]["counts"]["settled_not_invoiced"] == 3
    assert {o["status"] for o in doc["orders"]} == {"open", "settled_not_invoiced"}
    text = runner.invoke(settlement_group, ["tieout", "--status", "open"]).output
    assert "999-0000000-0000001" in text and "over 90" in text and "702-0000020-0000002" not in text
    (tmp_path / "map").mkdir()
    (tmp_path / "map" / "accounts.yaml").write_text(yaml.safe_dump(_map(revenue="sage_invoices")))
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path / "map"))
    assert runner.invoke(settlement_group, ["tieout"]).exit_code == 1  # settled orders never invoiced
