"""The X3 object XML (<PARAM>/<RESULT> with GRP, FLD, LST, TAB, LIN) and its JSON twin, sandbox side."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from lxml import etree

from .layouts import Field, Publication
from .tables import NO_DATE


class Refused(Exception):
    """A business refusal: answered with status 0 and a type-3 message, HTTP 200."""

    def __init__(self, message: str, *more: str) -> None:
        self.messages = (message, *more)
        super().__init__(message)


@dataclass
class ObjectData:
    header: dict[str, object] = field(default_factory=dict)  # field -> str, or list[str] for LST
    lines: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    groups: set[str] = field(default_factory=set)


def parse_object(text: str, pub: Publication) -> ObjectData:
    if not text or not text.strip():
        raise Refused(f"Input XML refused : empty object for publication {pub.name}")
    try:
        root = etree.fromstring(text.strip().encode("utf-8"), etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as exc:
        raise Refused(f"Input XML refused : {exc}") from exc
    if root.tag not in ("PARAM", "RESULT"):
        raise Refused(f"Input XML refused : root element <{root.tag}> instead of <PARAM>")
    data = ObjectData()
    for node in root:
        if not isinstance(node.tag, str):
            continue
        group_id = node.get("ID", "")
        group = pub.group(group_id)
        if node.tag == "GRP":
            if group is None or group.table:
                raise Refused(f"Input XML refused : group {group_id} is not in publication {pub.name}")
            data.groups.add(group_id)
            _read_fields(node, group, data.header)
        elif node.tag == "TAB":
            if group is None or not group.table:
                raise Refused(f"Input XML refused : table {group_id} is not in publication {pub.name}")
            data.groups.add(group_id)
            for pos, lin in enumerate(node.findall("LIN"), start=1):
                values: dict[str, str] = {}
                _read_fields(lin, group, values)
                num = lin.get("NUM", str(pos))
                if not num.isdigit():
                    raise Refused(f"Input XML refused : LIN NUM={num!r} in {group_id}")
                data.lines.append((int(num), values))
        else:
            raise Refused(f"Input XML refused : unexpected element <{node.tag}>")
    return data


def _read_fields(node, group, out: dict) -> None:
    for fld in node:
        if not isinstance(fld.tag, str):
            continue
        name = fld.get("NAME", "")
        # [UNCONFIRMED] real X3 may ignore a field the publication lacks; refusing it surfaces
        # connector drift immediately, which is what a client of a strict publication sees.
        if group.field(name) is None:
            raise Refused(f"Input XML refused : field {name} is not in group {group.id}")
        if fld.tag == "FLD":
            out[name] = fld.text or ""
        elif fld.tag == "LST":
            out[name] = [itm.text or "" for itm in fld.findall("ITM")]
        else:
            raise Refused(f"Input XML refused : unexpected element <{fld.tag}> in {group.id}")


def x3_text(value: object, fld: Field) -> str:
    if isinstance(value, date):
        return "" if value == NO_DATE else value.strftime("%Y%m%d")
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    return "" if value is None else str(value)


def parse_date(text: str, name: str) -> date:
    text = (text or "").strip()
    if not text:
        return NO_DATE
    try:
        if len(text) == 8 and text.isdigit():
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise Refused(f"{name} : {text} : Incorrect date") from exc


def parse_decimal(text: object, name: str) -> Decimal:
    text = str(text or "").strip() or "0"
    try:
        value = Decimal(text)
    except ArithmeticError as exc:
        raise Refused(f"{name} : {text} : Incorrect numeric value") from exc
    if not value.is_finite():
        raise Refused(f"{name} : {text} : Incorrect numeric value")
    return value


def render_object(pub: Publication, header: dict, lines: list[dict], fmt: str) -> str:
    if fmt == "JSON":
        doc: dict = {}
        for group in pub.groups:
            if group.table:
                doc[group.id] = [{f.name: _json_value(row.get(f.name), f) for f in group.fields}
                                 for row in lines]
            else:
                doc[group.id] = {f.name: _json_value(header.get(f.name), f) for f in group.fields}
        return json.dumps(doc, ensure_ascii=False)
    root = etree.Element("RESULT")
    for group in pub.groups:
        if group.table:
            tab = etree.SubElement(root, "TAB", DIM=str(group.dim), ID=group.id, SIZE=str(len(lines)))
            for num, row in enumerate(lines, start=1):
                lin = etree.SubElement(tab, "LIN", NUM=str(num))
                for f in group.fields:
                    _xml_field(lin, f, row.get(f.name))
        else:
            grp = etree.SubElement(root, "GRP", ID=group.id)
            for f in group.fields:
                _xml_field(grp, f, header.get(f.name))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")


def render_rows(rows: list[dict], fields: list[Field], fmt: str) -> str:
    if fmt == "JSON":
        return json.dumps([{f.name: _json_value(r.get(f.name), f) for f in fields} for r in rows],
                          ensure_ascii=False)
    root = etree.Element("RESULT")
    for num, row in enumerate(rows, start=1):
        lin = etree.SubElement(root, "LIN", NUM=str(num))
        for f in fields:
            _xml_field(lin, f, row.get(f.name))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")


def render_description(pub: Publication, fmt: str) -> str:
    if fmt == "JSON":
        return json.dumps({"ADXDESC": {"NAME": pub.name, "OBJECT": pub.object, "GROUPS": [
            {"NAME": g.id, "TYPE": "Table" if g.table else "Group", "DIM": g.dim,
             "FIELDS": [{"NAME": f.name, "TYPE": f.type, "LEN": f.length, "DIM": f.dim,
                         "MENULOCAL": f.menu} for f in g.fields]} for g in pub.groups]}})
    # [UNCONFIRMED] exact getDescription shape; this mirrors the object XML (GRP/TAB with FLDs)
    root = etree.Element("ADXDESC")
    etree.SubElement(root, "ADXPUB", NAME=pub.name, OBJECT=pub.object, TITLE=pub.title, TYPE="Object")
    for g in pub.groups:
        node = etree.SubElement(root, "TAB" if g.table else "GRP", NAME=g.id, DIM=str(g.dim),
                                TYPE="Table" if g.table else "Group")
        for f in g.fields:
            attrs = {"NAME": f.name, "TYPE": f.type, "LEN": str(f.length), "DIM": str(f.dim)}
            if f.menu:
                attrs["MENULOCAL"] = str(f.menu)
            etree.SubElement(node, "FLD", **attrs)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")


def _xml_field(parent, f: Field, value) -> None:
    if f.dim > 1:
        items = list(value or [])
        lst = etree.SubElement(parent, "LST", NAME=f.name, SIZE=str(len(items)), TYPE=f.type)
        for item in items:
            etree.SubElement(lst, "ITM").text = x3_text(item, f)
        return
    attrs = {"NAME": f.name, "TYPE": f.type}
    if f.menu:
        attrs["MENULOCAL"] = str(f.menu)
    etree.SubElement(parent, "FLD", **attrs).text = x3_text(value, f)


def _json_value(value, f: Field):
    if f.dim > 1:
        return [x3_text(v, f) for v in (value or [])]
    return x3_text(value, f)
