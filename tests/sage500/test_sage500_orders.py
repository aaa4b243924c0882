"""Sales orders through the connector: staging session, Sage's import, typed dead letters, idempotency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import text

from sage_amazon.sage import errors
from sage_amazon.sage.protocol import Address, SageTarget, SalesOrder, SalesOrderLine
from sage_amazon.sandbox.sage500 import failed_staging_rows


def order(ref, *lines, customer="AMZUS", site="US01", currency="USD", freight="0", status="open", channel="MFN"):
    lines = lines or (SalesOrderLine(1, "NW-TENT-2P", D("1"), D("149.99")),)
    return SalesOrder(ref, customer, site, date(2026, 11, 20), currency, tuple(lines), freight=D(freight),
                      status=status, fulfillment_channel=channel,
                      ship_to=Address("Jane Buyer", ("1 Main St",), "Seattle", "WA", "98101", "US"))


def q(target, sql, **params):
    with target.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def test_is_a_sage_target(target):
    assert isinstance(target, SageTarget) and target.name == "sage500"


def test_order_lines_and_amounts_land_in_sage(target):
    o = order("111-1000000-0000001",
              SalesOrderLine(1, "NW-TENT-2P", D("2"), D("149.99"), D("10.00"), "Tent", "11111111111111"),
              SalesOrderLine(2, "NW-LAMP-300", D("3"), D("19.99")), freight="5.99")
    result = target.create_sales_order(o)
    assert result.created and target.find_sales_order(o.customer_order_ref) == result.sage_number
    header = q(target, "SELECT o.Status, o.CurrID, o.SalesAmt, o.FreightAmt, o.TranAmt, c.CustID, o.UserFld1 "
                       "FROM tsoSalesOrder o JOIN tarCustomer c ON c.CustKey = o.CustKey WHERE o.TranNo = :t",
               t=result.sage_number)
    assert header == [(1, "USD", D("349.95"), D("5.99"), D("355.94"), "AMZUS", "MFN")]
    lines = q(target, "SELECT l.SOLineNo, i.ItemID, d.QtyOrd, l.UnitPrice, d.TradeDiscAmt, d.ExtAmt, l.UserFld1, "
                      "a.GLAcctNo FROM tsoSOLine l JOIN tsoSOLineDist d ON d.SOLineKey = l.SOLineKey "
                      "JOIN timItem i ON i.ItemKey = l.ItemKey JOIN tsoSalesOrder o ON o.SOKey = l.SOKey "
                      "LEFT JOIN tglAccount a ON a.GLAcctKey = d.GLAcctKey WHERE o.TranNo = :t ORDER BY 1",
              t=result.sage_number)
    assert lines == [(1, "NW-TENT-2P", 2, D("149.99"), D("10.00"), D("289.98"), "11111111111111", "4000"),
                     (2, "NW-LAMP-300", 3, D("19.99"), D("0"), D("59.97"), None, "4000")]


def test_resending_adopts_the_existing_order(target):
    o = order("111-1000000-0000002")
    first = target.create_sales_order(o)
    again = target.create_sales_orders([o, o])
    assert [r.created for r in again] == [False, False] and {r.sage_number for r in again} == {first.sage_number}
    assert q(target, "SELECT count(*) FROM tsoSalesOrder WHERE CustPONo = :po", po=o.customer_order_ref) == [(1,)]


def test_refused_orders_are_typed_dead_letters_and_the_rest_goes_through(target):
    good = order("111-1000000-0000010")
    missing_sku = order("111-1000000-0000011", SalesOrderLine(1, "NW-FILTER-SQ", D("1"), D("34.99")))
    bad_customer = order("111-1000000-0000012", customer="AMZXX")
    bad_site = order("111-1000000-0000013", site="ZZ99")
    results = target.create_sales_orders([good, missing_sku, bad_customer, bad_site])
    assert results[0].created
    assert isinstance(results[1], errors.UnknownItem) and "Invalid Item ID 'NW-FILTER-SQ'" in results[1].reason
    assert isinstance(results[2], errors.UnknownCustomer) and "AMZXX" in results[2].reason
    assert isinstance(results[3], errors.UnknownSite) and "ZZ99" in results[3].reason
    assert "111-1000000-0000011" in results[1].refused
    dead = {r["custpono"]: r for r in failed_staging_rows(target.engine)}  # as a Sage user sees them
    assert dead["111-1000000-0000011"]["columnid"] == "ItemID"
    assert {"111-1000000-0000012", "111-1000000-0000013"} <= set(dead)
    letters = {r["customer_order_ref"]: r for r in target.staging_dead_letters()}  # as the product reads them
    assert letters["111-1000000-0000011"]["reason"] == "Line 1: Invalid Item ID 'NW-FILTER-SQ'."
    assert letters["111-1000000-0000012"]["column"] == "CustID"
    with pytest.raises(errors.UnknownItem):
        target.create_sales_order(missing_sku)
    # re-sending replaces the stale staging rows instead of piling them up; still nothing in tsoSalesOrder
    assert q(target, "SELECT count(*) FROM StgSalesOrder WHERE CustPONo = :po", po=missing_sku.customer_order_ref) == [(1,)]
    assert target.find_sales_order(missing_sku.customer_order_ref) is None


def test_fixed_dead_letter_replays_once(target):
    o = order("111-1000000-0000020", SalesOrderLine(1, "NW-NEW-ITEM", D("1"), D("10.00")))
    assert isinstance(target.create_sales_orders([o])[0], errors.UnknownItem)
    with target.engine.begin() as conn:  # the Sage user creates the missing item
        conn.execute(text("INSERT INTO timItem (CompanyID, ItemID) VALUES ('NWD', 'NW-NEW-ITEM')"))
    replay = target.create_sales_order(o)
    assert replay.created and target.create_sales_order(o) == type(replay)(replay.sage_number, created=False)
    assert q(target, "SELECT count(*) FROM StgSalesOrder WHERE CustPONo = :po", po=o.customer_order_ref) == [(0,)]


def test_amazon_statuses_map_to_sage_statuses(target):
    statuses = {}
    for n, amazon in enumerate(("Pending", "Unshipped", "Shipped", "Canceled", "closed")):
        r = target.create_sales_order(order(f"111-1000000-00001{n}0", status=amazon))
        statuses[amazon] = q(target, "SELECT Status FROM tsoSalesOrder WHERE TranNo = :t", t=r.sage_number)[0][0]
    assert statuses == {"Pending": 6, "Unshipped": 1, "Shipped": 4, "Canceled": 3, "closed": 4}
    # a pending order that Amazon later reports Unshipped is released (Pending Approval -> Open)
    released = target.create_sales_order(order("111-1000000-0000100", status="Unshipped"))
    assert not released.created
    assert q(target, "SELECT Status FROM tsoSalesOrder WHERE TranNo = :t", t=released.sage_number) == [(1,)]
    assert isinstance(target.create_sales_orders([order("111-1000000-0000999", status="Lost")])[0],
                      errors.MalformedRequest)


def test_close_sales_order_cancels_it_and_its_lines(target):
    r = target.create_sales_order(order("111-1000000-0000030"))
    with target.engine.begin() as conn:  # a Sage user had put it on hold: cancelling keeps that
        conn.execute(text("UPDATE tsoSalesOrder SET Hold = 1 WHERE TranNo = :t"), {"t": r.sage_number})
    target.close_sales_order(r.sage_number, "Amazon cancellation")
    assert q(target, "SELECT Hold FROM tsoSalesOrder WHERE TranNo = :t", t=r.sage_number) == [(1,)]
    target.close_sales_order(r.sage_number, "again")  # no-op
    assert q(target, "SELECT Status, TranCmnt FROM tsoSalesOrder WHERE TranNo = :t", t=r.sage_number) == [
        (3, "Closed: Amazon cancellation")]
    assert q(target, "SELECT DISTINCT l.Status FROM tsoSOLine l JOIN tsoSalesOrder o ON o.SOKey = l.SOKey "
                     "WHERE o.TranNo = :t", t=r.sage_number) == [(2,)]
    with pytest.raises(errors.MalformedRequest):
        target.close_sales_order("9999999999")


def test_multicurrency_orders_for_each_marketplace(target):
    gb = target.create_sales_order(order("202-1000000-0000001", SalesOrderLine(1, "NW-BAG-20F", D("1"), D("169.95")),
                                         customer="AMZGB", site="GB01", currency="GBP", channel="AFN"))
    de = target.create_sales_order(order("302-1000000-0000001", SalesOrderLine(1, "NW-BAG-20F", D("1"), D("199.95")),
                                         customer="AMZDE", site="FBAEU", currency="EUR", channel="AFN"))
    got = q(target, "SELECT TranNo, CurrID, TranAmt FROM tsoSalesOrder WHERE TranNo IN (:a, :b) ORDER BY TranNo",
            a=gb.sage_number, b=de.sage_number)
    assert got == [(gb.sage_number, "GBP", D("169.95")), (de.sage_number, "EUR", D("199.95"))]
    wrong = target.create_sales_orders([order("202-1000000-0000002", customer="AMZGB", currency="USD")])[0]
    assert isinstance(wrong, errors.MalformedRequest) and "does not match the currency" in wrong.reason


def test_overlong_values_are_refused_before_staging(target):
    r = target.create_sales_orders([order("X" * 31)])[0]
    assert isinstance(r, errors.MalformedRequest) and "30" in r.reason


def test_many_orders_in_one_session(target):
    orders = [order(f"999-2000000-{n:07d}", SalesOrderLine(1, "NW-PAD-UL", D(n % 3 + 1), D("59.99"))) for n in range(120)]
    results = target.create_sales_orders(orders)
    assert all(r.created for r in results) and len({r.sage_number for r in results}) == 120
    assert q(target, "SELECT count(*), sum(SalesAmt) FROM tsoSalesOrder WHERE CustPONo LIKE '999-2000000-%'") == [
        (120, sum(D("59.99") * (n % 3 + 1) for n in range(120)))]


def test_amazon_line_total_survives_a_fractional_unit_price(target):
    from sage_amazon.sage.sage500 import amazon_line_amounts

    unit, discount = amazon_line_amounts(D("3"), D("10.00"), D("-1.00"))
    r = target.create_sales_order(
        order("111-1000000-0000040", SalesOrderLine(1, "NW-LAMP-300", D("3"), unit, discount)))
    assert q(target, "SELECT SalesAmt FROM tsoSalesOrder WHERE TranNo = :t", t=r.sage_number) == [(D("9.00"),)]
