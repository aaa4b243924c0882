"""Object XML for X3 publications, built from getDescription: never from hard-coded group ids."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from lxml import etree

from ..errors import SageConfigurationError


@dataclass(frozen=True)
class FieldDesc:
    name: str
    type: str = "Char"
    length: int = 0
    dim: int = 1


@dataclass
class GroupDesc:
    id: str
    table: bool
    fields: dict[str, FieldDesc] = field(default_factory=dict)


@dataclass
class Description:
    publication: str
    groups: list[GroupDesc]

    def header_group(self, name: str) -> GroupDesc | None:
        return next((g for g in self.groups if not g.table and name in g.fields), None)

    @property
    def lines(self) -> GroupDesc | None:
        return next((g for g in self.groups if g.table), None)

    def has(self, name: str) -> bool:
        return any(name in g.fields for g in self.groups)


def parse_description(publication: str, text: str) -> Description:
    text = (text or "").strip()
    if text.startswith("{"):
        doc = json.loads(text)
        groups = [GroupDesc(g["NAME"], g.get("TYPE") == "Table",
                            {f["NAME"]: FieldDesc(f["NAME"], f.get("TYPE", "Char"), int(f.get("LEN") or 0),
                                                  int(f.get("DIM") or 1)) for f in g.get("FIELDS", [])})
                  for g in doc.get("ADXDESC", doc).get("GROUPS", [])]
        return Description(publication, groups)
    try:
        root = etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as exc:
        raise SageConfigurationError(f"getDescription {publication}: unreadable description ({exc})") from exc
    groups = []
    for node in root.iter("GRP", "TAB"):
        group_id = node.get("NAME") or node.get("ID") or ""
        is_table = node.tag == "TAB" or node.get("TYPE", "").lower() == "table"
        fields = {}
        for fld in node.iter("FLD", "LST"):
            name = fld.get("NAME", "")
            dim = int(fld.get("DIM") or fld.get("SIZE") or 1)
            fields[name] = FieldDesc(name, fld.get("TYPE", "Char"), int(fld.get("LEN") or 0),
                                     dim if fld.tag == "FLD" else max(dim, 2))
        groups.append(GroupDesc(group_id, is_table, fields))
    if not groups:
        raise SageConfigurationError(f"getDescription {publication}: no groups published")
    return Description(publication, groups)


def _text(value, desc: FieldDesc) -> str:
    """A Char field cut to the width (LEN) getDescription publishes for it (sage-erp.md: field layouts come
    from getDescription): X3's field limits are applied here, at the writer, never in the warehouse."""
    text = "" if value is None else str(value)
    if desc.type == "Char" and desc.length:
        text = text[: desc.length]
    return text


def build_object(desc: Description, header: dict[str, object], lines: list[tuple[int, dict]] = (),
                 optional: frozenset[str] | set[str] = frozenset()) -> str:
    """<PARAM> with each field in the group getDescription puts it in; `optional` fields the
    publication lacks are left out, any other missing field is a configuration error."""
    root = etree.Element("PARAM")
    groups: dict[str, etree._Element] = {}
    for name, value in header.items():
        group = desc.header_group(name)
        if group is None:
            if name in optional:
                continue
            raise SageConfigurationError(f"publication {desc.publication} has no field {name} "
                                         "(check the GESAWE publication)")
        node = groups.get(group.id)
        if node is None:
            node = groups[group.id] = etree.Element("GRP", ID=group.id)
        _field(node, group.fields[name], value)
    for group in desc.groups:  # publication order
        if group.id in groups:
            root.append(groups[group.id])
    if lines:
        tab_desc = desc.lines
        if tab_desc is None:
            raise SageConfigurationError(f"publication {desc.publication} has no table of lines")
        tab = etree.SubElement(root, "TAB", ID=tab_desc.id, SIZE=str(len(lines)))
        for num, values in lines:
            lin = etree.SubElement(tab, "LIN", NUM=str(num))
            for name, value in values.items():
                fdesc = tab_desc.fields.get(name)
                if fdesc is None:
                    if name in optional:
                        continue
                    raise SageConfigurationError(f"publication {desc.publication} has no line field {name}")
                _field(lin, fdesc, value)
    return etree.tostring(root, encoding="unicode")


def _field(parent, desc: FieldDesc, value) -> None:
    if desc.dim > 1:
        values = list(value or [])[: desc.dim]
        lst = etree.SubElement(parent, "LST", NAME=desc.name, SIZE=str(len(values)), TYPE=desc.type)
        for item in values:
            etree.SubElement(lst, "ITM").text = _text(item, desc)
        return
    etree.SubElement(parent, "FLD", NAME=desc.name, TYPE=desc.type).text = _text(value, desc)


def parse_object(text: str | None) -> tuple[dict[str, object], list[dict[str, str]]]:
    """(header fields, lines) of a <RESULT>; the group ids are irrelevant to the reader."""
    if not text or not text.strip():
        return {}, []
    text = text.strip()
    if text.startswith("{") or text.startswith("["):
        doc = json.loads(text)
        header, lines = {}, []
        for value in doc.values():
            if isinstance(value, list):
                lines.extend(value)
            elif isinstance(value, dict):
                header.update(value)
        return header, lines
    root = etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False, huge_tree=True))
    header: dict[str, object] = {}
    lines: list[dict[str, str]] = []
    for node in root:
        if node.tag == "GRP":
            header.update(_fields(node))
        elif node.tag == "TAB":
            lines.extend(_fields(lin) for lin in node.iter("LIN"))
        elif node.tag == "LIN":
            lines.append(_fields(node))
    return header, lines


def _fields(node) -> dict:
    out: dict = {}
    for fld in node:
        if fld.tag == "FLD":
            out[fld.get("NAME", "")] = fld.text or ""
        elif fld.tag == "LST":
            out[fld.get("NAME", "")] = [itm.text or "" for itm in fld.iter("ITM")]
        elif fld.tag == "GRP":
            out.update(_fields(fld))
    return out
