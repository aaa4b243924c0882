"""The sandbox seller's identity: marketplaces and catalog (reference data, not a wire format).

The Amazon sandbox generates its orders, inventory and settlements from this catalog, and the Sage
sandboxes import it to seed items, customers and sites that mirror the Amazon side. It is fixed:
the seed changes the orders, never the catalog.

Prices are Decimal in the marketplace currency, tax-exclusive for the US and tax-inclusive (VAT) for
the UK and DE, as Amazon lists them. Unit cost is the seller's landed cost in USD (its home currency).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

SELLER_ID = "A2SAGESANDBOX01"
SELLER_NAME = "Northwind Outdoor Goods LLC"
HOME_CURRENCY = "USD"


@dataclass(frozen=True)
class Marketplace:
    marketplace_id: str
    country_code: str
    name: str  # the marketplace-name column of settlement files
    currency: str
    region: str  # SP-API region: na / eu / fe
    aws_region: str
    domain: str
    language: str
    vat_rate: Decimal  # 0 where the tax is added on top (US sales tax / marketplace facilitator)
    sales_tax_rate: Decimal  # US marketplace-facilitator tax, collected and remitted by Amazon


MARKETPLACES: tuple[Marketplace, ...] = (
    Marketplace("ATVPDKIKX0DER", "US", "Amazon.com", "USD", "na", "us-east-1", "www.amazon.com", "en_US",
                Decimal("0"), Decimal("0.0725")),
    Marketplace("A1F83G8C2ARO7P", "GB", "Amazon.co.uk", "GBP", "eu", "eu-west-1", "www.amazon.co.uk", "en_GB",
                Decimal("0.20"), Decimal("0")),
    Marketplace("A1PA6795UKMFR9", "DE", "Amazon.de", "EUR", "eu", "eu-west-1", "www.amazon.de", "de_DE",
                Decimal("0.19"), Decimal("0")),
)
MARKETPLACES_BY_ID: dict[str, Marketplace] = {m.marketplace_id: m for m in MARKETPLACES}
DEFAULT_MARKETPLACE_IDS: tuple[str, ...] = tuple(m.marketplace_id for m in MARKETPLACES)


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    asin: str
    fnsku: str
    title: str
    size_tier: str  # FBA size tier, drives the per-unit fulfilment fee
    weight_kg: Decimal
    unit_cost: Decimal  # landed cost in HOME_CURRENCY
    prices: dict[str, Decimal]  # marketplace id -> list price in the marketplace currency
    fba: bool = True  # False: merchant-fulfilled (MFN) from the seller's own warehouse
    product_type: str = "PRODUCT"

    def price(self, marketplace_id: str) -> Decimal:
        return self.prices[marketplace_id]


def _p(usd: str, gbp: str, eur: str) -> dict[str, Decimal]:
    return {"ATVPDKIKX0DER": Decimal(usd), "A1F83G8C2ARO7P": Decimal(gbp), "A1PA6795UKMFR9": Decimal(eur)}


CATALOG: tuple[CatalogItem, ...] = (
    CatalogItem("NW-TENT-2P", "B0SAGE0001", "X00SAGE001", "Northwind Trailhead 2-Person Tent",
                "Large Standard", Decimal("2.10"), Decimal("62.40"), _p("149.99", "134.99", "154.99")),
    CatalogItem("NW-TENT-4P", "B0SAGE0002", "X00SAGE002", "Northwind Basecamp 4-Person Tent",
                "Large Bulky", Decimal("5.80"), Decimal("118.00"), _p("279.00", "249.00", "289.00")),
    CatalogItem("NW-BAG-20F", "B0SAGE0003", "X00SAGE003", "Northwind Summit 20F Down Sleeping Bag",
                "Large Standard", Decimal("1.20"), Decimal("71.50"), _p("189.95", "169.95", "199.95")),
    CatalogItem("NW-PAD-UL", "B0SAGE0004", "X00SAGE004", "Northwind Ultralight Sleeping Pad",
                "Large Standard", Decimal("0.45"), Decimal("18.20"), _p("59.99", "54.99", "62.99")),
    CatalogItem("NW-STOVE-CMP", "B0SAGE0005", "X00SAGE005", "Northwind Compact Camp Stove",
                "Small Standard", Decimal("0.28"), Decimal("11.75"), _p("39.99", "34.99", "39.99")),
    CatalogItem("NW-LAMP-300", "B0SAGE0006", "X00SAGE006", "Northwind 300-Lumen Headlamp",
                "Small Standard", Decimal("0.09"), Decimal("4.30"), _p("19.99", "17.99", "19.99")),
    CatalogItem("NW-BOTTLE-1L", "B0SAGE0007", "X00SAGE007", "Northwind Insulated Bottle 1L",
                "Large Standard", Decimal("0.52"), Decimal("6.90"), _p("29.95", "26.95", "29.95")),
    CatalogItem("NW-FILTER-SQ", "B0SAGE0008", "X00SAGE008", "Northwind Squeeze Water Filter",
                "Small Standard", Decimal("0.11"), Decimal("8.40"), _p("34.99", "29.99", "34.99")),
    CatalogItem("NW-PACK-45L", "B0SAGE0009", "X00SAGE009", "Northwind Ridge 45L Backpack",
                "Large Standard", Decimal("1.35"), Decimal("48.00"), _p("129.00", "115.00", "135.00")),
    CatalogItem("NW-CHAIR-FLD", "B0SAGE0010", "X00SAGE010", "Northwind Folding Camp Chair",
                "Large Oversize", Decimal("3.40"), Decimal("21.60"), _p("64.99", "59.99", "69.99")),
    CatalogItem("NW-KNIFE-MT", "B0SAGE0011", "X00SAGE011", "Northwind Multi-Tool Knife",
                "Small Standard", Decimal("0.16"), Decimal("9.10"), _p("27.49", "24.99", "27.99"), fba=False),
    CatalogItem("NW-MAP-KIT", "B0SAGE0012", "X00SAGE012", "Northwind Navigation Map & Compass Kit",
                "Small Standard", Decimal("0.20"), Decimal("5.25"), _p("22.00", "19.50", "22.50"), fba=False),
)
CATALOG_BY_SKU: dict[str, CatalogItem] = {item.sku: item for item in CATALOG}

# FBA per-unit fulfilment fee by size tier, in USD; other marketplaces use the same figures in their
# own currency scaled by FEE_SCALE (close enough to Amazon's published EU fee cards for a sandbox).
FBA_FEE_BY_SIZE_TIER: dict[str, Decimal] = {
    "Small Standard": Decimal("3.22"),
    "Large Standard": Decimal("5.40"),
    "Large Bulky": Decimal("9.73"),
    "Large Oversize": Decimal("11.37"),
}
FEE_SCALE: dict[str, Decimal] = {"USD": Decimal("1"), "GBP": Decimal("0.80"), "EUR": Decimal("0.92")}
REFERRAL_FEE_RATE = Decimal("0.15")
MONTHLY_SUBSCRIPTION_FEE: dict[str, Decimal] = {"USD": Decimal("39.99"), "GBP": Decimal("25.00"),
                                                "EUR": Decimal("39.00")}


# ---- the seller's Sage side, mirrored by the X3 and Sage 500 sandboxes ----------------------------------
# Items the seller never set up in Sage: their Amazon orders wait as dead letters until a partner maps them.
MISSING_SKUS = frozenset({"NW-FILTER-SQ", "NW-CHAIR-FLD"})
# The seller's tax codes as set up in Sage (X3 TABVAT, Sage 500 account reference codes): (code, description).
# A journal line naming a code the ERP does not hold is refused, as the real systems do.
TAX_CODES = (
    ("GB20", "UK standard 20%"), ("GBS", "UK standard rate output"), ("GBR", "UK reduced rate output"),
    ("GBX", "UK export zero rate"),
    ("GBD", "UK deemed supply (Amazon)"), ("GBI", "UK input VAT"), ("GBRC", "UK reverse charge"),
    ("DES", "DE Regelsatz"), ("DER", "DE ermaessigt"), ("DEIC", "DE innergem. Lieferung"),
    ("DEX", "DE Ausfuhr"), ("DED", "DE Marktplatz-Lieferung"), ("DEI", "DE Vorsteuer"),
    ("DERC", "DE Reverse Charge 13b"), ("FRS", "FR taux normal"), ("FRIC", "FR livraison intracom"),
    ("FRX", "FR export"), ("FRD", "FR vente plateforme"), ("FRI", "FR TVA deductible"),
    ("FRO", "OSS France"), ("ITO", "OSS Italy"), ("ESO", "OSS Spain"), ("NLO", "OSS Netherlands"),
    ("PLO", "OSS Poland"), ("SEO", "OSS Sweden"), ("ATO", "OSS Austria"), ("BEO", "OSS Belgium"),
    ("ONH", "HST Ontario 13%"), ("NSH", "HST Nova Scotia"), ("NBH", "HST New Brunswick"),
    ("NLH", "HST Newfoundland"), ("PEH", "HST PEI"), ("ABG", "GST Alberta 5%"), ("BCG", "GST BC 5%"),
    ("MBG", "GST Manitoba 5%"), ("SKG", "GST Saskatchewan 5%"), ("QCG", "GST Quebec 5%"),
    ("QCQ", "QST Quebec 9.975%"), ("NTG", "GST NWT"), ("NUG", "GST Nunavut"), ("YTG", "GST Yukon"),
    ("ONI", "GST/HST input tax credit"), ("CAD", "CA deemed supply (Amazon)"),
)
# The chart of accounts (US-style numbers) both ERP sandboxes seed, so a journal means the same in each.
ACCOUNTS = (
    ("1010", "Bank - operating account"),
    ("1100", "Accounts receivable - trade"),
    ("1210", "Amazon clearing"),
    ("1215", "Amazon sales awaiting release"),  # deferred (DD+7) sales accrued at month end
    ("1220", "Amazon reserve held"),
    ("1230", "Amazon balances in transit"),
    ("1300", "Inventory - own warehouse"),
    ("1310", "Inventory - Amazon FBA"),
    ("1410", "Input VAT - UK"),  # VAT Amazon charged on its fees (tax_profile.yaml)
    ("1411", "Input VAT - Germany"),
    ("1412", "Input VAT - France"),
    ("1419", "Input VAT - other"),
    ("1420", "GST/HST input tax credits"),
    ("2100", "Accounts payable"),
    ("2150", "Amazon payable (neg balances)"),
    ("2160", "Credit card - Amazon charges"),
    ("2200", "Sales tax payable"),
    ("2210", "VAT payable"),
    ("2211", "VAT payable - Germany"),
    ("2212", "VAT payable - France"),
    ("2219", "VAT payable - OSS and other"),
    ("2220", "GST/HST payable (Canada)"),
    ("2221", "QST payable (Quebec)"),
    ("2230", "IVA payable (Mexico)"),
    ("2240", "Sales tax collected by Amazon"),  # US marketplace facilitator tax, gross
    ("2245", "Sales tax remitted by Amazon"),
    ("2500", "Amazon Lending loan"),
    ("2990", "Suspense"),
    ("4000", "Product sales"),
    ("4010", "Shipping income"),
    ("4020", "Gift wrap income"),
    ("4050", "Promotions and discounts"),
    ("4060", "Refunds and returns"),
    ("4500", "FBA reimbursements"),
    ("4510", "Liquidation proceeds"),
    ("5000", "Cost of goods sold"),
    ("5020", "Inventory losses"),  # FBA units lost, damaged or liquidated, at cost
    ("6100", "Amazon marketplace fees"),
    ("6110", "FBA fulfilment fees"),
    ("6120", "FBA storage fees"),
    ("6130", "Advertising"),
    ("6140", "Amazon subscription fees"),
    ("6150", "Other Amazon fees"),
    ("7900", "Exchange gains and losses"),
    ("7910", "Rounding differences"),
)
