"""Reference data of the Sage 500 sandbox company, mirroring the Amazon sandbox's seller (README.md).

Account numbers, customers, sites, missing SKUs and the closed period match the X3 sandbox so that
both targets give the same business result. Seeding runs once: a seeded company is left untouched.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, text

from sage_amazon.sandbox.seller_catalog import ACCOUNTS, MISSING_SKUS

COMPANY_ID = "NWD"
COMPANY_NAME = "Northwind Outdoor Goods LLC"
HOME_CURRENCY = "USD"
MODULES = (1, 2, 5, 7, 8)  # GL, CI, AR, IM, SO
CURRENCIES = (("USD", "US Dollar"), ("GBP", "Pound Sterling"), ("EUR", "Euro"), ("CAD", "Canadian Dollar"),
              ("MXN", "Mexican Peso"), ("JPY", "Japanese Yen"), ("AUD", "Australian Dollar"))

WAREHOUSES = (
    # WhseID, description, bin
    ("US01", "Northwind US warehouse (MFN)", "A01"),
    ("GB01", "Northwind UK sales (no stock)", "A01"),
    ("DE01", "Northwind DE sales (no stock)", "A01"),
    ("FBAUS", "Amazon FBA US fulfilment centres", "FBA"),
    ("FBAEU", "Amazon FBA EU fulfilment centres", "FBA"),
)
DAMAGED_BIN = "DMG"
SHIP_METHODS = (
    ("UPS GROUND", "UPS Ground"),
    ("UPS 2ND DAY", "UPS 2nd Day Air"),
    ("FEDEX GROUND", "FedEx Ground"),
    ("FEDEX 2DAY", "FedEx 2Day"),
    ("USPS PRIORITY", "USPS Priority Mail"),
    ("USPS FIRST", "USPS First-Class Package"),
    ("DHL EXPRESS", "DHL Express Worldwide"),
    ("DHL PAKET", "DHL Paket (DE)"),
    ("ROYAL MAIL 48", "Royal Mail Tracked 48"),
    ("DPD NEXT DAY", "DPD Next Day"),
    ("AMAZON SHIP", "Amazon Shipping"),
    ("BEST WAY", "Best way (carrier chosen at shipping)"),
)
CUSTOMERS = (
    # CustID, name, currency, country, default warehouse, default ship method, Amazon marketplace
    ("AMZUS", "Amazon.com customers", "USD", "US", "US01", "USPS PRIORITY", "ATVPDKIKX0DER"),
    ("AMZGB", "Amazon.co.uk customers", "GBP", "GB", "GB01", "ROYAL MAIL 48", "A1F83G8C2ARO7P"),
    ("AMZDE", "Amazon.de Kunden", "EUR", "DE", "DE01", "DHL PAKET", "A1PA6795UKMFR9"),
)
SUSPENSE_ACCOUNT = "2990"
# the AMAZON customer class's GL accounts (AR documents): AR control, sales, sales returns, freight, sales tax
CLASS_ACCOUNTS = {"ar": "1100", "sales": "4000", "rtrn": "4060", "frt": "4010", "tax": "2200"}
REASON_CODES = (("FBA", "Amazon FBA stock adjustment"), ("DAMAGED", "Damaged stock"))
FISCAL_YEARS = (2025, 2026, 2027)
CLOSED_PERIODS = ((2025, 6),)


def item_id(sku: str) -> str | None:
    """The Sage 500 ItemID of an Amazon SellerSKU (the SKU itself), None when deliberately missing."""
    return None if sku in MISSING_SKUS else sku


def _stock_sites(entry) -> tuple[str, ...]:
    return ("US01", "FBAUS", "FBAEU") if entry.fba else ("US01",)


def seed(conn: Connection, catalog: Iterable | None = None) -> bool:
    """Load the reference data once; return False when the company was already seeded."""
    if conn.execute(text("SELECT 1 FROM tsmCompany WHERE CompanyID = :c"), {"c": COMPANY_ID}).first():
        return False
    if catalog is None:
        from sage_amazon.sandbox.seller_catalog import CATALOG as catalog
    ex = conn.execute
    c = {"c": COMPANY_ID}
    ex(text("INSERT INTO tsmCompany (CompanyID, CompanyName, CurrID) VALUES (:c, :n, :cur)"),
       {**c, "n": COMPANY_NAME, "cur": HOME_CURRENCY})
    ex(text("INSERT INTO tsmCompanyModule (CompanyID, ModuleNo, Active) VALUES (:c, :m, 1)"),
       [{**c, "m": m} for m in MODULES])
    ex(text("INSERT INTO tmcCurrency (CurrID, CurrDesc, DigitsAfterDecimal) VALUES (:i, :d, :n) "
            "ON CONFLICT DO NOTHING"), [{"i": i, "d": d, "n": 0 if i == "JPY" else 2} for i, d in CURRENCIES])
    ex(text("INSERT INTO tciUnitMeasure (CompanyID, UnitMeasID, Description) VALUES (:c, 'EA', 'Each')"), c)
    ex(text("INSERT INTO tciShipMethod (CompanyID, ShipMethID, ShipMethDesc) VALUES (:c, :i, :d)"),
       [{**c, "i": i, "d": d} for i, d in SHIP_METHODS])
    for whse, desc, bin_id in WAREHOUSES:
        ex(text("INSERT INTO timWarehouse (CompanyID, WhseID, Description) VALUES (:c, :w, :d)"),
           {**c, "w": whse, "d": desc})
        ex(text("INSERT INTO timWhseBin (WhseKey, WhseBinID) SELECT WhseKey, :b FROM timWarehouse "
                "WHERE CompanyID = :c AND WhseID = :w"), {**c, "w": whse, "b": bin_id})
        if whse in ("US01", "FBAUS", "FBAEU"):  # a bin for returned units that cannot be sold (damaged...)
            ex(text("INSERT INTO timWhseBin (WhseKey, WhseBinID) SELECT WhseKey, :b FROM timWarehouse "
                    "WHERE CompanyID = :c AND WhseID = :w"), {**c, "w": whse, "b": DAMAGED_BIN})
    ex(text("INSERT INTO tarCustClass (CompanyID, CustClassID, Description) "
            "VALUES (:c, 'AMAZON', 'Amazon marketplace customers')"), c)
    for cust_id, name, cur, country, whse, meth, marketplace in CUSTOMERS:
        addr = ex(text("INSERT INTO tciAddress (AddrName, AddrLine1, City, CountryID) "
                       "VALUES (:n, 'Amazon marketplace buyers', '', :cty) RETURNING AddrKey"),
                  {"n": name, "cty": country}).scalar_one()
        cust = ex(text(
            "INSERT INTO tarCustomer (CompanyID, CustID, CustName, CustClassKey, PrimaryAddrKey, DfltBillToAddrKey,"
            " DfltShipToAddrKey, Status, UserFld1) SELECT :c, :id, :n, CustClassKey, :a, :a, :a, 1, :mkp"
            " FROM tarCustClass WHERE CompanyID = :c AND CustClassID = 'AMAZON' RETURNING CustKey"),
            {**c, "id": cust_id, "n": name, "a": addr, "mkp": marketplace}).scalar_one()
        ex(text("INSERT INTO tarCustAddr (AddrKey, CustKey, CustAddrID, CurrID, WhseKey, ShipMethKey) "
                "SELECT :a, :k, 'MAIN', :cur, w.WhseKey, m.ShipMethKey FROM timWarehouse w, tciShipMethod m "
                "WHERE w.CompanyID = :c AND w.WhseID = :w AND m.CompanyID = :c AND m.ShipMethID = :m"),
           {**c, "a": addr, "k": cust, "cur": cur, "w": whse, "m": meth})
    ex(text("INSERT INTO tglAccount (CompanyID, GLAcctNo, Description) VALUES (:c, :n, :d)"),
       [{**c, "n": n, "d": d} for n, d in ACCOUNTS])
    ex(text("UPDATE tarCustClass k SET ARAcctKey = a.ar, SalesAcctKey = a.sales, SalesReturnAcctKey = a.rtrn, "
            "FreightAcctKey = a.frt, STaxAcctKey = a.tax FROM (SELECT "
            + ", ".join(f"max(GLAcctKey) FILTER (WHERE GLAcctNo = '{n}') AS {k}" for k, n in CLASS_ACCOUNTS.items())
            + " FROM tglAccount WHERE CompanyID = :c) a WHERE k.CompanyID = :c AND k.CustClassID = 'AMAZON'"), c)
    ex(text("INSERT INTO tglOptions (CompanyID, SuspenseAcctKey, UseSuspenseAcct) SELECT :c, GLAcctKey, 0 "
            "FROM tglAccount WHERE CompanyID = :c AND GLAcctNo = :s"), {**c, "s": SUSPENSE_ACCOUNT})
    ex(text("INSERT INTO tglJournal (CompanyID, JrnlID, Description) VALUES (:c, 'GJ', 'General journal')"), c)
    ex(text("INSERT INTO tciReasonCode (CompanyID, ReasonCodeID, Description, TranType) VALUES (:c, :r, :d, 710)"),
       [{**c, "r": r, "d": d} for r, d in REASON_CODES])
    for year in FISCAL_YEARS:
        ex(text("INSERT INTO tglFiscalYear (CompanyID, FiscYear, StartDate, EndDate) VALUES (:c, :y, :s, :e)"),
           {**c, "y": str(year), "s": date(year, 1, 1), "e": date(year, 12, 31)})
        ex(text("INSERT INTO tglFiscalPeriod (CompanyID, FiscYear, FiscPer, StartDate, EndDate, Status) "
                "VALUES (:c, :y, :p, :s, :e, :st)"),
           [{**c, "y": str(year), "p": month, "s": date(year, month, 1),
             "e": date(year, month, calendar.monthrange(year, month)[1]),
             "st": 2 if (year, month) in CLOSED_PERIODS else 1} for month in range(1, 13)])
    for idx, entry in enumerate(catalog):
        item = item_id(entry.sku)
        if item is None:
            continue
        key = ex(text(
            "INSERT INTO timItem (CompanyID, ItemID, ItemType, Status, StockUnitMeasKey, SalesUnitMeasKey, StdPrice,"
            " StdUnitCost) SELECT :c, :i, 5, 1, UnitMeasKey, UnitMeasKey, :p, :u FROM tciUnitMeasure"
            " WHERE CompanyID = :c AND UnitMeasID = 'EA' RETURNING ItemKey"),
            {**c, "i": item, "p": entry.price("ATVPDKIKX0DER"), "u": entry.unit_cost}).scalar_one()
        ex(text("INSERT INTO timItemDescription (ItemKey, ShortDesc, LongDesc) VALUES (:k, :s, :l)"),
           {"k": key, "s": entry.title[:40], "l": f"{entry.title} (ASIN {entry.asin})"})
        for site_no, site in enumerate(_stock_sites(entry)):
            qty = 20 + (idx * 7 + site_no * 13) % 60  # the same quantities (and allocations) as the X3 sandbox
            ex(text("INSERT INTO timWhseBinInvt (WhseBinKey, ItemKey, QtyOnHand) SELECT b.WhseBinKey, :k, :q "
                    "FROM timWhseBin b JOIN timWarehouse w ON w.WhseKey = b.WhseKey "
                    "WHERE w.CompanyID = :c AND w.WhseID = :w AND b.WhseBinID <> :dmg"),  # the main bin only
               {**c, "k": key, "q": qty, "w": site, "dmg": DAMAGED_BIN})
            ex(text("INSERT INTO timInventory (WhseKey, ItemKey, QtyOnSO) SELECT WhseKey, :k, :so FROM timWarehouse "
                    "WHERE CompanyID = :c AND WhseID = :w"), {**c, "k": key, "so": idx % 3, "w": site})
    _flag_listed_items(conn)
    return True


def seed_tax_codes(conn: Connection) -> int:
    """The seller's tax codes as account reference codes (tglAcctRef), added where missing (a company seeded
    before they existed gets them too); returns how many were added."""
    from sage_amazon.sandbox.seller_catalog import TAX_CODES

    added = 0
    for code, description in TAX_CODES:
        added += conn.execute(text(
            "INSERT INTO tglAcctRef (CompanyID, AcctRefCode, Description) SELECT :c, :r, :d WHERE EXISTS "
            "(SELECT 1 FROM tsmCompany WHERE CompanyID = :c) ON CONFLICT (CompanyID, AcctRefCode) DO NOTHING"),
            {"c": COMPANY_ID, "r": code, "d": description[:40]}).rowcount
    return added


def _flag_listed_items(conn: Connection) -> None:
    """The items flagged for Amazon (sandbox/listing_items.py): UserFld1 AMAZON, the EAN in UserFld2; the new ones
    created (no stock) at their US price list price."""
    from sage_amazon.sandbox.listing_items import LISTED_ITEMS, SAGE500_FLAG

    ex = conn.execute
    c = {"c": COMPANY_ID}
    for entry in LISTED_ITEMS:
        if entry.new:
            key = ex(text(
                "INSERT INTO timItem (CompanyID, ItemID, ItemType, Status, StockUnitMeasKey, SalesUnitMeasKey,"
                " StdPrice, StdUnitCost) SELECT :c, :i, 5, 1, UnitMeasKey, UnitMeasKey, :p, :u FROM tciUnitMeasure"
                " WHERE CompanyID = :c AND UnitMeasID = 'EA' RETURNING ItemKey"),
                {**c, "i": entry.code, "p": entry.prices["AMZUS"], "u": entry.unit_cost}).scalar_one()
            ex(text("INSERT INTO timItemDescription (ItemKey, ShortDesc, LongDesc) VALUES (:k, :s, :l)"),
               {"k": key, "s": entry.title[:40], "l": entry.title})
        ex(text("UPDATE timItem SET UserFld1 = :f, UserFld2 = :e WHERE CompanyID = :c AND ItemID = :i"),
           {**c, "f": SAGE500_FLAG, "e": entry.ean or None, "i": entry.code})


def seed_web_orders(conn: Connection) -> bool:
    """The web shop's orders (sandbox/web_orders.py: customer WEBUS of class WEB, warehouse US01, status open),
    once: what `sandbox up` adds for Multi-Channel Fulfillment (`sandbox sage500 --web-orders`)."""
    from sage_amazon.sandbox.web_orders import WEB_CUSTOMER, WEB_CUSTOMER_CLASS, WEB_ORDERS

    ex = conn.execute
    c = {"c": COMPANY_ID}
    if ex(text("SELECT 1 FROM tarCustClass WHERE CompanyID = :c AND CustClassID = :k"),
          {**c, "k": WEB_CUSTOMER_CLASS[0]}).first():
        return False
    ex(text("INSERT INTO tarCustClass (CompanyID, CustClassID, Description) VALUES (:c, :k, :d)"),
       {**c, "k": WEB_CUSTOMER_CLASS[0], "d": WEB_CUSTOMER_CLASS[1]})
    code, name, cur, country = WEB_CUSTOMER
    addr = ex(text("INSERT INTO tciAddress (AddrName, AddrLine1, City, CountryID) VALUES (:n, 'Web shop', '', :cty) "
                   "RETURNING AddrKey"), {"n": name, "cty": country}).scalar_one()
    cust = ex(text("INSERT INTO tarCustomer (CompanyID, CustID, CustName, CustClassKey, PrimaryAddrKey, "
                   "DfltBillToAddrKey, DfltShipToAddrKey, Status) SELECT :c, :id, :n, CustClassKey, :a, :a, :a, 1 "
                   "FROM tarCustClass WHERE CompanyID = :c AND CustClassID = :k RETURNING CustKey"),
              {**c, "id": code, "n": name, "a": addr, "k": WEB_CUSTOMER_CLASS[0]}).scalar_one()
    whse = ex(text("SELECT WhseKey FROM timWarehouse WHERE CompanyID = :c AND WhseID = 'US01'"), c).scalar_one()
    for order in WEB_ORDERS:
        nam, line1, city, state, postal, cty = order.ship_to
        ship_to = ex(text("INSERT INTO tciAddress (AddrName, AddrLine1, City, StateID, PostalCode, CountryID) "
                          "VALUES (:n, :l, :city, :st, :p, :cty) RETURNING AddrKey"),
                     {"n": nam, "l": line1, "city": city, "st": state, "p": postal, "cty": cty}).scalar_one()
        total = sum(qty * Decimal(price) for _, qty, price in order.lines)
        so = ex(text("INSERT INTO tsoSalesOrder (CompanyID, TranNo, TranID, TranType, CustKey, CustPONo, TranDate, "
                     "Status, CurrID, SalesAmt, TranAmt, OpenAmt, DfltWhseKey, DfltShipToAddrKey) VALUES (:c, :no, "
                     ":tid, 801, :cust, :po, :d, 1, :cur, :t, :t, :t, :w, :a) RETURNING SOKey"),
                {**c, "no": order.number, "tid": f"{order.number}-SO", "cust": cust, "po": f"WEB-{order.number[-5:]}",
                 "d": order.order_date, "cur": cur, "t": total, "w": whse, "a": ship_to}).scalar_one()
        for line_no, (sku, qty, price) in enumerate(order.lines, start=1):
            line = ex(text("INSERT INTO tsoSOLine (SOKey, SOLineNo, ItemKey, Description, UnitPrice, Status) "
                           "SELECT :so, :n, ItemKey, :sku, :p, 1 FROM timItem WHERE CompanyID = :c AND ItemID = :i "
                           "RETURNING SOLineKey"),
                       {**c, "so": so, "n": line_no, "sku": sku, "p": Decimal(price), "i": item_id(sku)}).scalar_one()
            ex(text("INSERT INTO tsoSOLineDist (SOLineKey, QtyOrd, OrigOrdered, ExtAmt, WhseKey, ShipToAddrKey) "
                    "VALUES (:l, :q, :q, :x, :w, :a)"),
               {"l": line, "q": qty, "x": qty * Decimal(price), "w": whse, "a": ship_to})
    return True
