"""Publications (GESAWE) of the sandbox folder, in two layouts.

Real customers publish the same X3 objects with different group ids, so a client must take them
from getDescription. `standard` is the layout most X3 folders ship (SOH0_1 header, SOH4_1 lines);
`custom` follows a customer publication seen in the wild (header split over SOH0_1/SOH0_2, lines in
SOH1_1) and a Y-prefixed journal publication. Field names are X3 dictionary names (the physical
column is NAME_0); Y* fields are the folder's own specific fields.
"""

from __future__ import annotations

from dataclasses import dataclass

LAYOUT_NAMES = ("standard", "custom")


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # Char | Integer | Decimal | Date
    length: int = 0
    menu: int = 0  # local menu number for status fields
    dim: int = 1  # > 1: sent as <LST NAME=... SIZE=dim><ITM>..</ITM></LST>


@dataclass(frozen=True)
class Group:
    id: str
    fields: tuple[Field, ...]
    table: bool = False  # a TAB of LIN elements
    dim: int = 1

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class Publication:
    name: str  # public name used in SOAP calls
    object: str  # X3 object code
    title: str
    groups: tuple[Group, ...]

    def group(self, group_id: str) -> Group | None:
        return next((g for g in self.groups if g.id == group_id), None)

    @property
    def lines(self) -> Group | None:
        return next((g for g in self.groups if g.table), None)


def _c(name: str, length: int = 30) -> Field:
    return Field(name, "Char", length)


def _d(name: str) -> Field:
    return Field(name, "Decimal", 0)


def _dt(name: str) -> Field:
    return Field(name, "Date", 8)


def _m(name: str, menu: int) -> Field:
    return Field(name, "Integer", 0, menu)


def _i(name: str) -> Field:
    return Field(name, "Integer", 0)


SOH_FIELDS = {f.name: f for f in (
    _c("SALFCY", 5), _c("SOHTYP", 5), _c("SOHNUM", 20), _c("BPCORD", 15), _dt("ORDDAT"),
    _c("CUSORDREF", 30), _c("CUR", 3), _c("BPCINV", 15), _c("BPCPYR", 15), _c("BPAADD", 5),
    _m("ORDSTA", 415), _m("ALLSTA", 416), _m("DLVSTA", 417), _m("INVSTA", 418),
    _c("STOFCY", 5), _dt("DEMDLVDAT"), _dt("SHIDAT"), _c("MDL", 5), _c("BPTNUM", 15), _c("YTRKNUM", 40),
    _c("YFULCHN", 3), _d("INVDTAAMT"), _d("ORDNOT"),
    _c("BPDNAM", 35), Field("BPDADDLIG", "Char", 50, dim=3), _c("BPDPOSCOD", 10), _c("BPDCTY", 40),
    _c("BPDSAT", 35), _c("BPDCRY", 3), _c("BPDTEL", 20),
    # line fields
    _i("SOPLIN"), _c("ITMREF", 20), _c("ITMDES", 30), _c("SAU", 3), _d("QTY"), _d("GROPRI"),
    _d("DISCRGVAL1"), _d("NETPRI"), _d("DLVQTY"), _m("SOQSTA", 279), _c("YAMZITMID", 30),
)}
SOH_LINE = ("SOPLIN", "ITMREF", "ITMDES", "SAU", "QTY", "GROPRI", "DISCRGVAL1", "NETPRI", "DLVQTY",
            "SOQSTA", "YAMZITMID")
SOH_ADDRESS = ("BPDNAM", "BPDADDLIG", "BPDPOSCOD", "BPDCTY", "BPDSAT", "BPDCRY", "BPDTEL")

