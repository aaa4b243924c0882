"""Syracuse api1 REST reads: /api1/x3/erp/{FOLDER}/{CLASS}?representation={REP}.$query|$details."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlencode

from sqlalchemy import Connection, and_, func, not_, or_, select

from . import tables as t

CLASSES = {
    # class: (header table, key columns, child collection name, child table, join columns)
    "SORDER": (t.SORDER, ("SOHNUM",), "SOHSOQ", t.SORDERQ, ("SOHNUM",)),
    "BPCUSTOMER": (t.BPCUSTOMER, ("BPCNUM",), None, None, ()),
    "ITMMASTER": (t.ITMMASTER, ("ITMREF",), None, None, ()),
    "ITMMVT": (t.ITMMVT, ("STOFCY", "ITMREF"), None, None, ()),
    "SPRICLIST": (t.SPRICLIST, ("PLICRD", "PLICRI1", "PLISTRDAT"), None, None, ()),
    "STOCK": (t.STOCK, ("STOFCY", "STOCOU"), None, None, ()),
    "STOJOU": (t.STOJOU, ("STOFCY", "VCRNUM", "VCRLIN"), None, None, ()),
    "SINVOICE": (t.SINVOICE, ("NUM",), "SIHSID", t.SINVOICED, ("NUM",)),
    "GACCENTRY": (t.GACCENTRY, ("TYP", "NUM"), "GACCENTRYD", t.GACCENTRYD, ("TYP", "NUM")),
    "FACILITY": (t.FACILITY, ("FCY",), None, None, ()),
    "COMPANY": (t.COMPANY, ("CPY",), None, None, ()),
    "TABCHANGE": (t.TABCHANGE, ("CUR", "CURDEN", "CHGTYP", "CHGSTRDAT"), None, None, ()),
    "PERIOD": (t.PERIOD, ("CPY", "FIY", "PER"), None, None, ()),
}
DEFAULT_COUNT = 20
MAX_COUNT = 1000


class RestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def diagnoses(message: str) -> dict:
    return {"$diagnoses": [{"$severity": "error", "$message": message}]}


def resource(row, table) -> dict:
    """Physical row -> api1 properties (NAME_0 -> NAME; dimensioned fields -> arrays)."""
    out: dict = {"$uuid": row._mapping.get("AUUID_0", "")}
    grouped: dict[str, list] = {}
    for col, value in row._mapping.items():
        base, _, idx = col.rpartition("_")
        if col == "ROWID" or not idx.isdigit() or base in ("AUUID",):
            continue
        grouped.setdefault(base, []).append(_value(value))
    for name, values in grouped.items():
        out[name] = values[0] if len(values) == 1 else values
    return out


def _value(value):
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return "" if value == t.NO_DATE else value.isoformat()
    return value


# ---------------------------------------------------------------- where= (SData filter subset)

TOKEN = re.compile(r"\s*(?:(\()|(\))|(,)|('(?:[^']|'')*')|(@[0-9-]+@)|(-?\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*))")


def _tokens(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = TOKEN.match(text, pos)
        if not m:
            raise RestError(400, f"where: cannot parse near {text[pos:pos + 20]!r}")
        kinds = ("(", ")", ",", "str", "date", "num", "name")
        kind = next(k for k, g in zip(kinds, m.groups(), strict=True) if g is not None)
        out.append((kind, m.group(m.lastindex)))
        pos = m.end()
    return out


class _Where:
    OPS = {"eq", "ne", "lt", "le", "gt", "ge", "like"}

    def __init__(self, table, text: str) -> None:
        self.table, self.toks, self.pos = table, _tokens(text), 0

    def parse(self):
        expr = self._or()
        if self.pos != len(self.toks):
            raise RestError(400, f"where: unexpected {self.toks[self.pos][1]!r}")
        return expr

    def _peek(self):
        return self.toks[self.pos] if self.pos < len(self.toks) else (None, None)

    def _take(self):
        tok = self._peek()
        self.pos += 1
        return tok

    def _or(self):
        parts = [self._and()]
        while self._peek()[1] in ("or",):
            self._take()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else or_(*parts)

    def _and(self):
        parts = [self._not()]
        while self._peek()[1] in ("and",):
            self._take()
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else and_(*parts)

    def _not(self):
        if self._peek()[1] == "not":
            self._take()
            return not_(self._not())
        return self._atom()

    def _atom(self):
        kind, val = self._take()
        if kind == "(":
            expr = self._or()
            if self._take()[0] != ")":
                raise RestError(400, "where: missing )")
            return expr
        if kind != "name":
            raise RestError(400, f"where: property expected, got {val!r}")
        if val == "left":
            self._expect("(")
            col = self._column(self._take()[1])
            self._expect(",")
            n = int(self._take()[1])
            self._expect(")")
            lhs = func.substr(col, 1, n)
        else:
            col = lhs = self._column(val)
        op = self._take()[1]
        if op not in self.OPS:
            raise RestError(400, f"where: operator expected after {val}, got {op!r}")
        rhs = self._literal(col)
        return {"eq": lhs == rhs, "ne": lhs != rhs, "lt": lhs < rhs, "le": lhs <= rhs, "gt": lhs > rhs,
                "ge": lhs >= rhs, "like": lhs.like(rhs)}[op]

    def _expect(self, kind: str) -> None:
        if self._take()[0] != kind:
            raise RestError(400, f"where: {kind} expected")

    def _column(self, name: str):
        col = self.table.c.get(f"{name}_0")
        if col is None:
            raise RestError(400, f"where: unknown property {name}")
        return col

    def _literal(self, col):
        kind, val = self._take()
        if kind == "str":
            text = val[1:-1].replace("''", "'")
            if isinstance(col.type, t.Date):
                return date.fromisoformat(text[:10])
            return text
        if kind == "date":
            return date.fromisoformat(val.strip("@")[:10])
        if kind == "num":
            return Decimal(val) if not isinstance(col.type, t.Integer) else int(val)
        raise RestError(400, f"where: literal expected, got {val!r}")


def query(conn: Connection, cls: str, params: dict, base_url: str) -> dict:
    table, keys, *_ = CLASSES[cls]
    stmt = select(table)
    where = params.get("where", "")
    if where:
        stmt = stmt.where(_Where(table, where).parse())
    for part in [p.strip() for p in params.get("orderBy", "").split(",") if p.strip()]:
        name, _, direction = part.partition(" ")
        col = table.c.get(f"{name}_0")
        if col is None:
            raise RestError(400, f"orderBy: unknown property {name}")
        stmt = stmt.order_by(col.desc() if direction.strip().lower() == "desc" else col.asc())
    stmt = stmt.order_by(*(table.c[f"{k}_0"] for k in keys))
    key_cursor = params.get("key", "")
    if key_cursor:  # key=gt.<value> / lt.<value>: keyset paging on a single-column key
        op, _, value = key_cursor.partition(".")
        if len(keys) != 1 or op not in ("gt", "lt", "ge", "le"):
            raise RestError(400, f"key: expected gt.<{keys[0]}> on a single-key class")
        col = table.c[f"{keys[0]}_0"]
        stmt = stmt.where({"gt": col > value, "lt": col < value, "ge": col >= value, "le": col <= value}[op])
    try:
        count = min(int(params.get("count", DEFAULT_COUNT)), MAX_COUNT)
        # [UNCONFIRMED] startIndex (1-based, SData) as the paging cursor of $links.$next
        start = max(int(params.get("startIndex", 1)), 1)
    except ValueError as exc:
        raise RestError(400, "count and startIndex must be integers") from exc
    rows = conn.execute(stmt.offset(start - 1).limit(count + 1)).all()
    more = len(rows) > count
    first = {**params, "count": str(count)}
    first.pop("startIndex", None)
    links: dict = {"$first": {"$url": f"{base_url}?{urlencode(first)}"}}
    if more:
        nxt = {**params, "count": str(count), "startIndex": str(start + count)}
        links["$next"] = {"$url": f"{base_url}?{urlencode(nxt)}", "$type": "application/json; vnd.sage=syracuse"}
    if start > 1:
        prev = {**params, "count": str(count), "startIndex": str(max(start - count, 1))}
        links["$previous"] = {"$url": f"{base_url}?{urlencode(prev)}"}
    return {"$itemsPerPage": count, "$startIndex": start, "$resources": [resource(r, table) for r in rows[:count]],
            "$links": links}


def details(conn: Connection, cls: str, key_text: str) -> dict:
    table, keys, child_name, child, join = CLASSES[cls]
    values = key_text.split("~")
    if len(values) != len(keys):
        raise RestError(400, f"{cls} key is {'~'.join(keys)}")
    cond = [table.c[f"{k}_0"] == (int(v) if isinstance(table.c[f"{k}_0"].type, t.Integer) else v)
            for k, v in zip(keys, values, strict=True)]
    row = conn.execute(select(table).where(*cond)).first()
    if row is None:
        raise RestError(404, "721 : Record does not exist")
    out = resource(row, table)
    if child is not None:
        ccond = [child.c[f"{k}_0"] == row._mapping[f"{k}_0"] for k in join]
        if cls == "SORDER":
            stmt = (select(child, t.SORDERP.c.GROPRI_0, t.SORDERP.c.NETPRI_0, t.SORDERP.c.ITMDES_0,
                           t.SORDERP.c.YAMZITMID_0, t.SORDERP.c.SAU_0)
                    .join(t.SORDERP, and_(t.SORDERP.c.SOHNUM_0 == child.c.SOHNUM_0,
                                          t.SORDERP.c.SOPLIN_0 == child.c.SOPLIN_0)))
        else:
            stmt = select(child)
        out[child_name] = [resource(r, child) for r in conn.execute(stmt.where(*ccond).order_by(child.c.ROWID))]
    return out
