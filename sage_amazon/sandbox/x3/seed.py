"""Reference data of the sandbox folder, mirroring the Amazon sandbox's seller (see README.md)."""

from __future__ import annotations

import calendar
import textwrap
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Engine, func, insert, select

from sage_amazon.sandbox.seller_catalog import ACCOUNTS, MISSING_SKUS

from . import tables as t

COMPANY_CODE = "NWUS"
CHART = "US"

SITES = (
    # code, name, sales site, storage site, country, Amazon marketplace served
    ("US01", "Northwind US sales & warehouse", 2, 2, "US", "ATVPDKIKX0DER"),
    ("GB01", "Northwind UK sales & stock", 2, 2, "GB", "A1F83G8C2ARO7P"),
    ("DE01", "Northwind DE sales & stock", 2, 2, "DE", "A1PA6795UKMFR9"),
    ("FBAUS", "Amazon FBA US fulfilment centres", 1, 2, "US", ""),
    ("FBAEU", "Amazon FBA EU fulfilment centres", 1, 2, "DE", ""),
)
CUSTOMERS = (
    # code, name, currency, country, language, marketplace
    ("AMZUS", "Amazon.com customers", "USD", "US", "ENG", "ATVPDKIKX0DER"),
    ("AMZGB", "Amazon.co.uk customers", "GBP", "GB", "BRI", "A1F83G8C2ARO7P"),
    ("AMZDE", "Amazon.de Kunden", "EUR", "DE", "GER", "A1PA6795UKMFR9"),
)
RENAMED_SKUS = {"NW-BOTTLE-1L": "NW-BTL-1000", "NW-LAMP-300": "NW-HL300"}
FISCAL_YEARS = (2025, 2026, 2027)
CLOSED_PERIODS = ((2025, 6),)
# SNI: the orders of Amazon sellers whose revenue comes from the settlement journal (accounts.yaml
# revenue: settlement): deliveries of this type are not invoiced (YNOINV 2 = yes, a specific field)
# dated daily rates to the company currency (USD): 1 unit = rate USD from that day on
RATES = tuple((date(2026, m, 1), cur, rate) for m, rates in (
    (1, {"GBP": "1.2600", "EUR": "1.0700", "CAD": "0.7350", "MXN": "0.0560", "JPY": "0.0068", "AUD": "0.6550"}),
    (4, {"GBP": "1.2650", "EUR": "1.0750", "CAD": "0.7320", "MXN": "0.0555", "JPY": "0.0067", "AUD": "0.6580"}),
    (7, {"GBP": "1.2700", "EUR": "1.0800", "CAD": "0.7300", "MXN": "0.0550", "JPY": "0.0066", "AUD": "0.6600"}),
    (10, {"GBP": "1.2750", "EUR": "1.0850", "CAD": "0.7280", "MXN": "0.0545", "JPY": "0.0065", "AUD": "0.6620"}),
) for cur, rate in rates.items())
# collective (control) accounts: customers' receivables; their entry lines need a business partner (BPR)
COLLECTIVE_ACCOUNTS = frozenset({"1100"})
ORDER_TYPES = (("SON", "Normal sales order", 1), ("SNI", "Amazon: not invoiced", 2))
CURRENCIES = (("USD", "US dollar"), ("GBP", "Pound sterling"), ("EUR", "Euro"), ("CAD", "Canadian dollar"),
              ("MXN", "Mexican peso"), ("JPY", "Japanese yen"), ("AUD", "Australian dollar"))


def _audit() -> dict:
    now = datetime(2025, 1, 1, 8, 0, 0)
    return {"CREUSR_0": "ADMIN", "CREDATTIM_0": now, "UPDUSR_0": "ADMIN", "UPDDATTIM_0": now,
            "AUUID_0": str(uuid.uuid4())}


def item_code(sku: str) -> str | None:
    """The X3 item that stands for an Amazon SKU in this folder (None: deliberately not created)."""
    if sku in MISSING_SKUS:
        return None
    return RENAMED_SKUS.get(sku, sku)


