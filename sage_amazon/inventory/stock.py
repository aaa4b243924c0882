"""Sage stock per site and item: physical, allocated, available, and the unit cost that values a discrepancy.

- X3: the STOCK lines (QTYSTU of status A = physical) and the ITMMVT totals (PHYALL = allocated, AVC = average
  cost) through Syracuse api1 REST ($query with where=STOFCY eq '...', following $links.$next);
- Sage 500: on hand in the warehouse's bins (timWhseBinInvt), committed to sales orders (timInventory.QtyOnSO),
  standard cost (timItem.StdUnitCost), through SQL.

These readers use the connectors' own plumbing (X3Target.rest and its retry; Sage500Target's transaction), so
the same budgets, errors and pool apply as to every other Sage call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sage_amazon.sage import errors as sage_errors


@dataclass(frozen=True)
class StockRow:
    site: str
    item: str
    physical: Decimal
    allocated: Decimal
    unit_cost: Decimal
    active: bool = True

    @property
    def available(self) -> Decimal:
        return self.physical - self.allocated


def _dec(value: Any) -> Decimal:
    return Decimal(str(value if value not in (None, "") else 0))


def read(target: Any, sites: Sequence[str], unsellable_bins: Sequence[str] = ("DMG",)) -> list[StockRow]:
    """Physical = what can be sold: X3 status A lines; Sage 500 on hand outside the unsellable bins
    (inventory.yaml sage500_unsellable_bins: damaged returns are kept there)."""
    if target.name == "x3":
        return _read_x3(target, sites)
    if target.name == "sage500":
        return _read_sage500(target, sites, tuple(unsellable_bins))
    raise ValueError(f"unknown Sage target {target.name!r}")


def _read_x3(target: Any, sites: Sequence[str]) -> list[StockRow]:
    from sage_amazon.sage.x3.rest import quote_literal

    rows: list[StockRow] = []
    for site in sites:
        where = f"STOFCY eq {quote_literal(site)}"
        lines = target._retrying(lambda where=where: list(target.rest.query("STOCK", where=where,
                                                                               order_by="STOCOU")))
        totals = target._retrying(lambda where=where: list(target.rest.query("ITMMVT", where=where,
                                                                                order_by="ITMREF")))
        physical: dict[str, Decimal] = {}
        for line in lines:
            if str(line.get("STA", "A")).strip() == "A":
                physical[line["ITMREF"]] = physical.get(line["ITMREF"], Decimal(0)) + _dec(line.get("QTYSTU"))
        by_item = {t["ITMREF"]: t for t in totals}
        for item in sorted(set(physical) | set(by_item)):
            total = by_item.get(item, {})
            rows.append(StockRow(site, item, physical.get(item, Decimal(0)), _dec(total.get("PHYALL")),
                                 _dec(total.get("AVC"))))
    return rows


def _read_sage500(target: Any, sites: Sequence[str], unsellable_bins: tuple[str, ...]) -> list[StockRow]:
    from sqlalchemy import bindparam, text

    rows: list[StockRow] = []
    with target._tx() as conn:
        for site in sites:
            if conn.execute(text("SELECT 1 FROM timWarehouse WHERE CompanyID = :c AND WhseID = :w"),
                            {"c": target.company_id, "w": site}).first() is None:
                raise sage_errors.UnknownSite(f"Invalid Warehouse ID '{site}'", refused=f"stock of {site}")
            stmt = text(
                "SELECT i.ItemID, COALESCE(SUM(bi.QtyOnHand), 0), COALESCE(MAX(inv.QtyOnSO), 0), i.StdUnitCost,"
                " i.Status FROM timItem i JOIN timWarehouse w ON w.CompanyID = i.CompanyID AND w.WhseID = :w"
                " LEFT JOIN timWhseBin b ON b.WhseKey = w.WhseKey AND b.WhseBinID NOT IN :bins"
                " LEFT JOIN timWhseBinInvt bi ON bi.WhseBinKey = b.WhseBinKey AND bi.ItemKey = i.ItemKey"
                " LEFT JOIN timInventory inv ON inv.WhseKey = w.WhseKey AND inv.ItemKey = i.ItemKey"
                " WHERE i.CompanyID = :c AND i.Status <> 4 AND (bi.ItemKey IS NOT NULL OR inv.ItemKey IS NOT NULL)"
                " GROUP BY i.ItemID, i.StdUnitCost, i.Status ORDER BY i.ItemID"
            ).bindparams(bindparam("bins", expanding=True))
            result = conn.execute(stmt, {"c": target.company_id, "w": site, "bins": list(unsellable_bins) or [""]})
            for item, on_hand, on_so, cost, status in result:
                rows.append(StockRow(site, item, _dec(on_hand), _dec(on_so), _dec(cost), active=status == 1))
    return rows
