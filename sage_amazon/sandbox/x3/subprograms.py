"""Published sub-programs for the SOAP `run` operation.

YSTKAVL (a folder-specific sub-program, like the STCKDISPON ones customers publish): stock of an
item at a site. Input GRP1: STOFCY, ITMREF. Output GRP2: O_PHYSTO, O_PHYALL, O_AVAILABLE, O_STAT
(1 found, 0 not found).
"""

from __future__ import annotations

import json
from decimal import Decimal

from lxml import etree
from sqlalchemy import Connection, select

from . import tables as t
from .objxml import Refused


def _inputs(text: str) -> dict[str, str]:
    text = (text or "").strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise Refused(f"Input JSON refused : {exc}") from exc
        out: dict[str, str] = {}
        for value in doc.values():
            if isinstance(value, dict):
                out.update({k: str(v) for k, v in value.items()})
        return out
    try:
        root = etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as exc:
        raise Refused(f"Input XML refused : {exc}") from exc
    return {f.get("NAME", ""): f.text or "" for f in root.iter("FLD")}


def stock_availability(conn: Connection, input_text: str, fmt: str) -> str:
    params = _inputs(input_text)
    row = conn.execute(select(t.ITMMVT).where(t.ITMMVT.c.STOFCY_0 == params.get("STOFCY", ""),
                                              t.ITMMVT.c.ITMREF_0 == params.get("ITMREF", ""))).first()
    physto = row.PHYSTO_0 if row else Decimal(0)
    phyall = row.PHYALL_0 if row else Decimal(0)
    out = {"O_PHYSTO": physto, "O_PHYALL": phyall, "O_AVAILABLE": physto - phyall, "O_STAT": 1 if row else 0}
    if fmt == "JSON":
        return json.dumps({"GRP2": {k: format(v, "f") if isinstance(v, Decimal) else str(v) for k, v in out.items()}})
    root = etree.Element("RESULT")
    grp = etree.SubElement(root, "GRP", ID="GRP2")
    for name, value in out.items():
        kind = "Decimal" if isinstance(value, Decimal) else "Integer"
        etree.SubElement(grp, "FLD", NAME=name, TYPE=kind).text = format(value, "f") if kind == "Decimal" else str(
            value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")


SUBPROGRAMS = {"YSTKAVL": stock_availability}