def seed(engine: Engine, catalog: Iterable | None = None) -> None:
    """Create the tables and load the reference data once (a no-op on a seeded database)."""
    t.metadata.create_all(engine)
    seed_tax_codes(engine)
    if catalog is None:
        from sage_amazon.sandbox.seller_catalog import CATALOG as catalog
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(t.COMPANY)).scalar():
            return
        conn.execute(insert(t.COMPANY), [{"CPY_0": COMPANY_CODE, "CPYNAM_0": "Northwind Outdoor Goods LLC",
                                           "CUR_0": "USD", "CRY_0": "US", **_audit()}])
        conn.execute(insert(t.FACILITY), [
            {"FCY_0": code, "FCYNAM_0": name, "LEGCPY_0": COMPANY_CODE, "SALFLG_0": sal, "STOFLG_0": sto,
             "CRY_0": cry, "YAMZMKP_0": mkp, **_audit()}
            for code, name, sal, sto, cry, mkp in SITES])
        conn.execute(insert(t.BPCUSTOMER), [
            {"BPCNUM_0": code, "BPCNAM_0": name, "BPCSHO_0": code, "BCGCOD_0": "AMZ", "CUR_0": cur,
             "CRY_0": cry, "LAN_0": lan, "BPCSTA_0": 2, "PTE_0": "AMAZON", "ACCCOD_0": "AMZ", **_audit()}
            for code, name, cur, cry, lan, _mkp in CUSTOMERS])
        conn.execute(insert(t.GACCOUNT), [
            {"COA_0": CHART, "ACC_0": acc, "DES_0": des, "SHODES_0": des[:10], "ACCTYP_0": 1,
             "YCOLLECT_0": 2 if acc in COLLECTIVE_ACCOUNTS else 1, **_audit()}
            for acc, des in ACCOUNTS])
        periods = []
        for year in FISCAL_YEARS:
            for month in range(1, 13):
                last = calendar.monthrange(year, month)[1]
                status = t.PERIOD_CLOSED if (year, month) in CLOSED_PERIODS else t.PERIOD_OPEN
                periods.append({"CPY_0": COMPANY_CODE, "FIY_0": year, "PER_0": month,
                                "PERSTRDAT_0": date(year, month, 1), "PERENDDAT_0": date(year, month, last),
                                "PERSTA_0": status, **_audit()})
        conn.execute(insert(t.PERIOD), periods)
        conn.execute(insert(t.TABSOHTYP), [{"SOHTYP_0": c, "DES_0": d, "SOHCAT_0": 1, "YNOINV_0": n,
                                             **_audit()} for c, d, n in ORDER_TYPES])
        conn.execute(insert(t.TABCUR), [{"CUR_0": c, "DES_0": d, **_audit()} for c, d in CURRENCIES])
        conn.execute(insert(t.TABCHANGE), [
            {"CUR_0": cur, "CURDEN_0": "USD", "CHGTYP_0": 1, "CHGSTRDAT_0": day, "CHGRAT_0": Decimal(rate), **_audit()}
            for day, cur, rate in RATES])
        items, mvts, stock = [], [], []
        for idx, entry in enumerate(catalog):
            code = item_code(entry.sku)
            if code is None:
                continue
            title = [*textwrap.wrap(entry.title, 30), "", ""]
            items.append({"ITMREF_0": code, "ITMDES1_0": title[0], "ITMDES2_0": title[1][:30],
                          "ITMDES3_0": entry.asin, "TCLCOD_0": "FG", "STU_0": "UN", "SAU_0": "UN",
                          "ITMSTA_0": 1, "ACCCOD_0": "STD", "EANCOD_0": "", "ITMWEI_0": entry.weight_kg,
                          **_audit()})
            sites = ("US01", "FBAUS", "FBAEU") if entry.fba else ("US01",)
            for site_no, site in enumerate(sites):
                qty = Decimal(20 + (idx * 7 + site_no * 13) % 60)
                allocated = Decimal(idx % 3)
                mvts.append({"STOFCY_0": site, "ITMREF_0": code, "PHYSTO_0": qty, "PHYALL_0": allocated,
                             "AVC_0": entry.unit_cost, **_audit()})
                stock.append({"STOFCY_0": site, "STOCOU_0": len(stock) + 1, "ITMREF_0": code,
                              "LOT_0": "", "LOC_0": "A01" if site == "US01" else "FBA", "STA_0": "A",
                              "PCU_0": "UN", "QTYPCU_0": qty, "QTYSTU_0": qty, **_audit()})
        _flag_listed_items(items)
        conn.execute(insert(t.ITMMASTER), items)
        conn.execute(insert(t.SPRICLIST), _price_list_lines())
        conn.execute(insert(t.ITMMVT), mvts)
        conn.execute(insert(t.STOCK), stock)


def seed_tax_codes(engine: Engine) -> None:
    """The seller's tax codes (TABVAT), also into a folder seeded before they existed."""
    from sage_amazon.sandbox.seller_catalog import TAX_CODES

    with engine.begin() as conn:
        if not conn.execute(select(func.count()).select_from(t.TABVAT)).scalar():
            conn.execute(insert(t.TABVAT), [{"VAT_0": c, "DES_0": d[:30], **_audit()} for c, d in TAX_CODES])


def seed_web_orders(engine: Engine) -> bool:
    """The web shop's orders (sandbox/web_orders.py: order type SWEB, customer WEBUS, sales site US01), once: what
    `sandbox up` adds for Multi-Channel Fulfillment (`sandbox x3 --web-orders`). False when already there."""
    from sage_amazon.sandbox.web_orders import WEB_ORDER_TYPE

    with engine.begin() as conn:
        if conn.execute(select(t.TABSOHTYP.c.SOHTYP_0).where(t.TABSOHTYP.c.SOHTYP_0 == WEB_ORDER_TYPE)).first():
            return False
        _seed_web_orders(conn)
    return True


