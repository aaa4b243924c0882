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
