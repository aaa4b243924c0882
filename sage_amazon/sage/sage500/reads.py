"""Reads of Sage 500: available stock per warehouse and the item master."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, text

from sage_amazon.sage import errors as e
from sage_amazon.sage.protocol import (
    Address,
    ChannelOrder,
    ChannelOrderLine,
    Item,
    StockLevel,
)

from .base import Sage500Base, _retried

log = logging.getLogger(__name__)


class Reads(Sage500Base):
    """Stock and items."""

    # -- reads ----------------------------------------------------------------------------------------
    @_retried
    def company_currency(self, site: str = "") -> str | None:
        """tsmCompany.CurrID of the connection's company (Sage 500 posts to that company whatever the site)."""
        with self._tx() as conn:
            row = conn.execute(text("SELECT CurrID FROM tsmCompany WHERE CompanyID = :c"),
                               {"c": self.company_id}).first()
        return row[0] if row and row[0] else None

    @_retried
    def first_open_day(self, site: str, day: date) -> date | None:
        """The first day on or after `day` in an open fiscal period of the connection's company (tglFiscalPeriod
        Status 1 = open, 2 = closed): `day` itself while its period is open, else the start of the next open
        period; None when no open period follows (the posting is then refused as Sage refuses it)."""
        with self._tx() as conn:
            found = conn.execute(text(
                "SELECT StartDate FROM tglFiscalPeriod WHERE CompanyID = :c AND EndDate >= :d AND Status = 1 "
                "ORDER BY StartDate"), {"c": self.company_id, "d": day}).first()
        if found is None:
            return None
        start = found[0] if isinstance(found[0], date) else date.fromisoformat(str(found[0])[:10])
        return max(day, start)

    @_retried
    def exchange_rates(self, company_currency: str) -> dict[str, list[tuple[date, Decimal]]]:
        """tmcCurrExchRate (schedule 1): currency -> [(effective day, rate to the home currency)], ascending."""
        with self._tx() as conn:
            rows = conn.execute(text("SELECT CurrID, EffectiveDate, CurrExchRate FROM tmcCurrExchRate "
                                     "WHERE CurrExchSchdKey = 1 AND CurrID <> :home ORDER BY CurrID, EffectiveDate"),
                                {"home": company_currency}).all()
        out: dict[str, list[tuple[date, Decimal]]] = {}
        for cur, day, rate in rows:
            out.setdefault(str(cur).strip(), []).append((day, Decimal(str(rate))))
        return out

    @_retried
    def read_stock(self, site: str, items: Sequence[str] | None = None) -> list[StockLevel]:
        with self._tx() as conn:
            if conn.execute(text("SELECT 1 FROM timWarehouse WHERE CompanyID = :c AND WhseID = :w"),
                            {"c": self.company_id, "w": site}).first() is None:
                raise e.UnknownSite(f"Invalid Warehouse ID '{site}'", refused=f"stock of {site}")
            # available = on hand in the warehouse's bins - quantity committed to sales orders
            sql = ("SELECT i.ItemID, SUM(bi.QtyOnHand) - COALESCE(MAX(inv.QtyOnSO), 0) FROM timWhseBinInvt bi "
                   "JOIN timWhseBin b ON b.WhseBinKey = bi.WhseBinKey JOIN timWarehouse w ON w.WhseKey = b.WhseKey "
                   "JOIN timItem i ON i.ItemKey = bi.ItemKey "
                   "LEFT JOIN timInventory inv ON inv.WhseKey = w.WhseKey AND inv.ItemKey = i.ItemKey "
                   "WHERE w.CompanyID = :c AND w.WhseID = :w")
            params: dict[str, Any] = {"c": self.company_id, "w": site}
            stmt = text(sql + " GROUP BY i.ItemID ORDER BY i.ItemID")
            if items is not None:
                stmt = text(sql + " AND i.ItemID IN :i GROUP BY i.ItemID ORDER BY i.ItemID").bindparams(
                    bindparam("i", expanding=True))
                params["i"] = list(items) or [""]
            return [StockLevel(site, item, Decimal(qty)) for item, qty in conn.execute(stmt, params)]

    @_retried
    def read_items(self) -> list[Item]:
        with self._tx() as conn:
            rows = conn.execute(text(
                "SELECT i.ItemID, d.ShortDesc, u.UnitMeasID, i.Status FROM timItem i "
                "LEFT JOIN timItemDescription d ON d.ItemKey = i.ItemKey AND d.LanguageID = 1033 "
                "LEFT JOIN tciUnitMeasure u ON u.UnitMeasKey = i.SalesUnitMeasKey "
                "WHERE i.CompanyID = :c AND i.Status <> 4 ORDER BY i.ItemID"), {"c": self.company_id}).all()
        return [Item(code, desc or "", unit or "EA", active=status == 1) for code, desc, unit, status in rows]

    @_retried
    def read_channel_orders(self, customer_classes: Sequence[str] = (), order_sources: Sequence[str] = (),
                            since: date | None = None, source_field: str = "UserFld4") -> list[ChannelOrder]:
        """Sales orders of other channels: the customer's class (tarCustClass.CustClassID) in `customer_classes` or
        the order's source in `order_sources` (a user field of tsoSalesOrder, `source_field`: Sage 500 has no
        order source column [UNCONFIRMED which user field a site uses]). Status 1 open, 3 canceled, 4 closed."""
        if not customer_classes and not order_sources:
            return []
        if source_field not in ("UserFld1", "UserFld2", "UserFld3", "UserFld4"):
            raise e.SageConfigurationError(f"order source field must be UserFld1..4, got {source_field!r}")
        sql = ("SELECT so.SOKey, so.TranNo, so.TranDate, so.Status, so.CustPONo, c.CustID, k.CustClassID, "
               f"so.{source_field}, a.AddrName, a.AddrLine1, a.AddrLine2, a.AddrLine3, a.City, a.StateID, a.PostalCode, "
               "a.CountryID, a.Phone, (SELECT string_agg(sh.TrackingNo, ' ') FROM tsoShipment sh WHERE sh.ShipKey IN "
               "(SELECT x.ShipKey FROM tsoShipLine x JOIN tsoSOLine l ON l.SOLineKey = x.SOLineKey "
               "WHERE l.SOKey = so.SOKey)) "
               "FROM tsoSalesOrder so JOIN tarCustomer c ON c.CustKey = so.CustKey "
               "LEFT JOIN tarCustClass k ON k.CustClassKey = c.CustClassKey "
               "LEFT JOIN tciAddress a ON a.AddrKey = COALESCE(so.DfltShipToAddrKey, c.DfltShipToAddrKey) "
               f"WHERE so.CompanyID = :c AND so.TranType = 801 AND (k.CustClassID IN :classes OR so.{source_field} IN "
               ":sources)" + (" AND so.TranDate >= :since" if since is not None else "") + " ORDER BY so.TranNo")
        stmt = text(sql).bindparams(bindparam("classes", expanding=True), bindparam("sources", expanding=True))
        params: dict[str, Any] = {"c": self.company_id, "classes": list(customer_classes) or [""],
                                  "sources": list(order_sources) or [""], "since": since}
        with self._tx() as conn:
            heads = conn.execute(stmt, params).all()
            keys = [h[0] for h in heads] or [0]
            rows = conn.execute(text(
                "SELECT sl.SOKey, sl.SOLineNo, i.ItemID, SUM(d.QtyOrd), SUM(d.QtyShip) FROM tsoSOLine sl "
                "JOIN tsoSOLineDist d ON d.SOLineKey = sl.SOLineKey LEFT JOIN timItem i ON i.ItemKey = sl.ItemKey "
                "WHERE sl.SOKey IN :k GROUP BY sl.SOKey, sl.SOLineNo, i.ItemID ORDER BY sl.SOKey, sl.SOLineNo"
            ).bindparams(bindparam("k", expanding=True)), {"k": keys}).all()
        lines: dict[int, list[ChannelOrderLine]] = {}
        for so_key, line_no, item, qty, shipped in rows:
            lines.setdefault(so_key, []).append(ChannelOrderLine(int(line_no), str(item or ""), Decimal(qty),
                                                                 Decimal(shipped)))
        statuses = {1: "open", 3: "cancelled", 4: "closed"}
        out = []
        for h in heads:
            channel = f"CustClass {h[6]}" if h[6] in customer_classes else f"{source_field} {h[7]}"
            ship_to = Address(name=h[8] or "", lines=tuple(x for x in (h[9], h[10], h[11]) if x), city=h[12] or "",
                              state=h[13] or "", postal_code=h[14] or "", country=h[15] or "", phone=h[16] or "")
            out.append(ChannelOrder(sage_number=h[1], order_date=h[2], channel=channel,
                                    status=statuses.get(int(h[3]), "other"), lines=tuple(lines.get(h[0], [])),
                                    ship_to=ship_to, customer=h[5], customer_order_ref=h[4] or "",
                                    tracking=tuple((h[17] or "").split())))
        return out
