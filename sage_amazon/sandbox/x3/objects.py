"""Business rules of the published objects (SOH, BPC, ITM, SIH, GAS) over X3's physical tables.

Every refusal raises `Refused` with an X3-style message "FIELD : value : reason", which the SOAP
layer answers as status 0 with a type-3 message.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Connection, Table, and_, delete, func, insert, select, update

from . import tables as t
from .layouts import Publication
from .objxml import ObjectData, Refused, parse_date, parse_decimal

CENT = Decimal("0.01")
SOH_QUERY_FIELDS = ("SOHNUM", "SALFCY", "SOHTYP", "BPCORD", "ORDDAT", "CUSORDREF", "CUR", "ORDSTA", "DLVSTA")
INVOICE_TYPES = {"INV": (1, 1), "CRN": (2, -1)}  # SIVTYP -> (INVTYP local menu, SNS)


def _strip(row) -> dict:
    """Physical row -> dictionary fields (NAME_0 -> NAME, dimensioned NAME_i -> list)."""
    out: dict = {}
    for col, value in row._mapping.items():
        if col == "ROWID" or "_" not in col:
            continue
        base, _, idx = col.rpartition("_")
        if not idx.isdigit():
            continue
        out.setdefault(base, []).append(value)
    return {k: (v[0] if len(v) == 1 else v) for k, v in out.items()}


def _audit(user: str, new: bool = True) -> dict:
    now = datetime.now().replace(microsecond=0)
    vals = {"UPDUSR_0": user[:5], "UPDDATTIM_0": now}
    if new:
        vals.update({"CREUSR_0": user[:5], "CREDATTIM_0": now, "AUUID_0": str(uuid.uuid4())})
    return vals


def _text(data: dict, name: str, default: str = "") -> str:
    value = data.get(name, default)
    if isinstance(value, list):
        value = value[0] if value else ""
    return (value or "").strip() or default


def _int(data: dict, name: str, default: int) -> int:
    text = _text(data, name)
    if not text:
        return default
    if not text.lstrip("-").isdigit():
        raise Refused(f"{name} : {text} : Incorrect value")
    return int(text)


def _exists(conn: Connection, table: Table, **keys) -> dict | None:
    cond = and_(*(table.c[f"{k}_0"] == v for k, v in keys.items()))
    row = conn.execute(select(table).where(cond)).first()
    return _strip(row) if row else None


def _collective(account: dict) -> bool:
    return account.get("YCOLLECT") == 2


def _next_number(conn: Connection, counter: str, site: str, period: int) -> int:
    key = and_(t.AVALNUM.c.CODNUM_0 == counter, t.AVALNUM.c.SITE_0 == site, t.AVALNUM.c.PERIODE_0 == period)
    current = conn.execute(select(t.AVALNUM.c.VALEUR_0).where(key)).scalar()
    if current is None:
        conn.execute(insert(t.AVALNUM).values(CODNUM_0=counter, SITE_0=site, PERIODE_0=period, VALEUR_0=1,
                                              **_audit("ADMIN")))
        return 1
    conn.execute(update(t.AVALNUM).where(key).values(VALEUR_0=current + 1))
    return current + 1


def _site(conn: Connection, code: str, field: str, *, sales: bool = False, storage: bool = False) -> dict:
    if not code:
        raise Refused(f"{field} : Mandatory field")
    site = _exists(conn, t.FACILITY, FCY=code)
    if site is None:
        raise Refused(f"{field} : {code} : Record does not exist (site)")
    if sales and site["SALFLG"] != 2:
        raise Refused(f"{field} : {code} : Site is not a sales site")
    if storage and site["STOFLG"] != 2:
        raise Refused(f"{field} : {code} : Site is not a storage site")
    return site


def _customer(conn: Connection, code: str, field: str) -> dict:
    if not code:
        raise Refused(f"{field} : Mandatory field")
    bpc = _exists(conn, t.BPCUSTOMER, BPCNUM=code)
    if bpc is None:
        raise Refused(f"{field} : {code} : Record does not exist (customer)")
    if bpc["BPCSTA"] != 2:
        raise Refused(f"{field} : {code} : Customer not active")
    return bpc


def _item(conn: Connection, code: str, field: str) -> dict:
    if not code:
        raise Refused(f"{field} : Mandatory field")
    itm = _exists(conn, t.ITMMASTER, ITMREF=code)
    if itm is None:
        raise Refused(f"{field} : {code} : Record does not exist (item)")
    if itm["ITMSTA"] != 1:
        raise Refused(f"{field} : {code} : Item not active")
    return itm


def _currency(conn: Connection, code: str) -> None:
    if _exists(conn, t.TABCUR, CUR=code) is None:
        raise Refused(f"CUR : {code} : Record does not exist (currency)")


def _open_period(conn: Connection, company: str, when: date, field: str) -> None:
    row = conn.execute(select(t.PERIOD).where(
        t.PERIOD.c.CPY_0 == company, t.PERIOD.c.PERSTRDAT_0 <= when, t.PERIOD.c.PERENDDAT_0 >= when)).first()
    if row is None or row.PERSTA_0 == t.PERIOD_NOT_OPEN:
        raise Refused(f"{field} : {when:%Y%m%d} : Period not open for company {company}")
    if row.PERSTA_0 == t.PERIOD_CLOSED:
        raise Refused(f"{field} : {when:%Y%m%d} : Period closed for company {company}")


def _criterion(table: Table, name: str, value: str):
    """A query key as a typed equality (keys travel as strings)."""
    col = table.c[f"{name}_0"]
    if isinstance(col.type, t.Integer):
        if not value.lstrip("-").isdigit():
            raise Refused(f"{name} : {value} : Incorrect value")
        return col == int(value)
    if isinstance(col.type, t.Date):
        return col == parse_date(value, name)
    if isinstance(col.type, t.X3Decimal):
        return col == parse_decimal(value, name)
    return col == value


def _key(keys: list[tuple[str, str]], name: str, pub: str) -> str:
    for k, v in keys:
        if k == name:
            return v
    raise Refused(f"{pub} : missing key {name}")


# ---------------------------------------------------------------- SOH (SORDER, SORDERP, SORDERQ)

class SalesOrders:
    def save(self, conn: Connection, pub: Publication, data: ObjectData, user: str) -> str:
        h = data.header
        site = _site(conn, _text(h, "SALFCY"), "SALFCY", sales=True)
        sohtyp = _text(h, "SOHTYP", "SON")
        if _exists(conn, t.TABSOHTYP, SOHTYP=sohtyp) is None:
            raise Refused(f"SOHTYP : {sohtyp} : Record does not exist (order type)")
        bpc = _customer(conn, _text(h, "BPCORD"), "BPCORD")
        bpcinv = _text(h, "BPCINV", bpc["BPCNUM"])
        _customer(conn, bpcinv, "BPCINV")
        cur = _text(h, "CUR", bpc["CUR"])
        _currency(conn, cur)
        orddat = parse_date(_text(h, "ORDDAT"), "ORDDAT")
        if orddat == t.NO_DATE:
            orddat = date.today()
        stofcy = _text(h, "STOFCY", site["FCY"])
        _site(conn, stofcy, "STOFCY", storage=True)
        if not data.lines:
            raise Refused(f"{pub.lines.id} : No lines on the order")
        lines = [self._line(conn, num, values, allow_status=False) for num, values in sorted(data.lines)]
        sohnum = _text(h, "SOHNUM")
        if sohnum:
            if _exists(conn, t.SORDER, SOHNUM=sohnum):
                raise Refused(f"SOHNUM : {sohnum} : Record already exists")
        else:
            seq = _next_number(conn, f"SOH{sohtyp}", site["FCY"], orddat.year)
            sohnum = f"{sohtyp}{site['FCY']}{orddat:%y}{seq:06d}"
        freight = parse_decimal(_text(h, "INVDTAAMT"), "INVDTAAMT")
        ordsta = _int(h, "ORDSTA", 1)
        if ordsta not in (1, 2):
            raise Refused(f"ORDSTA : {ordsta} : Incorrect value (local menu 415)")
        addr = h.get("BPDADDLIG", [])
        addr = addr if isinstance(addr, list) else [addr]
        if len(addr) > 3:
            raise Refused("BPDADDLIG : more than 3 address lines")
        addr = [*(a.strip() for a in addr), "", "", ""][:3]
        total = sum((ln["QTY"] * ln["NETPRI"] for ln in lines), Decimal("0")) + freight
        conn.execute(insert(t.SORDER).values(
            SOHNUM_0=sohnum, SOHTYP_0=sohtyp, SALFCY_0=site["FCY"], STOFCY_0=stofcy, CPY_0=site["LEGCPY"],
            BPCORD_0=bpc["BPCNUM"], BPCINV_0=bpcinv, BPCPYR_0=_text(h, "BPCPYR", bpcinv),
            BPAADD_0=_text(h, "BPAADD", "MAIN"), ORDDAT_0=orddat,
            SHIDAT_0=parse_date(_text(h, "SHIDAT"), "SHIDAT"),
            DEMDLVDAT_0=parse_date(_text(h, "DEMDLVDAT"), "DEMDLVDAT"), CUR_0=cur,
            CUSORDREF_0=_text(h, "CUSORDREF"), ORDSTA_0=ordsta, ALLSTA_0=1, DLVSTA_0=1, INVSTA_0=1,
            BPDNAM_0=_text(h, "BPDNAM")[:35], BPDNAM_1="", BPDADDLIG_0=addr[0], BPDADDLIG_1=addr[1],
            BPDADDLIG_2=addr[2], BPDCTY_0=_text(h, "BPDCTY"), BPDSAT_0=_text(h, "BPDSAT"),
            BPDPOSCOD_0=_text(h, "BPDPOSCOD"), BPDCRY_0=_text(h, "BPDCRY"), BPDTEL_0=_text(h, "BPDTEL"),
            MDL_0=_text(h, "MDL"), BPTNUM_0=_text(h, "BPTNUM"), YTRKNUM_0=_text(h, "YTRKNUM"),
            YFULCHN_0=_text(h, "YFULCHN"), INVDTAAMT_0=freight, ORDNOT_0=total, ORDINVNOT_0=total,
            CLEFLG_0=2 if ordsta == 2 else 1, **_audit(user)))
        for ln in lines:
            self._insert_line(conn, sohnum, site["FCY"], stofcy, bpc["BPCNUM"], orddat, ln,
                              3 if ordsta == 2 else 1, user)
        return sohnum

    def _line(self, conn: Connection, num: int, v: dict, *, allow_status: bool) -> dict:
        itm = _item(conn, _text(v, "ITMREF"), f"ITMREF({num})")
        qty = parse_decimal(_text(v, "QTY"), f"QTY({num})")
        if qty <= 0:
            raise Refused(f"QTY({num}) : {qty} : Value must be greater than 0")
        gropri = parse_decimal(_text(v, "GROPRI"), f"GROPRI({num})")
        disc = parse_decimal(_text(v, "DISCRGVAL1"), f"DISCRGVAL1({num})")
        if gropri < 0 or disc < 0 or disc > gropri:
            raise Refused(f"GROPRI({num}) : {gropri} : Incorrect price or discount")
        soplin = _int(v, "SOPLIN", num * 1000)
        return {"SOPLIN": soplin, "ITMREF": itm["ITMREF"], "ITMDES": (_text(v, "ITMDES") or itm["ITMDES1"])[:30],
                "SAU": _text(v, "SAU", itm["SAU"]), "QTY": qty, "GROPRI": gropri, "DISCRGVAL1": disc,
                # DISCRGVAL1 is an amount per sales unit here ([UNCONFIRMED]: depends on the price
                # structure of the folder; percentages are the other common setup)
                "NETPRI": gropri - disc, "YAMZITMID": _text(v, "YAMZITMID")}

    def _insert_line(self, conn, sohnum, salfcy, stofcy, bpcord, orddat, ln, soqsta, user) -> None:
        conn.execute(insert(t.SORDERP).values(
            SOHNUM_0=sohnum, SOPLIN_0=ln["SOPLIN"], SOPSEQ_0=1, ITMREF_0=ln["ITMREF"], ITMDES_0=ln["ITMDES"],
            SAU_0=ln["SAU"], GROPRI_0=ln["GROPRI"], NETPRI_0=ln["NETPRI"], DISCRGVAL_0=ln["DISCRGVAL1"],
            YAMZITMID_0=ln["YAMZITMID"], **_audit(user)))
        conn.execute(insert(t.SORDERQ).values(
            SOHNUM_0=sohnum, SOPLIN_0=ln["SOPLIN"], SOQSEQ_0=1, ITMREF_0=ln["ITMREF"], SALFCY_0=salfcy,
            STOFCY_0=stofcy, BPCORD_0=bpcord, QTY_0=ln["QTY"], QTYSTU_0=ln["QTY"], DLVQTY_0=Decimal("0"),
            ODLQTY_0=Decimal("0"), DEMDLVDAT_0=orddat, SOQSTA_0=soqsta, **_audit(user)))

    def load(self, conn: Connection, keys: list[tuple[str, str]]) -> tuple[dict, list[dict]]:
        sohnum = _key(keys, "SOHNUM", "SOH")
        head = _exists(conn, t.SORDER, SOHNUM=sohnum)
        if head is None:
            raise Refused(f"SOHNUM : {sohnum} : Record does not exist")
        head["INVDTAAMT"] = head["INVDTAAMT"][0]
        head["BPDNAM"] = head["BPDNAM"][0]
        rows = conn.execute(
            select(t.SORDERP, t.SORDERQ.c.QTY_0, t.SORDERQ.c.DLVQTY_0, t.SORDERQ.c.SOQSTA_0)
            .join(t.SORDERQ, and_(t.SORDERQ.c.SOHNUM_0 == t.SORDERP.c.SOHNUM_0,
                                  t.SORDERQ.c.SOPLIN_0 == t.SORDERP.c.SOPLIN_0))
            .where(t.SORDERP.c.SOHNUM_0 == sohnum).order_by(t.SORDERP.c.SOPLIN_0)).all()
        lines = []
        for r in rows:
            ln = _strip(r)
            ln["DISCRGVAL1"] = ln.pop("DISCRGVAL")[0]
            lines.append(ln)
        return head, lines

    def query(self, conn: Connection, keys: list[tuple[str, str]], size: int) -> list[dict]:
        stmt = select(t.SORDER)
        for k, v in keys:
            if f"{k}_0" not in t.SORDER.c:
                raise Refused(f"{k} : not a selection criterion of SOH")
            stmt = stmt.where(_criterion(t.SORDER, k, v))
        rows = conn.execute(stmt.order_by(t.SORDER.c.SOHNUM_0).limit(size or 20)).all()
        return [_strip(r) for r in rows]

    def modify(self, conn: Connection, pub: Publication, keys, data: ObjectData, user: str) -> str:
        head, lines = self.load(conn, keys)
        sohnum = head["SOHNUM"]
        h = data.header
        for fixed in ("SOHNUM", "SALFCY", "SOHTYP", "BPCORD", "CUR"):
            if fixed in h and _text(h, fixed) and _text(h, fixed) != head[fixed]:
                raise Refused(f"{fixed} : {_text(h, fixed)} : Field cannot be modified")
        if head["ORDSTA"] == 2:
            raise Refused(f"SOHNUM : {sohnum} : Order closed, modification impossible")
        by_soplin = {ln["SOPLIN"]: ln for ln in lines}
        for num, values in sorted(data.lines):
            soplin = _int(values, "SOPLIN", num * 1000)
            line = by_soplin.get(soplin)
            if line is None:
                new = self._line(conn, num, values, allow_status=False)
                self._insert_line(conn, sohnum, head["SALFCY"], head["STOFCY"], head["BPCORD"],
                                  head["ORDDAT"], new, 1, user)
                by_soplin[new["SOPLIN"]] = {**new, "DLVQTY": Decimal("0"), "SOQSTA": 1}
                continue
            changes: dict = {}
            if "DLVQTY" in values:
                dlv = parse_decimal(_text(values, "DLVQTY"), f"DLVQTY({num})")
                if dlv < 0 or dlv > line["QTY"]:
                    raise Refused(f"DLVQTY({num}) : {dlv} : Delivered quantity greater than ordered quantity")
                changes["DLVQTY_0"] = dlv
                line["DLVQTY"] = dlv
            if "SOQSTA" in values:
                soqsta = _int(values, "SOQSTA", line["SOQSTA"])
                if soqsta not in (1, 2, 3):
                    raise Refused(f"SOQSTA({num}) : {soqsta} : Incorrect value")
                changes["SOQSTA_0"] = soqsta
                line["SOQSTA"] = soqsta
            if changes:
                conn.execute(update(t.SORDERQ).where(t.SORDERQ.c.SOHNUM_0 == sohnum,
                                                     t.SORDERQ.c.SOPLIN_0 == soplin)
                             .values(**changes, **_audit(user, new=False)))
        ordsta = _int(h, "ORDSTA", 1)
        if ordsta == 2:
            conn.execute(update(t.SORDERQ).where(t.SORDERQ.c.SOHNUM_0 == sohnum).values(SOQSTA_0=3))
            for ln in by_soplin.values():
                ln["SOQSTA"] = 3
        elif by_soplin and all(ln["SOQSTA"] == 3 for ln in by_soplin.values()):
            ordsta = 2
        delivered = [ln["DLVQTY"] for ln in by_soplin.values()]
        if all(ln["DLVQTY"] >= ln["QTY"] for ln in by_soplin.values()):
            dlvsta = 3
        elif any(d > 0 for d in delivered):
            dlvsta = 2
        else:
            dlvsta = _int(h, "DLVSTA", head["DLVSTA"])
        values = {"ORDSTA_0": ordsta, "DLVSTA_0": dlvsta, "CLEFLG_0": 2 if ordsta == 2 else 1}
        for name in ("MDL", "BPTNUM", "YTRKNUM", "BPDCTY", "BPDSAT", "BPDPOSCOD", "BPDCRY", "BPDTEL"):
            if name in h:
                values[f"{name}_0"] = _text(h, name)
        for name in ("SHIDAT", "DEMDLVDAT"):
            if name in h:
                values[f"{name}_0"] = parse_date(_text(h, name), name)
        conn.execute(update(t.SORDER).where(t.SORDER.c.SOHNUM_0 == sohnum)
                     .values(**values, **_audit(user, new=False)))
        return sohnum

    def delete(self, conn: Connection, keys) -> None:
        head, _ = self.load(conn, keys)
        if head["DLVSTA"] != 1:
            raise Refused(f"SOHNUM : {head['SOHNUM']} : Order delivered, deletion impossible")
        for table in (t.SORDERQ, t.SORDERP, t.SORDER):
            conn.execute(delete(table).where(table.c.SOHNUM_0 == head["SOHNUM"]))


# ---------------------------------------------------------------- simple master data (BPC, ITM)

class MasterData:
    def __init__(self, table: Table, key: str, required: tuple[str, ...], list_fields: tuple[str, ...],
                 defaults: dict) -> None:
        self.table, self.key, self.required, self.list_fields, self.defaults = (
            table, key, required, list_fields, defaults)

    def save(self, conn: Connection, pub: Publication, data: ObjectData, user: str) -> str:
        h = data.header
        code = _text(h, self.key)
        for name in (self.key, *self.required):
            if not _text(h, name):
                raise Refused(f"{name} : Mandatory field")
        if _exists(conn, self.table, **{self.key: code}):
            raise Refused(f"{self.key} : {code} : Record already exists")
        if "CUR" in h:
            _currency(conn, _text(h, "CUR"))
        conn.execute(insert(self.table).values(**self._values(h, self.defaults), **_audit(user)))
        return code

    def _values(self, h: dict, base: dict) -> dict:
        values = dict(base)
        for name in h:
            col = f"{name}_0"
            if col in self.table.c:
                if isinstance(self.table.c[col].type, t.Integer):
                    values[col] = _int(h, name, 0)
                else:
                    values[col] = _text(h, name)[: self.table.c[col].type.length or 30]
        return values

    def load(self, conn: Connection, keys) -> tuple[dict, list[dict]]:
        code = _key(keys, self.key, self.table.name)
        row = _exists(conn, self.table, **{self.key: code})
        if row is None:
            raise Refused(f"{self.key} : {code} : Record does not exist")
        for k, v in list(row.items()):
            if isinstance(v, list):
                row[k] = v[0]
        return row, []

    def query(self, conn: Connection, keys, size: int) -> list[dict]:
        stmt = select(self.table)
        for k, v in keys:
            if f"{k}_0" not in self.table.c:
                raise Refused(f"{k} : not a selection criterion")
            stmt = stmt.where(_criterion(self.table, k, v))
        rows = conn.execute(stmt.order_by(self.table.c[f"{self.key}_0"]).limit(size or 20)).all()
        return [self.load(conn, [(self.key, _strip(r)[self.key])])[0] for r in rows]

    def modify(self, conn: Connection, pub, keys, data: ObjectData, user: str) -> str:
        row, _ = self.load(conn, keys)
        values = self._values({k: v for k, v in data.header.items() if k != self.key}, {})
        if values:
            conn.execute(update(self.table).where(self.table.c[f"{self.key}_0"] == row[self.key])
                         .values(**values, **_audit(user, new=False)))
        return row[self.key]

    def delete(self, conn: Connection, keys) -> None:
        row, _ = self.load(conn, keys)
        conn.execute(delete(self.table).where(self.table.c[f"{self.key}_0"] == row[self.key]))


# ---------------------------------------------------------------- SIH (SINVOICE, SINVOICED)

class Invoices:
    list_fields = ("NUM", "SIVTYP", "SALFCY", "INVREF", "INVDAT", "BPCINV", "CUR", "AMTNOT")

    def save(self, conn: Connection, pub: Publication, data: ObjectData, user: str) -> str:
        h = data.header
        site = _site(conn, _text(h, "SALFCY"), "SALFCY", sales=True)
        sivtyp = _text(h, "SIVTYP", "INV")
        if sivtyp not in INVOICE_TYPES:
            raise Refused(f"SIVTYP : {sivtyp} : Record does not exist (invoice type)")
        invtyp, sns = INVOICE_TYPES[sivtyp]
        bpc = _customer(conn, _text(h, "BPCINV"), "BPCINV")
        cur = _text(h, "CUR", bpc["CUR"])
        _currency(conn, cur)
        invdat = parse_date(_text(h, "INVDAT"), "INVDAT")
        if invdat == t.NO_DATE:
            invdat = date.today()
        _open_period(conn, site["LEGCPY"], invdat, "INVDAT")
        if not data.lines:
            raise Refused(f"{pub.lines.id} : No lines on the invoice")
        lines = []
        for num, v in sorted(data.lines):
            itm = _item(conn, _text(v, "ITMREF"), f"ITMREF({num})")
            qty = parse_decimal(_text(v, "QTY"), f"QTY({num})")
            price = parse_decimal(_text(v, "GROPRI"), f"GROPRI({num})")
            disc = parse_decimal(_text(v, "DISCRGVAL1"), f"DISCRGVAL1({num})")  # per sales unit, as on SOH
            if qty <= 0 or price < 0:
                raise Refused(f"QTY({num}) : {qty} : Value must be greater than 0")
            if disc < 0 or disc > price:
                raise Refused(f"DISCRGVAL1({num}) : {disc} : Incorrect price or discount")
            amount = (qty * (price - disc)).quantize(CENT, ROUND_HALF_UP)
            sohnum = self._origin_order(conn, _text(v, "SOHNUM"), bpc["BPCNUM"], num)
            orinum = self._origin_invoice(conn, _text(v, "SIHORINUM"), bpc["BPCNUM"], sivtyp, num)
            lines.append((num, itm, _text(v, "ITMDES1") or itm["ITMDES1"], qty, price, amount, disc, sohnum,
                          orinum))
        # invoicing elements: 1 shipping and 2 discount go to the amount before tax, 3 is the tax
        elements = h.get("INVDTAAMT", [])
        elements = [parse_decimal(x, "INVDTAAMT") for x in (elements if isinstance(elements, list) else [elements])]
        if len(elements) > 3:
            raise Refused("INVDTAAMT : more than 3 invoicing elements")
        elements = [*elements, Decimal("0"), Decimal("0"), Decimal("0")][:3]
        num = _text(h, "NUM")
        if num:
            if _exists(conn, t.SINVOICE, NUM=num):
                raise Refused(f"NUM : {num} : Record already exists")
        else:
            seq = _next_number(conn, f"SIH{sivtyp}", site["FCY"], invdat.year)
            num = f"{sivtyp}{site['FCY']}{invdat:%y}{seq:06d}"
        total = sum((ln[5] for ln in lines), Decimal("0")) + elements[0] + elements[1]
        if total + elements[2] <= 0:
            raise Refused("AMTATI : the invoice total must be greater than 0")
        conn.execute(insert(t.SINVOICE).values(
            NUM_0=num, SIVTYP_0=sivtyp, INVTYP_0=invtyp, SNS_0=sns, SALFCY_0=site["FCY"], CPY_0=site["LEGCPY"],
            INVREF_0=_text(h, "INVREF"), INVDAT_0=invdat, ACCDAT_0=invdat, BPCINV_0=bpc["BPCNUM"],
            BPCORD_0=bpc["BPCNUM"], CUR_0=cur, AMTNOT_0=total, AMTATI_0=total + elements[2],
            INVDTAAMT_0=elements[0], INVDTAAMT_1=elements[1], INVDTAAMT_2=elements[2],
            YAMZORDREF_0=_text(h, "YAMZORDREF"), STA_0=3, **_audit(user)))
        for lin, (_, itm, des, qty, price, amount, disc, sohnum, orinum) in enumerate(lines, start=1):
            conn.execute(insert(t.SINVOICED).values(
                NUM_0=num, SIDLIN_0=lin * 1000, ITMREF_0=itm["ITMREF"], ITMDES1_0=des[:30], QTY_0=qty,
                GROPRI_0=price, DISCRGVAL_0=disc, NETPRI_0=price - disc, AMTNOTLIN_0=amount, SOHNUM_0=sohnum,
                SIHORINUM_0=orinum, **_audit(user)))
        return num

    @staticmethod
    def _origin_order(conn: Connection, sohnum: str, bpcnum: str, num: int) -> str:
        if sohnum:
            order = _exists(conn, t.SORDER, SOHNUM=sohnum)
            if order is None or order["BPCINV"] != bpcnum:
                raise Refused(f"SOHNUM({num}) : {sohnum} : Record does not exist (sales order of {bpcnum})")
        return sohnum

    @staticmethod
    def _origin_invoice(conn: Connection, orinum: str, bpcnum: str, sivtyp: str, num: int) -> str:
        if orinum:
            if INVOICE_TYPES[sivtyp][1] > 0:
                raise Refused(f"SIHORINUM({num}) : only a credit memo has an origin invoice")
            origin = _exists(conn, t.SINVOICE, NUM=orinum)
            if origin is None or origin["BPCINV"] != bpcnum or INVOICE_TYPES.get(origin["SIVTYP"], (0, 0))[1] < 0:
                raise Refused(f"SIHORINUM({num}) : {orinum} : Record does not exist (invoice of {bpcnum})")
        return orinum

    def load(self, conn: Connection, keys) -> tuple[dict, list[dict]]:
        num = _key(keys, "NUM", "SIH")
        head = _exists(conn, t.SINVOICE, NUM=num)
        if head is None:
            raise Refused(f"NUM : {num} : Record does not exist")
        rows = conn.execute(select(t.SINVOICED).where(t.SINVOICED.c.NUM_0 == num)
                            .order_by(t.SINVOICED.c.SIDLIN_0)).all()
        return head, [_strip(r) for r in rows]

    def query(self, conn: Connection, keys, size: int) -> list[dict]:
        stmt = select(t.SINVOICE)
        for k, v in keys:
            if f"{k}_0" not in t.SINVOICE.c:
                raise Refused(f"{k} : not a selection criterion of SIH")
            stmt = stmt.where(_criterion(t.SINVOICE, k, v))
        return [_strip(r) for r in conn.execute(stmt.order_by(t.SINVOICE.c.NUM_0).limit(size or 20)).all()]

    def modify(self, conn, pub, keys, data, user):
        raise Refused("SIH : Validated invoice, modification impossible")

    def delete(self, conn, keys):
        raise Refused("SIH : Validated invoice, deletion impossible")


# ---------------------------------------------------------------- GAS (GACCENTRY, GACCENTRYD)

def write_entry(conn: Connection, head: dict, lines: list[dict], user: str) -> None:
    """A validated accounting entry (STA 2): `head` TYP NUM CPY FCY JOU ACCDAT CUR RATMLT DESVCR REF TOTDEB TOTCDT,
    each line ACC DES SNS AMTCUR AMTLED FREREF VAT BPR. Whoever calls it has checked the entry (a journal saved
    through the web services, an invoice X3 validates)."""
    conn.execute(insert(t.GACCENTRY).values(
        TYP_0=head["TYP"], NUM_0=head["NUM"], CPY_0=head["CPY"], FCY_0=head["FCY"], JOU_0=head["JOU"],
        ACCDAT_0=head["ACCDAT"], CUR_0=head["CUR"], RATMLT_0=head["RATMLT"], RATDIV_0=Decimal(1),
        DESVCR_0=head["DESVCR"][:30], REF_0=head["REF"][:30], STA_0=2, TOTDEB_0=head["TOTDEB"],
        TOTCDT_0=head["TOTCDT"], **_audit(user)))
    for lin, ln in enumerate(lines, start=1):
        conn.execute(insert(t.GACCENTRYD).values(
            TYP_0=head["TYP"], NUM_0=head["NUM"], LIN_0=lin, LEDTYP_0=1, CPY_0=head["CPY"], FCYLIN_0=head["FCY"],
            ACCDAT_0=head["ACCDAT"], ACC_0=ln["ACC"], DES_0=ln["DES"], SNS_0=ln["SNS"], AMTCUR_0=ln["AMTCUR"],
            AMTLED_0=ln["AMTLED"], CUR_0=head["CUR"], FREREF_0=ln["FREREF"][:30], VAT_0=ln["VAT"], BPR_0=ln["BPR"],
            **_audit(user)))


class JournalEntries:
    list_fields = ("TYP", "NUM", "FCY", "JOU", "ACCDAT", "CUR", "DESVCR", "REF")

    def save(self, conn: Connection, pub: Publication, data: ObjectData, user: str) -> str:
        h = data.header
        site = _site(conn, _text(h, "FCY"), "FCY")
        company = site["LEGCPY"]
        typ = _text(h, "TYP", "ODT")
        jou = _text(h, "JOU", "OD")
        accdat = parse_date(_text(h, "ACCDAT"), "ACCDAT")
        if accdat == t.NO_DATE:
            raise Refused("ACCDAT : Mandatory field")
        _open_period(conn, company, accdat, "ACCDAT")
        cur = _text(h, "CUR")
        if not cur:
            raise Refused("CUR : Mandatory field")
        _currency(conn, cur)
        rate = parse_decimal(_text(h, "RATMLT", "1"), "RATMLT")
        if rate <= 0:
            raise Refused(f"RATMLT : {rate} : Value must be greater than 0")
        if len(data.lines) < 2:
            raise Refused(f"{pub.lines.id} : An entry needs at least two lines")
        lines, deb_total, cdt_total, led_deb, led_cdt = [], Decimal(0), Decimal(0), Decimal(0), Decimal(0)
        for num, v in sorted(data.lines):
            acc = _text(v, "ACC")
            if not acc:
                raise Refused(f"ACC({num}) : Mandatory field")
            account = _exists(conn, t.GACCOUNT, ACC=acc)
            if account is None:
                raise Refused(f"ACC({num}) : {acc} : Record does not exist (account)")
            bpr = _text(v, "BPR")
            # X3: a line on a collective (control) account needs its business partner, the subledger key; a BP on
            # another account is not kept. (sage-erp.md is silent on the message; X3's wording is approximated.)
            if _collective(account):
                if not bpr:
                    raise Refused(f"BPR({num}) : Mandatory field (collective account {acc})")
                if _exists(conn, t.BPCUSTOMER, BPCNUM=bpr) is None:
                    raise Refused(f"BPR({num}) : {bpr} : Record does not exist (business partner)")
            else:
                bpr = ""
            vat = _text(v, "VAT")
            if vat and _exists(conn, t.TABVAT, VAT=vat) is None:  # [UNCONFIRMED] X3's wording approximated
                raise Refused(f"VAT({num}) : {vat} : Record does not exist (tax code)")
            deb = parse_decimal(_text(v, "DEB"), f"DEB({num})")
            cdt = parse_decimal(_text(v, "CDT"), f"CDT({num})")
            deb_led, cdt_led = _text(v, "DEBLED"), _text(v, "CDTLED")
            conversion = (deb == 0 and cdt == 0 and rate != 1
                          and (parse_decimal(deb_led or "0", "DEBLED") > 0) != (parse_decimal(cdt_led or "0", "CDTLED") > 0))
            if not conversion and (deb < 0 or cdt < 0 or (deb > 0) == (cdt > 0)):
                raise Refused(f"DEB({num}) : Enter either a debit or a credit amount")
            # a conversion-difference line: no transaction-currency amount, a ledger-currency amount only
            amount, sns = ((deb, 1) if deb > 0 else (cdt, -1)) if not conversion else \
                ((Decimal(0), 1) if parse_decimal(deb_led or "0", "DEBLED") > 0 else (Decimal(0), -1))
            led_text = _text(v, "DEBLED" if sns == 1 else "CDTLED")
            ledger = (parse_decimal(led_text, "DEBLED") if led_text
                      else (amount * rate).quantize(CENT, ROUND_HALF_UP))
            deb_total += deb
            cdt_total += cdt
            led_deb += ledger if sns == 1 else 0
            led_cdt += ledger if sns == -1 else 0
            lines.append({"ACC": acc, "DES": _text(v, "DES")[:30], "SNS": sns, "AMTCUR": amount,
                          "AMTLED": ledger, "FREREF": _text(v, "FREREF")[:30], "VAT": vat,
                          "BPR": bpr})
        if deb_total != cdt_total:
            raise Refused(f"Unbalanced entry : debit {deb_total} credit {cdt_total} ({cur})")
        if led_deb != led_cdt:
            raise Refused(f"Unbalanced entry in ledger currency : debit {led_deb} credit {led_cdt}")
        num = _text(h, "NUM")
        if num:
            if _exists(conn, t.GACCENTRY, TYP=typ, NUM=num):
                raise Refused(f"NUM : {num} : Record already exists")
        else:
            seq = _next_number(conn, f"GAS{typ}", site["FCY"], accdat.year * 100 + accdat.month)
            num = f"{typ}{site['FCY']}{accdat:%y%m}{seq:05d}"
        write_entry(conn, {"TYP": typ, "NUM": num, "CPY": company, "FCY": site["FCY"], "JOU": jou, "ACCDAT": accdat,
                           "CUR": cur, "RATMLT": rate, "DESVCR": _text(h, "DESVCR"), "REF": _text(h, "REF"),
                           "TOTDEB": deb_total, "TOTCDT": cdt_total}, lines, user)
        return num

    def load(self, conn: Connection, keys) -> tuple[dict, list[dict]]:
        num = _key(keys, "NUM", "GAS")
        typ = next((v for k, v in keys if k == "TYP"), None)
        cond = [t.GACCENTRY.c.NUM_0 == num] + ([t.GACCENTRY.c.TYP_0 == typ] if typ else [])
        row = conn.execute(select(t.GACCENTRY).where(*cond)).first()
        if row is None:
            raise Refused(f"NUM : {num} : Record does not exist")
        head = _strip(row)
        lines = []
        for r in conn.execute(select(t.GACCENTRYD).where(t.GACCENTRYD.c.TYP_0 == head["TYP"],
                                                         t.GACCENTRYD.c.NUM_0 == num)
                              .order_by(t.GACCENTRYD.c.LIN_0)).all():
            ln = _strip(r)
            zero = Decimal("0")
            ln.update(DEB=ln["AMTCUR"] if ln["SNS"] == 1 else zero, CDT=ln["AMTCUR"] if ln["SNS"] == -1 else zero,
                      DEBLED=ln["AMTLED"] if ln["SNS"] == 1 else zero,
                      CDTLED=ln["AMTLED"] if ln["SNS"] == -1 else zero)
            lines.append(ln)
        return head, lines

    def query(self, conn: Connection, keys, size: int) -> list[dict]:
        stmt = select(t.GACCENTRY)
        for k, v in keys:
            if f"{k}_0" not in t.GACCENTRY.c:
                raise Refused(f"{k} : not a selection criterion of GAS")
            stmt = stmt.where(_criterion(t.GACCENTRY, k, v))
        return [_strip(r) for r in conn.execute(stmt.order_by(t.GACCENTRY.c.NUM_0).limit(size or 20)).all()]

    def modify(self, conn, pub, keys, data, user):
        raise Refused("GAS : Final entry, modification impossible")

    def delete(self, conn, keys):
        raise Refused("GAS : Final entry, deletion impossible")


# ---------------------------------------------------------------- SMR / SMO (STOCK, ITMMVT, STOJOU)

class StockMovements:
    """Miscellaneous receipt (SMR, sign +1) or issue (SMO, sign -1) at a storage site: moves the STOCK lines of
    status A, the ITMMVT totals and writes one STOJOU line per document line. An issue never takes more than the
    A-status stock there is ("Insufficient stock")."""

    list_fields = ("STOFCY", "VCRNUM", "VCRLIN", "ITMREF", "QTYSTU", "IPTDAT", "TRSCOD", "MVTDES")

    def __init__(self, sign: int, vcrtyp: int, prefix: str) -> None:
        self.sign, self.vcrtyp, self.prefix = sign, vcrtyp, prefix

    def save(self, conn: Connection, pub: Publication, data: ObjectData, user: str) -> str:
        h = data.header
        site = _site(conn, _text(h, "STOFCY"), "STOFCY", storage=True)
        iptdat = parse_date(_text(h, "IPTDAT"), "IPTDAT")
        if iptdat == t.NO_DATE:
            iptdat = date.today()
        _open_period(conn, site["LEGCPY"], iptdat, "IPTDAT")
        if not data.lines:
            raise Refused(f"{pub.lines.id} : No lines on the movement")
        lines = []
        for num, v in sorted(data.lines):
            itm = _item(conn, _text(v, "ITMREF"), f"ITMREF({num})")
            qty = parse_decimal(_text(v, "QTYSTU"), f"QTYSTU({num})")
            if qty <= 0:
                raise Refused(f"QTYSTU({num}) : {qty} : Value must be greater than 0")
            sta = _text(v, "STA", "A")
            if sta not in ("A", "Q", "R"):
                raise Refused(f"STA({num}) : {sta} : Record does not exist (status)")
            lines.append((itm["ITMREF"], qty, sta, _text(v, "LOC")))
        seq = _next_number(conn, self.prefix, site["FCY"], iptdat.year)
        vcrnum = f"{self.prefix}{site['FCY']}{iptdat:%y}{seq:06d}"
        for lin, (item, qty, sta, loc) in enumerate(lines, start=1):
            self._move(conn, site["FCY"], item, qty, sta, loc, user, f"ITMREF({lin})")
            conn.execute(insert(t.STOJOU).values(
                STOFCY_0=site["FCY"], VCRNUM_0=vcrnum, VCRLIN_0=lin * 1000, VCRTYP_0=self.vcrtyp, ITMREF_0=item,
                QTYSTU_0=self.sign * qty, IPTDAT_0=iptdat, LOC_0=loc, STA_0=sta, TRSCOD_0=_text(h, "TRSCOD")[:5],
                MVTDES_0=_text(h, "MVTDES")[:30], VCRDES_0=_text(h, "VCRDES")[:30], **_audit(user)))
        return vcrnum

    def _move(self, conn: Connection, site: str, item: str, qty: Decimal, sta: str, loc: str, user: str,
              field: str) -> None:
        stock = conn.execute(select(t.STOCK).where(t.STOCK.c.STOFCY_0 == site, t.STOCK.c.ITMREF_0 == item,
                                                   t.STOCK.c.STA_0 == sta).order_by(t.STOCK.c.STOCOU_0)).all()
        if self.sign > 0:
            if stock:
                row = stock[0]
                conn.execute(update(t.STOCK).where(t.STOCK.c.ROWID == row.ROWID).values(
                    QTYSTU_0=Decimal(row.QTYSTU_0) + qty, QTYPCU_0=Decimal(row.QTYPCU_0) + qty,
                    **_audit(user, new=False)))
            else:
                stocou = (conn.execute(select(func.max(t.STOCK.c.STOCOU_0)).where(t.STOCK.c.STOFCY_0 == site))
                          .scalar() or 0) + 1
                conn.execute(insert(t.STOCK).values(STOFCY_0=site, STOCOU_0=stocou, ITMREF_0=item, LOT_0="",
                                                    LOC_0=loc, STA_0=sta, PCU_0="UN", QTYPCU_0=qty, QTYSTU_0=qty,
                                                    **_audit(user)))
        else:
            have = sum((Decimal(r.QTYSTU_0) for r in stock), Decimal(0))
            if have < qty:
                raise Refused(f"{field} : {item} : Insufficient stock at {site} ({have} available, {qty} requested)")
            left = qty
            for row in stock:
                take = min(left, Decimal(row.QTYSTU_0))
                if take:
                    conn.execute(update(t.STOCK).where(t.STOCK.c.ROWID == row.ROWID).values(
                        QTYSTU_0=Decimal(row.QTYSTU_0) - take, QTYPCU_0=Decimal(row.QTYPCU_0) - take,
                        **_audit(user, new=False)))
                    left -= take
        if sta == "A":
            column = "PHYSTO_0"
        else:
            column = "CTLSTO_0" if sta == "Q" else "REJSTO_0"
        mvt = conn.execute(select(t.ITMMVT).where(t.ITMMVT.c.STOFCY_0 == site, t.ITMMVT.c.ITMREF_0 == item)).first()
        if mvt is None:
            conn.execute(insert(t.ITMMVT).values(STOFCY_0=site, ITMREF_0=item, **{column: self.sign * qty},
                                                 **_audit(user)))
        else:
            conn.execute(update(t.ITMMVT).where(t.ITMMVT.c.ROWID == mvt.ROWID).values(
                **{column: Decimal(getattr(mvt, column)) + self.sign * qty}, **_audit(user, new=False)))

    def load(self, conn: Connection, keys) -> tuple[dict, list[dict]]:
        vcrnum = _key(keys, "VCRNUM", self.prefix)
        rows = [_strip(r) for r in conn.execute(select(t.STOJOU).where(t.STOJOU.c.VCRNUM_0 == vcrnum)
                                               .order_by(t.STOJOU.c.VCRLIN_0)).all()]
        if not rows:
            raise Refused(f"VCRNUM : {vcrnum} : Record does not exist")
        first = rows[0]
        head = {k: first[k] for k in ("STOFCY", "VCRNUM", "IPTDAT", "TRSCOD", "VCRDES", "MVTDES")}
        return head, [{**r, "QTYSTU": abs(Decimal(r["QTYSTU"]))} for r in rows]

    def query(self, conn: Connection, keys, size: int) -> list[dict]:
        stmt = select(t.STOJOU).where(t.STOJOU.c.VCRTYP_0 == self.vcrtyp)
        for k, v in keys:
            if f"{k}_0" not in t.STOJOU.c:
                raise Refused(f"{k} : not a selection criterion of {self.prefix}")
            stmt = stmt.where(_criterion(t.STOJOU, k, v))
        return [_strip(r) for r in conn.execute(stmt.order_by(t.STOJOU.c.VCRNUM_0).limit(size or 20)).all()]

    def modify(self, conn, pub, keys, data, user):
        raise Refused(f"{self.prefix} : Stock movement posted, modification impossible")

    def delete(self, conn, keys):
        raise Refused(f"{self.prefix} : Stock movement posted, deletion impossible")


HANDLERS = {
    "SOH": SalesOrders(),
    "BPC": MasterData(t.BPCUSTOMER, "BPCNUM", ("BPCNAM", "CUR"), ("BPCNUM", "BPCNAM", "CUR"),
                      {"BPCSTA_0": 2}),
    "ITM": MasterData(t.ITMMASTER, "ITMREF", ("ITMDES1",), ("ITMREF", "ITMDES1", "ITMSTA"),
                      {"ITMSTA_0": 1, "STU_0": "UN", "SAU_0": "UN"}),
    "SIH": Invoices(),
    "GAS": JournalEntries(),
    "SMR": StockMovements(+1, 20, "SMR"),
    "SMO": StockMovements(-1, 21, "SMO"),
}
QUERY_FIELDS = {
    "SOH": SOH_QUERY_FIELDS,
    "BPC": ("BPCNUM", "BPCNAM", "CUR"),
    "ITM": ("ITMREF", "ITMDES1", "ITMSTA"),
    "SIH": Invoices.list_fields,
    "GAS": JournalEntries.list_fields,
    "SMR": StockMovements.list_fields,
    "SMO": StockMovements.list_fields,
}


def count(conn: Connection, table: Table) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar() or 0