BPC_FIELDS = {f.name: f for f in (
    _c("BPCNUM", 15), _c("BPCNAM", 35), _c("BPCSHO", 10), _c("CUR", 3), _m("BPCSTA", 1), _c("CRY", 3),
    _c("LAN", 3),
)}
ITM_FIELDS = {f.name: f for f in (
    _c("ITMREF", 20), _c("ITMDES1", 30), _c("ITMDES2", 30), _c("ITMDES3", 30), _c("STU", 3),
    _c("SAU", 3), _c("TCLCOD", 5), _m("ITMSTA", 246),
)}
SIH_FIELDS = {f.name: f for f in (
    _c("SALFCY", 5), _c("SIVTYP", 5), _c("NUM", 20), _c("INVREF", 30), _dt("INVDAT"), _c("BPCINV", 15),
    _c("CUR", 3), _c("YAMZORDREF", 30), _d("AMTNOT"), _d("AMTATI"),
    # invoicing elements (footer): 1 shipping, 2 discount, 3 tax, as the SOH3_4 setup sage-erp.md cites
    Field("INVDTAAMT", "Decimal", 0, dim=3),
    _i("SIDLIN"), _c("ITMREF", 20), _c("ITMDES1", 30), _d("QTY"), _d("GROPRI"), _d("DISCRGVAL1"), _d("AMTNOTLIN"),
    # the line's origin: its sales order and, on a credit memo, the invoice it credits [UNCONFIRMED field names]
    _c("SOHNUM", 20), _c("SIHORINUM", 20),
)}
SIH_LINE = ("SIDLIN", "ITMREF", "ITMDES1", "QTY", "GROPRI", "DISCRGVAL1", "AMTNOTLIN", "SOHNUM", "SIHORINUM")
GAS_FIELDS = {f.name: f for f in (
    _c("TYP", 5), _c("NUM", 20), _c("FCY", 5), _c("JOU", 5), _dt("ACCDAT"), _c("CUR", 3), _d("RATMLT"),
    _c("DESVCR", 30), _c("REF", 30),
    _i("LIN"), _c("ACC", 15), _c("DES", 30), _d("DEB"), _d("CDT"), _d("DEBLED"), _d("CDTLED"),
    _c("FREREF", 30), _c("VAT", 5), _c("BPR", 15),
)}
GAS_LINE = ("LIN", "ACC", "DES", "DEB", "CDT", "DEBLED", "CDTLED", "FREREF", "VAT", "BPR")
# miscellaneous receipts (SMR, function GESSMR) and issues (SMO, GESSMO): header + lines [field ids UNCONFIRMED:
# no public SOAP payload; a customer publication ZSMO is known to exist]
SMV_FIELDS = {f.name: f for f in (
    _c("STOFCY", 5), _c("VCRNUM", 20), _dt("IPTDAT"), _c("TRSCOD", 5), _c("VCRDES", 30), _c("MVTDES", 30),
    _i("VCRLIN"), _c("ITMREF", 20), _d("QTYSTU"), _c("STA", 3), _c("LOC", 10),
)}
SMV_LINE = ("VCRLIN", "ITMREF", "QTYSTU", "STA", "LOC")


def _grp(fields: dict[str, Field], group_id: str, names: tuple[str, ...] | str) -> Group:
    if isinstance(names, str):
        names = tuple(names.split())
    return Group(group_id, tuple(fields[n] for n in names))


def _tab(fields: dict[str, Field], group_id: str, names: tuple[str, ...], dim: int) -> Group:
    return Group(group_id, tuple(fields[n] for n in names), table=True, dim=dim)


def _standard() -> dict[str, Publication]:
    return {p.name: p for p in (
        Publication("SOH", "SOH", "Sales order", (
            _grp(SOH_FIELDS, "SOH0_1", "SALFCY SOHTYP SOHNUM BPCORD ORDDAT CUSORDREF CUR"),
            _grp(SOH_FIELDS, "SOH1_1", "BPCINV BPCPYR BPAADD"),
            _grp(SOH_FIELDS, "SOH1_5", "ORDSTA ALLSTA DLVSTA INVSTA"),
            _grp(SOH_FIELDS, "SOH2_1", "STOFCY DEMDLVDAT SHIDAT"),
            _grp(SOH_FIELDS, "SOH2_3", "MDL BPTNUM YTRKNUM YFULCHN"),
            _grp(SOH_FIELDS, "SOH3_4", "INVDTAAMT ORDNOT"),
            _grp(SOH_FIELDS, "ADB2_1", SOH_ADDRESS),
            _tab(SOH_FIELDS, "SOH4_1", SOH_LINE, 200),
        )),
        Publication("BPC", "BPC", "Customer", (
            _grp(BPC_FIELDS, "BPC0_1", "BPCNUM BPCNAM BPCSHO CUR BPCSTA CRY LAN"),
        )),
        Publication("ITM", "ITM", "Item", (
            _grp(ITM_FIELDS, "ITM0_1", "ITMREF ITMDES1 ITMDES2 ITMDES3 STU SAU TCLCOD ITMSTA"),
        )),
        Publication("SIH", "SIH", "Sales invoice / credit note", (
            _grp(SIH_FIELDS, "SIH0_1", "SALFCY SIVTYP NUM INVREF INVDAT BPCINV CUR YAMZORDREF AMTNOT AMTATI INVDTAAMT"),
            _tab(SIH_FIELDS, "SIH4_1", SIH_LINE, 300),
        )),
        Publication("GAS", "GAS", "Journal entry (GACCENTRY)", (
            _grp(GAS_FIELDS, "GAS0_1", "TYP NUM FCY JOU ACCDAT CUR RATMLT DESVCR REF"),
            _tab(GAS_FIELDS, "GAS1_1", GAS_LINE, 999),
        )),
        Publication("SMR", "SMR", "Miscellaneous receipt", (
            _grp(SMV_FIELDS, "SMR0_1", "STOFCY VCRNUM IPTDAT TRSCOD VCRDES MVTDES"),
            _tab(SMV_FIELDS, "SMR1_1", SMV_LINE, 500),
        )),
        Publication("SMO", "SMO", "Miscellaneous issue", (
            _grp(SMV_FIELDS, "SMO0_1", "STOFCY VCRNUM IPTDAT TRSCOD VCRDES MVTDES"),
            _tab(SMV_FIELDS, "SMO1_1", SMV_LINE, 500),
        )),
    )}


