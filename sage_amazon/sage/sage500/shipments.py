"""Shipments on Sage 500: FBA shipments recorded on the sales order (tsoShipment / tsoShipLine), and the
merchant-fulfilled shipments Sage processed, offered once to Amazon (xamzshipmentpush)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text

from sage_amazon.sage import errors as e
from sage_amazon.sage.protocol import (
    Shipment,
    ShipmentLine,
)

from .base import Sage500Base, _retried
from .rules import AmazonCarrier

_PUSH_TABLE_LOCK = threading.Lock()

log = logging.getLogger(__name__)


@dataclass(frozen=True)


class SageShipment:
    """A shipment processed in Sage 500 for an Amazon order, not yet confirmed to Amazon."""

    shipment_no: str  # tsoShipment.TranNo: pass it to mark_shipments_pushed
    shipment: Shipment  # customer_order_ref = AmazonOrderId, carrier = Sage ShipMethID
    amazon_carrier: AmazonCarrier
    order_item_ids: Mapping[int, str]  # SOLineNo -> Amazon OrderItemId (tsoSOLine.UserFld1)


class Shipments(Sage500Base):
    """Shipments both ways: FBA shipments recorded in Sage; Sage's MFN shipments offered to Amazon."""

    # -- shipments ------------------------------------------------------------------------------------
    @_retried
    def record_shipment(self, shipment: Shipment) -> None:
        """Record an Amazon-side shipment (FBA) in Sage: tsoShipment / tsoShipLine, shipped quantities,
        lines and order closed when complete. Idempotent on (order, tracking number, ship date); such
        shipments are marked as already known to Amazon so they are never pushed back."""
        self._ensure_push_table()
        with self._tx() as conn:
            so = conn.execute(text(
                "SELECT SOKey, TranNo, CustKey, DfltWhseKey FROM tsoSalesOrder WHERE CompanyID = :c AND TranType = 801 "
                "AND (CustPONo = :po OR TranNo = :no) ORDER BY SOKey"),
                {"c": self.company_id, "po": shipment.customer_order_ref, "no": shipment.sage_number}).first()
            if so is None:  # e.g. the order was refused and sits in the dead letters
                raise e.MalformedRequest("no Sage 500 sales order for this shipment",
                                         refused=f"shipment of {shipment.customer_order_ref}")
            so_key, _, cust_key, whse_key = so
            if conn.execute(text(
                    "SELECT 1 FROM tsoShipment sh WHERE sh.CompanyID = :c AND sh.ShipDate = :d "
                    "AND COALESCE(sh.TrackingNo, '') = :trk AND EXISTS (SELECT 1 FROM tsoShipLine x "
                    "JOIN tsoSOLine sl ON sl.SOLineKey = x.SOLineKey WHERE x.ShipKey = sh.ShipKey AND sl.SOKey = :so)"),
                    {"c": self.company_id, "d": shipment.ship_date, "trk": shipment.tracking_number,
                     "so": so_key}).first():
                return
            open_lines = conn.execute(text(
                "SELECT sl.SOLineKey, sl.SOLineNo, sl.ItemKey, d.SOLineDistKey, d.QtyOrd - d.QtyShip AS OpenQty "
                "FROM tsoSOLine sl JOIN tsoSOLineDist d ON d.SOLineKey = sl.SOLineKey "
                "WHERE sl.SOKey = :so AND d.QtyOrd > d.QtyShip ORDER BY sl.SOLineNo"), {"so": so_key}).all()
            wanted = {ln.line_no: ln.quantity for ln in shipment.lines}
            ship_lines = [(r, min(r[4], wanted.get(r[1], r[4]))) for r in open_lines if not wanted or r[1] in wanted]
            ship_lines = [(r, q) for r, q in ship_lines if q > 0]
            if not ship_lines:
                return  # everything already shipped
            meth = self.rules.sage_ship_method(shipment.carrier)
            meth_key = conn.execute(text("SELECT ShipMethKey FROM tciShipMethod WHERE CompanyID = :c AND ShipMethID = :m"),
                                    {"c": self.company_id, "m": meth}).scalar() if meth else None
            tran_no = f"{self._next_keys(conn, 'tsoShipment'):010d}"
            conn.execute(text(
                "INSERT INTO tsoShipment (CompanyID, TranNo, TranID, TranType, CustKey, ShipDate, ShipMethKey, WhseKey, "
                "TrackingNo, CreateUserID) VALUES (:c, :t, :tid, 810, :cust, :d, :m, :w, :trk, :u)"),
                {"c": self.company_id, "t": tran_no, "tid": f"{tran_no}-SH", "cust": cust_key, "d": shipment.ship_date,
                 "m": meth_key, "w": whse_key, "trk": shipment.tracking_number or None, "u": self.user_id})
            ship_key = conn.execute(text("SELECT ShipKey FROM tsoShipment WHERE CompanyID = :c AND TranType = 810 "
                                         "AND TranNo = :t"), {"c": self.company_id, "t": tran_no}).scalar_one()
            for r, qty in ship_lines:
                conn.execute(text("INSERT INTO tsoShipLine (ShipKey, SOLineKey, ItemKey, QtyShipped) "
                                  "VALUES (:k, :l, :i, :q)"), {"k": ship_key, "l": r[0], "i": r[2], "q": qty})
                conn.execute(text(
                    "UPDATE tsoSOLineDist SET QtyShip = QtyShip + :q, ShipDate = :d, "
                    "Status = CASE WHEN QtyShip + :q >= QtyOrd THEN 2 ELSE Status END WHERE SOLineDistKey = :k"),
                    {"q": qty, "d": shipment.ship_date, "k": r[3]})
            conn.execute(text(
                "UPDATE tsoSOLine SET Status = 2 WHERE SOKey = :so AND NOT EXISTS (SELECT 1 FROM tsoSOLineDist d "
                "WHERE d.SOLineKey = tsoSOLine.SOLineKey AND d.QtyShip < d.QtyOrd)"), {"so": so_key})
            conn.execute(text(
                "UPDATE tsoSalesOrder SET Status = 4, OpenAmt = 0 WHERE SOKey = :so AND Status IN (1, 4, 6) "
                "AND NOT EXISTS (SELECT 1 FROM tsoSOLine sl WHERE sl.SOKey = :so AND sl.Status = 1)"), {"so": so_key})
            conn.execute(text("INSERT INTO xamzshipmentpush (shipkey, pushed, source, reference) "
                              "VALUES (:k, CURRENT_TIMESTAMP, 'AMAZON', :r)"),
                         {"k": ship_key, "r": shipment.customer_order_ref[:50]})

    @_retried
    def unpushed_shipments(self, limit: int | None = None) -> list[SageShipment]:
        """Shipments processed in Sage for Amazon orders (not FBA) that Amazon has not been told about."""
        self._ensure_push_table()
        with self._tx() as conn:
            rows = conn.execute(text(
                "SELECT sh.ShipKey, sh.TranNo, sh.ShipDate, sh.TrackingNo, sm.ShipMethID, so.CustPONo, so.TranNo, "
                "sl.SOLineNo, i.ItemID, x.QtyShipped, sl.UserFld1 "
                "FROM tsoShipment sh JOIN tsoShipLine x ON x.ShipKey = sh.ShipKey "
                "JOIN tsoSOLine sl ON sl.SOLineKey = x.SOLineKey JOIN tsoSalesOrder so ON so.SOKey = sl.SOKey "
                "LEFT JOIN tciShipMethod sm ON sm.ShipMethKey = sh.ShipMethKey LEFT JOIN timItem i ON i.ItemKey = x.ItemKey "
                "WHERE sh.CompanyID = :c AND so.UserFld2 = :marker AND COALESCE(so.UserFld1, '') <> 'AFN' "
                "AND NOT EXISTS (SELECT 1 FROM xamzshipmentpush p WHERE p.shipkey = sh.ShipKey) "
                "ORDER BY sh.ShipKey, sl.SOLineNo"), {"c": self.company_id, "marker": self.rules.marker}).all()
        grouped: dict[int, list] = {}
        for row in rows:
            grouped.setdefault(row[0], []).append(row)
        out: list[SageShipment] = []
        for group in grouped.values():
            _, ship_no, ship_date, tracking, meth, po, so_no = group[0][:7]
            shipment = Shipment(customer_order_ref=po, sage_number=so_no, ship_date=ship_date, carrier=meth or "",
                                tracking_number=tracking or "",
                                lines=tuple(ShipmentLine(r[7], r[8], Decimal(r[9])) for r in group))
            out.append(SageShipment(ship_no, shipment, self.rules.amazon_carrier(meth or ""),
                                    {r[7]: r[10] or "" for r in group}))
            if limit and len(out) >= limit:
                break
        return out

    @_retried
    def mark_shipments_pushed(self, shipment_nos: Sequence[str], reference: str = "") -> int:
        """Record that Amazon confirmed these shipments (tsoShipment.TranNo); returns how many were new."""
        self._ensure_push_table()
        done = 0
        with self._tx() as conn:
            for ship_no in shipment_nos:
                done += conn.execute(text(
                    "INSERT INTO xamzshipmentpush (shipkey, pushed, source, reference) "
                    "SELECT sh.ShipKey, CURRENT_TIMESTAMP, 'SAGE', :r FROM tsoShipment sh WHERE sh.CompanyID = :c "
                    "AND sh.TranType = 810 AND sh.TranNo = :t "
                    "AND NOT EXISTS (SELECT 1 FROM xamzshipmentpush p WHERE p.shipkey = sh.ShipKey)"),
                    {"c": self.company_id, "t": ship_no, "r": reference[:50] or None}).rowcount
        return done

    def _ensure_push_table(self) -> None:
        """The integration's own table (not Sage's): which Sage shipments Amazon already knows."""
        if self._push_table_ready:
            return
        from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

        table = Table("xamzshipmentpush", MetaData(), Column("shipkey", Integer, primary_key=True, autoincrement=False),
                      Column("pushed", DateTime, nullable=False), Column("source", String(10), nullable=False),
                      Column("reference", String(50)))
        # the load posts shipments from several threads: one creates the table, the others wait for it
        # (two concurrent CREATE TABLEs fail in PostgreSQL with "relation already exists")
        with _PUSH_TABLE_LOCK:
            if self._push_table_ready:
                return
            with self._tx() as conn:
                table.create(conn, checkfirst=True)
            self._push_table_ready = True