def _seed_web_orders(conn) -> None:
    from sage_amazon.sandbox.web_orders import WEB_CUSTOMER, WEB_ORDER_TYPE, WEB_ORDERS

    conn.execute(insert(t.TABSOHTYP), [{"SOHTYP_0": WEB_ORDER_TYPE, "DES_0": "Web shop order", "SOHCAT_0": 1,
                                         "YNOINV_0": 1, **_audit()}])
    code, name, cur, cry = WEB_CUSTOMER
    conn.execute(insert(t.BPCUSTOMER), [{"BPCNUM_0": code, "BPCNAM_0": name, "BPCSHO_0": code, "BCGCOD_0": "WEB",
                                          "CUR_0": cur, "CRY_0": cry, "LAN_0": "ENG", "BPCSTA_0": 2, "PTE_0": "CARD",
                                          "ACCCOD_0": "STD", **_audit()}])
    for order in WEB_ORDERS:
        nam, line1, city, state, postal, country = order.ship_to
        conn.execute(insert(t.SORDER).values(
            SOHNUM_0=order.number, SOHTYP_0=WEB_ORDER_TYPE, SALFCY_0="US01", STOFCY_0="US01", CPY_0=COMPANY_CODE,
            BPCORD_0=code, BPCINV_0=code, BPCPYR_0=code, BPAADD_0="MAIN", ORDDAT_0=order.order_date,
            SHIDAT_0=t.NO_DATE, DEMDLVDAT_0=order.order_date, CUR_0=cur, CUSORDREF_0=f"WEB-{order.number[-5:]}",
            ORDSTA_0=1, ALLSTA_0=1, DLVSTA_0=1, INVSTA_0=1, BPDNAM_0=nam, BPDNAM_1="", BPDADDLIG_0=line1,
            BPDADDLIG_1="", BPDADDLIG_2="", BPDCTY_0=city, BPDSAT_0=state, BPDPOSCOD_0=postal, BPDCRY_0=country,
            BPDTEL_0="", MDL_0="", BPTNUM_0="", YTRKNUM_0="", YFULCHN_0="", INVDTAAMT_0=Decimal(0),
            INVDTAAMT_1=Decimal(0), INVDTAAMT_2=Decimal(0), ORDNOT_0=Decimal(0), ORDINVNOT_0=Decimal(0), CLEFLG_0=1,
            **_audit()))
        for line_no, (sku, qty, price) in enumerate(order.lines, start=1):
            item = item_code(sku)
            conn.execute(insert(t.SORDERP).values(
                SOHNUM_0=order.number, SOPLIN_0=line_no * 1000, SOPSEQ_0=1, ITMREF_0=item,
                ITMDES_0=item, SAU_0="UN", GROPRI_0=Decimal(price), NETPRI_0=Decimal(price), DISCRGVAL_0=Decimal(0),
                DISCRGVAL_1=Decimal(0), DISCRGVAL_2=Decimal(0), YAMZITMID_0="", **_audit()))
            conn.execute(insert(t.SORDERQ).values(
                SOHNUM_0=order.number, SOPLIN_0=line_no * 1000, SOQSEQ_0=1, ITMREF_0=item,
                SALFCY_0="US01", STOFCY_0="US01", BPCORD_0=code, QTY_0=Decimal(qty), QTYSTU_0=Decimal(qty),
                DLVQTY_0=Decimal(0), ODLQTY_0=Decimal(0), DEMDLVDAT_0=order.order_date, SHIDAT_0=t.NO_DATE,
                SOQSTA_0=1, **_audit()))


def _flag_listed_items(items: list[dict]) -> None:
    """The items flagged for Amazon (sandbox/listing_items.py): category AMZ; the new ones created (no stock)."""
    from sage_amazon.sandbox.listing_items import LISTED_BY_CODE, LISTED_ITEMS, X3_CATEGORY

    for row in items:
        if row["ITMREF_0"] in LISTED_BY_CODE:
            row.update({"TCLCOD_0": X3_CATEGORY, "EANCOD_0": LISTED_BY_CODE[row["ITMREF_0"]].ean})
    for entry in (e for e in LISTED_ITEMS if e.new):
        title = [*textwrap.wrap(entry.title, 30), "", ""]
        items.append({"ITMREF_0": entry.code, "ITMDES1_0": title[0], "ITMDES2_0": title[1][:30], "ITMDES3_0": "",
                      "TCLCOD_0": X3_CATEGORY, "STU_0": "UN", "SAU_0": "UN", "ITMSTA_0": 1, "ACCCOD_0": "STD",
                      "EANCOD_0": entry.ean, "ITMWEI_0": entry.weight_kg, **_audit()})


def _price_list_lines() -> list[dict]:
    from sage_amazon.sandbox.listing_items import LISTED_ITEMS, PRICE_LISTS

    return [{"PLICRD_0": code, "PLICRI1_0": entry.code, "CUR_0": PRICE_LISTS[code], "PLISTRDAT_0": date(2020, 1, 1),
             "PLIENDDAT_0": t.NO_DATE, "PRI_0": price, **_audit()}
            for entry in LISTED_ITEMS for code, price in entry.prices.items()]
