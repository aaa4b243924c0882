"""The Sage items flagged for Amazon, with the fields the mapping names and a price per marketplace.

- X3: ITMMASTER where the flag field (the category TCLCOD by default) has one of the flag values, through Syracuse
  api1 REST; the price of each marketplace is the line of its price list (SPRICLIST, PLICRD = the list, PLICRI1 =
  the item) valid on the day asked for (PLISTRDAT <= day <= PLIENDDAT; an empty end date is open-ended; the latest
  start wins). [UNCONFIRMED] the SPRICLIST columns: see the X3 sandbox's tables.py.
- Sage 500: timItem where the flag column has one of the flag values, its ShortDesc, the configured columns and the
  price column (StdPrice) through SQL.

These readers use the connectors' own plumbing (X3Target.rest and its retry; Sage500Target's transaction), as
inventory/stock.py does. Inactive items are not read: they are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sage_amazon.listings.rules import ListingRules


@dataclass(frozen=True)
class SageItem:
    code: str
    title: str
    fields: dict[str, str]  # the mapping's Sage fields: code, title, ean...
    prices: dict[str, Decimal | None] = field(default_factory=dict)  # marketplace -> price (None: none in Sage)


def _price(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def read(target: Any, rules: ListingRules, day: date) -> list[SageItem]:
    if target.name == "x3":
        return _read_x3(target, rules, day)
    if target.name == "sage500":
        return _read_sage500(target, rules)
    raise ValueError(f"unknown Sage target {target.name!r}")


def _read_x3(target: Any, rules: ListingRules, day: date) -> list[SageItem]:
    from sage_amazon.sage.x3.rest import quote_literal

    where = " or ".join(f"{rules.flag_field} eq {quote_literal(v)}" for v in rules.flag_values)
    rows = target._retrying(lambda: list(target.rest.query("ITMMASTER", where=where, order_by="ITMREF")))
    rows = [r for r in rows if str(r.get("ITMSTA", 1)) == "1"]
    prices: dict[str, dict[str, Decimal | None]] = {}
    for mp in rules.marketplaces:
        clause = f"PLICRD eq {quote_literal(mp.price_list)}"
        lines = target._retrying(lambda clause=clause: list(target.rest.query("SPRICLIST", where=clause,
                                                                                order_by="PLICRI1")))
        best: dict[str, tuple[str, Decimal | None]] = {}
        for line in lines:
            start, end = str(line.get("PLISTRDAT") or "")[:10], str(line.get("PLIENDDAT") or "")[:10]
            if (start and start > day.isoformat()) or (end and end < day.isoformat()):
                continue
            item = str(line.get("PLICRI1") or "")
            if item not in best or start > best[item][0]:
                best[item] = (start, _price(line.get("PRI")))
        for item, (_, price) in best.items():
            prices.setdefault(item, {})[mp.marketplace_id] = price
    out = []
    for r in rows:
        code = str(r["ITMREF"])
        title = " ".join(p for p in (str(r.get("ITMDES1") or ""), str(r.get("ITMDES2") or "")) if p).strip()
        fields = {"code": code, "title": title, **{name: str(r.get(col) or "").strip()
                                                   for name, col in rules.fields.items()}}
        out.append(SageItem(code, title, fields, {mp.marketplace_id: prices.get(code, {}).get(mp.marketplace_id)
                                                  for mp in rules.marketplaces}))
    return out


def _read_sage500(target: Any, rules: ListingRules) -> list[SageItem]:
    from sqlalchemy import bindparam, text

    # column names come from listings.yaml, checked as plain identifiers (rules._column)
    extra = sorted({*rules.fields.values(), *(mp.price for mp in rules.marketplaces)})
    columns = "".join(f", i.{c}" for c in extra)
    stmt = text(
        f"SELECT i.ItemID, COALESCE(d.ShortDesc, '') {columns} FROM timItem i"
        " LEFT JOIN timItemDescription d ON d.ItemKey = i.ItemKey AND d.LanguageID = 1033"
        f" WHERE i.CompanyID = :c AND i.Status = 1 AND i.{rules.flag_field} IN :flags ORDER BY i.ItemID"
    ).bindparams(bindparam("flags", expanding=True))
    with target._tx() as conn:
        result = conn.execute(stmt, {"c": target.company_id, "flags": list(rules.flag_values)}).fetchall()
    out = []
    for row in result:
        code, title, values = str(row[0]), str(row[1]).strip(), dict(zip(extra, row[2:], strict=True))
        fields = {"code": code, "title": title, **{name: str(values.get(col) or "").strip()
                                                   for name, col in rules.fields.items()}}
        out.append(SageItem(code, title, fields, {mp.marketplace_id: _price(values.get(mp.price))
                                                  for mp in rules.marketplaces}))
    return out


# ------------------------------------------------------------------------------------------ warehouse

TABLE = "raw.sage_listing_items"
DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    item VARCHAR NOT NULL, marketplace_id VARCHAR NOT NULL, title VARCHAR NOT NULL, fields_json VARCHAR NOT NULL,
    price DECIMAL(18,2), sage_target VARCHAR NOT NULL, read_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (item, marketplace_id))"""


def store(con: Any, items: list[SageItem], sage_target: str, now: Any) -> int:
    """Replace the flagged items read last (an item no longer flagged drops out)."""
    import json

    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(DDL)
    con.execute(f"DELETE FROM {TABLE}")
    rows = [[i.code, mp, i.title, json.dumps(i.fields, sort_keys=True), price, sage_target, now]
            for i in items for mp, price in sorted(i.prices.items())]
    if rows:
        con.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return len(items)


def load(con: Any) -> list[SageItem]:
    import json

    from sage_amazon.warehouse import table_exists

    if not table_exists(con, TABLE):
        return []
    items: dict[str, SageItem] = {}
    for code, mp, title, fields_json, price in con.execute(
            f"SELECT item, marketplace_id, title, fields_json, price FROM {TABLE} ORDER BY item, marketplace_id"
    ).fetchall():
        item = items.setdefault(code, SageItem(code, title, json.loads(fields_json), {}))
        item.prices[mp] = Decimal(price) if price is not None else None
    return list(items.values())
