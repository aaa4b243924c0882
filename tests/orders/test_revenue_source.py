"""Issue 12.1: one source of revenue, enforced in the orders flow. Under accounts.yaml `revenue: settlement` (the
shipped default) the orders flow's Sage sales orders carry the target's uninvoiced order type (X3 SOHTYP SNI,
whose deliveries X3 does not invoice; Sage 500 UserFld3 FULFILONLY, for which no invoice batch runs); under
`revenue: sage_invoices` they are normal, invoiced orders. A target without an uninvoiced order type under
`revenue: settlement` stops the load with one line, nothing posted."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from sage_amazon.errors import PermanentError
from sage_amazon.mapping import DEFAULTS_DIR, accounts
from sage_amazon.orders import load
from sage_amazon.sandbox.x3 import running_x3
from sage_amazon.warehouse import Warehouse
from tests import postgres as pg_server
from tests.orders.test_short_connections import orders_in_mart, target_for


def _mapping_dir(tmp_path: Path, monkeypatch, **changes) -> None:
    data = yaml.safe_load((DEFAULTS_DIR / "accounts.yaml").read_text())
    for key, value in changes.items():
        if key.startswith("drop_type_"):
            data["targets"][key.removeprefix("drop_type_")].pop("uninvoiced_order_type")
        else:
            data[key] = value
    folder = tmp_path / "mapping"
    folder.mkdir(exist_ok=True)
    (folder / "accounts.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(folder))


@pytest.fixture
def warehouse(tmp_path):
    return Warehouse(tmp_path / "warehouse" / "w.duckdb", lock_timeout=10.0)


def test_shipped_default_gives_each_target_its_uninvoiced_order_type(monkeypatch):
    monkeypatch.delenv("SAGE_AMAZON_MAPPING_DIR", raising=False)
    amap = accounts.load()
    assert amap.revenue == "settlement"
    assert amap.order_billing("x3") == ("SNI", False)
    assert amap.order_billing("sage500") == ("FULFILONLY", False)
    invoices = accounts.parse({**yaml.safe_load((DEFAULTS_DIR / "accounts.yaml").read_text()),
                               "revenue": "sage_invoices"})
    assert invoices.order_billing("x3") == ("", True) and invoices.order_billing("sage500") == ("", True)


def test_x3_orders_never_invoiced_under_settlement_revenue_and_normal_under_sage_invoices(
        tmp_path, warehouse, monkeypatch):
    monkeypatch.delenv("SAGE_AMAZON_MAPPING_DIR", raising=False)
    with running_x3(tmp_path / "x3") as x3:
        settled = orders_in_mart(warehouse, 3)
        assert load.load_orders(warehouse.write, target_for(x3), workers=1).posted == 3
        _mapping_dir(tmp_path, monkeypatch, revenue="sage_invoices")
        invoiced = orders_in_mart(warehouse, 2)
        assert load.load_orders(warehouse.write, target_for(x3), workers=1).posted == 2
        types = {r["CUSORDREF_0"]: r["SOHTYP_0"] for r in x3.rows("SORDER")}
        no_invoice = {r["SOHTYP_0"]: r["YNOINV_0"] for r in x3.rows("TABSOHTYP")}
    assert {types[o] for o in settled} == {"SNI"} and no_invoice["SNI"] == 2  # X3's type: deliveries not invoiced
    assert {types[o] for o in invoiced} == {"SON"} and no_invoice["SON"] == 1  # the marketplace's normal type


def test_a_target_without_an_uninvoiced_type_stops_the_load_in_one_line(tmp_path, warehouse, monkeypatch):
    _mapping_dir(tmp_path, monkeypatch, drop_type_x3=True)
    with running_x3(tmp_path / "x3") as x3:
        orders_in_mart(warehouse, 2)
        with pytest.raises(PermanentError, match=r"revenue: settlement but targets\.x3 has no uninvoiced_order_type"
                                                 r".*counted twice") as caught:
            load.load_orders(warehouse.write, target_for(x3), workers=1)
        assert "\n" not in str(caught.value)
        assert x3.rows("SORDER") == []


def test_the_x3_target_refuses_an_uninvoiced_order_without_a_type():
    from datetime import date
    from decimal import Decimal

    from sage_amazon.sage.errors import SageConfigurationError
    from sage_amazon.sage.protocol import SalesOrder, SalesOrderLine
    from sage_amazon.sage.x3 import X3Target

    target = X3Target.from_settings("http://127.0.0.1:9", "admin", "pw", "SEED", "SEED")
    order = SalesOrder("111-0000000-0000001", "AMZUS", "US01", date(2026, 11, 20), "USD",
                       (SalesOrderLine(1, "NW-TENT-2P", Decimal("1"), Decimal("149.99")),), invoiced=False)
    # no X3 is called: the order is refused before anything is sent or looked up
    with pytest.raises(SageConfigurationError, match="uninvoiced_order_type"):
        target._create_sales_order(order, "SOH order 111-0000000-0000001")


def test_sage500_orders_never_invoiced_under_settlement_revenue_and_normal_under_sage_invoices(
        tmp_path, warehouse, monkeypatch):
    from sage_amazon.sage.sage500 import Sage500Target
    from sage_amazon.sandbox.sage500 import sandbox_database

    pg_server.require()
    monkeypatch.delenv("SAGE_AMAZON_MAPPING_DIR", raising=False)
    with sandbox_database(pg_server.SERVER_URL) as db:
        target = Sage500Target(db.url, company_id=db.company_id)
        try:
            settled = orders_in_mart(warehouse, 3)
            assert load.load_orders(warehouse.write, target, workers=1).posted == 3
            _mapping_dir(tmp_path, monkeypatch, revenue="sage_invoices")
            invoiced = orders_in_mart(warehouse, 2)
            assert load.load_orders(warehouse.write, target, workers=1).posted == 2
            with target.engine.connect() as conn:
                types = dict(conn.execute(text("SELECT CustPONo, UserFld3 FROM tsoSalesOrder")).all())
        finally:
            target.engine.dispose()
    assert {types[o] for o in settled} == {"FULFILONLY"}
    assert {types[o] for o in invoiced} == {None}  # marketplaces.yaml gives Sage 500 no type: a normal order
