"""X3's physical tables, in X3's own shape: one SQL column per dictionary field with the `_0` index
suffix (`_1.._n` for dimensioned fields), a technical ROWID, audit columns, and never a NULL
(empty string, 0, or the 1753-01-01 date sentinel used by X3 on SQL Server).

Decimals are stored exactly: NUMERIC on PostgreSQL, canonical text on SQLite (whose NUMERIC is a
binary float underneath).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
)
from sqlalchemy.types import TypeDecorator

NO_DATE = date(1753, 1, 1)
metadata = MetaData()


class X3Decimal(TypeDecorator):
    impl = Numeric(28, 8)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(28, 8))

    def process_bind_param(self, value, dialect):
        if value is None:
            value = Decimal("0")
        if isinstance(value, float):
            raise TypeError("X3 decimals are never floats")
        value = Decimal(value)
        return format(value, "f") if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return Decimal("0")
        return Decimal(value).normalize() if isinstance(value, str) else Decimal(value)


def _columns(spec: str) -> list[Column]:
    """'NAME:type' pairs: c=char (len), i=integer (local menu), d=decimal, t=date; NAME*3 = dimension 3."""
    cols: list[Column] = []
    for token in spec.split():
        name, _, kind = token.partition(":")
        dim = 1
        if "*" in name:
            name, dim_text = name.split("*")
            dim = int(dim_text)
        for idx in range(dim):
            col_name = f"{name}_{idx}"
            if kind.startswith("c"):
                length = int(kind[1:] or 30)
                cols.append(Column(col_name, String(length), nullable=False, default=""))
            elif kind == "i":
                cols.append(Column(col_name, Integer, nullable=False, default=0))
            elif kind == "d":
                cols.append(Column(col_name, X3Decimal(), nullable=False, default=Decimal("0")))
            elif kind == "t":
                cols.append(Column(col_name, Date, nullable=False, default=NO_DATE))
            else:
                raise ValueError(token)
    return cols


def _audit() -> list[Column]:
    return [
        Column("CREUSR_0", String(5), nullable=False, default=""),
        Column("CREDATTIM_0", DateTime, nullable=False, default=datetime(1753, 1, 1)),
        Column("UPDUSR_0", String(5), nullable=False, default=""),
        Column("UPDDATTIM_0", DateTime, nullable=False, default=datetime(1753, 1, 1)),
        Column("AUUID_0", String(36), nullable=False, default=""),
    ]


def _table(name: str, spec: str, *indexes: tuple[str, ...]) -> Table:
    table = Table(
        name,
        metadata,
        Column("ROWID", Integer, primary_key=True, autoincrement=True),
        *_columns(spec),
        *_audit(),
    )
    for idx_no, idx_cols in enumerate(indexes):
        Index(f"{name}_{idx_cols[0].split('_')[0]}{idx_no}", *(table.c[c] for c in idx_cols),
              unique=idx_no == 0)
    return table


SORDER = _table(
    "SORDER",
    "SOHNUM:c20 SOHTYP:c5 SALFCY:c5 STOFCY:c5 CPY:c5 BPCORD:c15 BPCINV:c15 BPCPYR:c15 BPAADD:c5 "
    "ORDDAT:t SHIDAT:t DEMDLVDAT:t CUR:c3 CUSORDREF:c30 ORDSTA:i ALLSTA:i DLVSTA:i INVSTA:i "
    "BPDNAM*2:c35 BPDADDLIG*3:c50 BPDCTY:c40 BPDSAT:c35 BPDPOSCOD:c10 BPDCRY:c3 BPDTEL:c20 "
    "MDL:c5 BPTNUM:c15 YTRKNUM:c40 YFULCHN:c3 INVDTAAMT*3:d ORDNOT:d ORDINVNOT:d CLEFLG:i",
    ("SOHNUM_0",),
    ("CUSORDREF_0",),
)
SORDERQ = _table(
    "SORDERQ",
    "SOHNUM:c20 SOPLIN:i SOQSEQ:i ITMREF:c20 SALFCY:c5 STOFCY:c5 BPCORD:c15 QTY:d QTYSTU:d DLVQTY:d "
    "ODLQTY:d DEMDLVDAT:t SHIDAT:t SOQSTA:i",
    ("SOHNUM_0", "SOPLIN_0", "SOQSEQ_0"),
)
SORDERP = _table(
    "SORDERP",
    "SOHNUM:c20 SOPLIN:i SOPSEQ:i ITMREF:c20 ITMDES:c30 SAU:c3 GROPRI:d NETPRI:d DISCRGVAL*3:d "
    "YAMZITMID:c30",
    ("SOHNUM_0", "SOPLIN_0", "SOPSEQ_0"),
)
BPCUSTOMER = _table(
    "BPCUSTOMER",
    "BPCNUM:c15 BPCNAM*2:c35 BPCSHO:c10 BCGCOD:c5 CUR:c3 CRY:c3 LAN:c3 BPCSTA:i PTE:c15 ACCCOD:c10",
    ("BPCNUM_0",),
)
ITMMASTER = _table(
    "ITMMASTER",
    "ITMREF:c20 ITMDES1:c30 ITMDES2:c30 ITMDES3:c30 TCLCOD:c5 STU:c3 SAU:c3 ITMSTA:i ACCCOD:c10 "
    "EANCOD:c20 ITMWEI:d",
    ("ITMREF_0",),
)
# sales price list lines (issue 18): one price per price list code and item, valid from PLISTRDAT to PLIENDDAT
# (NO_DATE = open-ended). [UNCONFIRMED] X3's SPRICLIST keys lines by PLICRD (the price list code) and its criteria
# values PLICRI1.. (here the item); the quantity brackets and the other criteria are left out.
SPRICLIST = _table(
    "SPRICLIST",
    "PLICRD:c5 PLICRI1:c20 CUR:c3 PLISTRDAT:t PLIENDDAT:t PRI:d",
    ("PLICRD_0", "PLICRI1_0", "PLISTRDAT_0"),
)
ITMMVT = _table(
    "ITMMVT",
    "STOFCY:c5 ITMREF:c20 PHYSTO:d CTLSTO:d REJSTO:d PHYALL:d GLOALL:d ORDSTO:d AVC:d",
    ("STOFCY_0", "ITMREF_0"),
)
STOCK = _table(
    "STOCK",
    "STOFCY:c5 STOCOU:i ITMREF:c20 LOT:c15 LOC:c10 STA:c3 PCU:c3 QTYPCU:d QTYSTU:d",
    ("STOFCY_0", "STOCOU_0"),
)
# stock journal: one line per movement line. VCRTYP (local menu 701) [UNCONFIRMED values]: 20 miscellaneous
# receipt, 21 miscellaneous issue; TRSCOD is the movement's transaction (reason) code, MVTDES its description.
STOJOU = _table(
    "STOJOU",
    "STOFCY:c5 VCRNUM:c20 VCRLIN:i VCRTYP:i ITMREF:c20 QTYSTU:d IPTDAT:t LOC:c10 STA:c3 TRSCOD:c5 "
    "MVTDES:c30 VCRDES:c30",
    ("STOFCY_0", "VCRNUM_0", "VCRLIN_0"),
    ("MVTDES_0",),
)
SINVOICE = _table(
    "SINVOICE",
    "NUM:c20 SIVTYP:c5 INVTYP:i SNS:i SALFCY:c5 CPY:c5 INVREF:c30 INVDAT:t ACCDAT:t BPCINV:c15 "
    "BPCORD:c15 CUR:c3 AMTNOT:d AMTATI:d INVDTAAMT*3:d YAMZORDREF:c30 STA:i",
    ("NUM_0",),
    ("INVREF_0",),
)
SINVOICED = _table(
    "SINVOICED",
    "NUM:c20 SIDLIN:i ITMREF:c20 ITMDES1:c30 QTY:d GROPRI:d DISCRGVAL:d NETPRI:d AMTNOTLIN:d SOHNUM:c20 "
    "SIHORINUM:c20",
    ("NUM_0", "SIDLIN_0"),
)
GACCENTRY = _table(
    "GACCENTRY",
    "TYP:c5 NUM:c20 CPY:c5 FCY:c5 JOU:c5 ACCDAT:t CUR:c3 RATMLT:d RATDIV:d DESVCR:c30 REF:c30 "
    "STA:i TOTDEB:d TOTCDT:d",
    ("TYP_0", "NUM_0"),
    ("REF_0",),
)
GACCENTRYD = _table(
    "GACCENTRYD",
    "TYP:c5 NUM:c20 LIN:i LEDTYP:i CPY:c5 FCYLIN:c5 ACCDAT:t ACC:c15 DES:c30 SNS:i AMTCUR:d "
    "AMTLED:d CUR:c3 FREREF:c30 VAT:c5 BPR:c15",
    ("TYP_0", "NUM_0", "LIN_0", "LEDTYP_0"),
)
# reference data
COMPANY = _table("COMPANY", "CPY:c5 CPYNAM:c35 CUR:c3 CRY:c3", ("CPY_0",))
FACILITY = _table(
    "FACILITY", "FCY:c5 FCYNAM:c35 LEGCPY:c5 SALFLG:i STOFLG:i CRY:c3 YAMZMKP:c20", ("FCY_0",)
)
# YCOLLECT (1 No / 2 Yes): a collective (control) account, whose entry lines need a business partner (BPR).
# sage-erp.md names GACCENTRYD.BPR but documents no GACCOUNT field for the collective flag: a specific field here.
GACCOUNT = _table("GACCOUNT", "COA:c10 ACC:c15 DES:c30 SHODES:c10 ACCTYP:i YCOLLECT:i", ("COA_0", "ACC_0"))
PERIOD = _table(
    "PERIOD", "CPY:c5 FIY:i PER:i PERSTRDAT:t PERENDDAT:t PERSTA:i", ("CPY_0", "FIY_0", "PER_0")
)
# tax codes (X3 function GESTVT) [UNCONFIRMED: sage-erp.md names GACCENTRYD.VAT nowhere; X3 keeps tax codes in
# TABVAT, key VAT, and validates a journal line's code against it]
TABVAT = _table("TABVAT", "VAT:c5 DES:c30", ("VAT_0",))
# YNOINV (specific field, local menu 1 No / 2 Yes): deliveries of orders of this type are not invoiced
TABSOHTYP = _table("TABSOHTYP", "SOHTYP:c5 DES:c30 SOHCAT:i YNOINV:i", ("SOHTYP_0",))
TABCUR = _table("TABCUR", "CUR:c3 DES:c30", ("CUR_0",))
# exchange rates (TABCHANGE): 1 CUR = CHGRAT CURDEN from CHGSTRDAT on, per rate type CHGTYP (1 daily rate)
# [UNCONFIRMED column names beyond CUR/CURDEN/CHGTYP/CHGSTRDAT/CHGRAT: sage-erp.md only names the table]
TABCHANGE = _table("TABCHANGE", "CUR:c3 CURDEN:c3 CHGTYP:i CHGSTRDAT:t CHGRAT:d",
                   ("CUR_0", "CURDEN_0", "CHGTYP_0", "CHGSTRDAT_0"))
# document counters (X3's AVALNUM: one value per counter, site and period)
AVALNUM = _table("AVALNUM", "CODNUM:c10 SITE:c5 PERIODE:i VALEUR:i", ("CODNUM_0", "SITE_0", "PERIODE_0"))

# PERSTA local menu [UNCONFIRMED values]: 1 not open, 2 open, 3 closed
PERIOD_NOT_OPEN, PERIOD_OPEN, PERIOD_CLOSED = 1, 2, 3
