"""Merchant-fulfilled shipments processed in Sage 500, read back for Amazon once; FBA shipments recorded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import text

from sage_amazon.sage import errors
from sage_amazon.sage.protocol import SalesOrder, SalesOrderLine, Shipment, ShipmentLine
from sage_amazon.sandbox.sage500 import ship_order


def mfn_order(target, ref, channel="MFN"):
    lines = (SalesOrderLine(1, "NW-KNIFE-MT", D("2"), D("27.49"), external_line_ref="50000000000001"),
             SalesOrderLine(2, "NW-MAP-KIT", D("1"), D("22.00"), external_line_ref="50000000000002"))
    return target.create_sales_order(SalesOrder(ref, "AMZUS", "US01", date(2026, 11, 20), "USD", lines,
                                                fulfillment_channel=channel)).sage_number


def test_sage_shipment_is_offered_once_with_amazon_carrier(sage500_db, target):
    so = mfn_order(target, "113-3000000-0000001")
    ship_no = ship_order(sage500_db.engine, "113-3000000-0000001", "FEDEX 2DAY", "7712345678", date(2026, 11, 21))
    pending = [s for s in target.unpushed_shipments() if s.shipment.customer_order_ref == "113-3000000-0000001"]
    assert len(pending) == 1
    s = pending[0]
    assert (s.shipment_no, s.shipment.sage_number, s.shipment.carrier, s.shipment.tracking_number) == (
        ship_no, so, "FEDEX 2DAY", "7712345678")
    assert (s.amazon_carrier.carrier_code, s.amazon_carrier.shipping_method) == ("FedEx", "FedEx 2Day")
    assert [(ln.line_no, ln.item, ln.quantity) for ln in s.shipment.lines] == [(1, "NW-KNIFE-MT", 2), (2, "NW-MAP-KIT", 1)]
    assert s.order_item_ids == {1: "50000000000001", 2: "50000000000002"}
    assert s.shipment.ship_date == date(2026, 11, 21)
    assert target.mark_shipments_pushed([ship_no], "amzn-feed-1") == 1
    assert target.mark_shipments_pushed([ship_no]) == 0
    assert all(x.shipment_no != ship_no for x in target.unpushed_shipments())
    with sage500_db.engine.connect() as conn:  # fully shipped: Sage closed the order
        assert conn.execute(text("SELECT Status FROM tsoSalesOrder WHERE TranNo = :t"), {"t": so}).scalar() == 4


def test_partial_shipments_are_separate_pushes(sage500_db, target):
    mfn_order(target, "113-3000000-0000002")
    first = ship_order(sage500_db.engine, "113-3000000-0000002", "USPS PRIORITY", "9400100000000000000001",
                       lines={1: D("1")})
    second = ship_order(sage500_db.engine, "113-3000000-0000002", "BEST WAY", "", lines={1: D("1"), 2: D("1")})
    got = {s.shipment_no: s for s in target.unpushed_shipments() if s.shipment.customer_order_ref == "113-3000000-0000002"}
    assert set(got) == {first, second}
    assert [(ln.line_no, ln.quantity) for ln in got[first].shipment.lines] == [(1, 1)]
    assert [(ln.line_no, ln.quantity) for ln in got[second].shipment.lines] == [(1, 1), (2, 1)]
    assert got[second].amazon_carrier.carrier_code == "Other" and got[second].amazon_carrier.carrier_name == "Best Way"


def test_fba_shipments_recorded_from_amazon_are_never_pushed_back(sage500_db, target):
    so = mfn_order(target, "113-3000000-0000003", channel="AFN")
    shipment = Shipment("113-3000000-0000003", so, date(2026, 11, 21), carrier="UPS", tracking_number="1ZFBA",
                        lines=(ShipmentLine(1, "NW-KNIFE-MT", D("2")),))
    target.record_shipment(shipment)
    target.record_shipment(shipment)  # idempotent
    with sage500_db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT sh.TrackingNo, sm.ShipMethID, x.QtyShipped FROM tsoShipment sh JOIN tsoShipLine x ON x.ShipKey = sh.ShipKey "
            "JOIN tsoSOLine l ON l.SOLineKey = x.SOLineKey JOIN tsoSalesOrder o ON o.SOKey = l.SOKey "
            "LEFT JOIN tciShipMethod sm ON sm.ShipMethKey = sh.ShipMethKey WHERE o.TranNo = :t"), {"t": so}).all()
        assert rows == [("1ZFBA", "UPS GROUND", D("2"))]
        assert conn.execute(text("SELECT Status FROM tsoSalesOrder WHERE TranNo = :t"), {"t": so}).scalar() == 1
    target.record_shipment(Shipment("113-3000000-0000003", so, date(2026, 11, 22), tracking_number="1ZFBA2"))
    with sage500_db.engine.connect() as conn:
        assert conn.execute(text("SELECT Status FROM tsoSalesOrder WHERE TranNo = :t"), {"t": so}).scalar() == 4
    assert all(s.shipment.customer_order_ref != "113-3000000-0000003" for s in target.unpushed_shipments())


def test_shipment_for_an_order_not_in_sage_is_refused(target):
    with pytest.raises(errors.MalformedRequest):
        target.record_shipment(Shipment("113-0000000-0000000", "", date(2026, 11, 21)))