def _custom() -> dict[str, Publication]:
    return {p.name: p for p in (
        Publication("SOH", "SOH", "Sales order (WSCOMCLT layout)", (
            _grp(SOH_FIELDS, "SOH0_1", "SALFCY SOHTYP SOHNUM CUSORDREF"),
            _grp(SOH_FIELDS, "SOH0_2", "BPCORD ORDDAT CUR BPCINV BPCPYR BPAADD"),
            _grp(SOH_FIELDS, "SOH0_3", "ORDSTA ALLSTA DLVSTA INVSTA STOFCY DEMDLVDAT SHIDAT MDL BPTNUM "
                                       "YTRKNUM YFULCHN INVDTAAMT ORDNOT"),
            _grp(SOH_FIELDS, "ADB2_2", SOH_ADDRESS),
            _tab(SOH_FIELDS, "SOH1_1", SOH_LINE, 500),
        )),
        Publication("BPC", "BPC", "Customer", (
            _grp(BPC_FIELDS, "BPC0_1", "BPCNUM BPCNAM"),
            _grp(BPC_FIELDS, "BPC1_2", "BPCSHO CUR BPCSTA CRY LAN"),
        )),
        Publication("ITM", "ITM", "Item", (
            _grp(ITM_FIELDS, "ITM0_1", "ITMREF ITMDES1"),
            _grp(ITM_FIELDS, "ITM1_2", "ITMDES2 ITMDES3 STU SAU TCLCOD ITMSTA"),
        )),
        Publication("SIH", "SIH", "Sales invoice / credit note", (
            _grp(SIH_FIELDS, "SIH0_1", "SALFCY SIVTYP NUM"),
            _grp(SIH_FIELDS, "SIH0_2", "INVREF INVDAT BPCINV CUR YAMZORDREF AMTNOT AMTATI INVDTAAMT"),
            _tab(SIH_FIELDS, "SIH1_1", SIH_LINE, 300),
        )),
        Publication("GAS", "GAS", "Journal entry (GACCENTRY)", (
            _grp(GAS_FIELDS, "YJE0_1", "TYP NUM FCY JOU ACCDAT"),
            _grp(GAS_FIELDS, "YJE0_2", "CUR RATMLT DESVCR REF"),
            _tab(GAS_FIELDS, "YJE1_1", GAS_LINE, 999),
        )),
        Publication("SMR", "SMR", "Miscellaneous receipt (ZSMR layout)", (
            _grp(SMV_FIELDS, "SMR0_1", "STOFCY VCRNUM IPTDAT"),
            _grp(SMV_FIELDS, "SMR0_2", "TRSCOD VCRDES MVTDES"),
            _tab(SMV_FIELDS, "SMR1_2", SMV_LINE, 500),
        )),
        Publication("SMO", "SMO", "Miscellaneous issue (ZSMO layout)", (
            _grp(SMV_FIELDS, "SMO0_1", "STOFCY VCRNUM IPTDAT"),
            _grp(SMV_FIELDS, "SMO0_2", "TRSCOD VCRDES MVTDES"),
            _tab(SMV_FIELDS, "SMO1_2", SMV_LINE, 500),
        )),
    )}


def layout(name: str, group_ids: dict[str, dict[str, str]] | None = None) -> dict[str, Publication]:
    """The publications of a layout; `group_ids` renames groups per publication, e.g.
    {"SOH": {"SOH4_1": "YSOHLIN"}}, as a customer's own GESAWE publication would."""
    if name == "standard":
        pubs = _standard()
    elif name == "custom":
        pubs = _custom()
    else:
        raise ValueError(f"unknown layout {name!r}; choose one of {LAYOUT_NAMES}")
    for pub_name, renames in (group_ids or {}).items():
        pub = pubs.get(pub_name)
        if pub is None:
            raise ValueError(f"no publication {pub_name} to rename groups of")
        unknown = set(renames) - {g.id for g in pub.groups}
        if unknown:
            raise ValueError(f"publication {pub_name} has no group {', '.join(sorted(unknown))}")
        groups = tuple(Group(renames.get(g.id, g.id), g.fields, g.table, g.dim) for g in pub.groups)
        pubs[pub_name] = Publication(pub.name, pub.object, pub.title, groups)
    return pubs
