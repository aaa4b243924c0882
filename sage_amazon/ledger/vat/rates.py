"""VAT and GST/HST/QST rates by country (and Canadian province), each with the day it applies from and its source.

Standard rates only, with the reduced rate beside for a SKU the tax profile classes as reduced; the sandbox
seller's outdoor goods are standard-rated. Sources (public, not mirrored in /work/shared, hence [UNCONFIRMED]):
- EU: European Commission, "VAT rates applied in the Member States of the European Union" (taxation-customs.ec.europa.eu,
  situation at 1 January 2025) and the Taxes in Europe Database (TEDB) [UNCONFIRMED];
- UK: gov.uk "VAT rates" (standard 20 % since 2011-01-04, reduced 5 %) [UNCONFIRMED];
- Canada: canada.ca "GST/HST provincial rates table" (GST 5 %; HST ON 13 %, NB/NL/PE 15 %, NS 14 % from
  2025-04-01, 15 % before); Revenu Quebec "QST rate" 9.975 % since 2013-01-01 [UNCONFIRMED].
A rate change is a new row with its `since` day: the rate of a line is the one in force on its posted date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

D = Decimal


@dataclass(frozen=True)
class Rate:
    country: str  # ISO 3166 code (GB, not UK); Canadian provinces as CA-ON, CA-QC ...
    standard: Decimal
    reduced: Decimal
    since: date
    source: str


EU = "EC VAT rates in the Member States, 1 January 2025 [UNCONFIRMED]"
RATES: tuple[Rate, ...] = (
    Rate("GB", D("0.20"), D("0.05"), date(2011, 1, 4), "gov.uk VAT rates [UNCONFIRMED]"),
    Rate("DE", D("0.19"), D("0.07"), date(2021, 1, 1), EU),
    Rate("FR", D("0.20"), D("0.055"), date(2014, 1, 1), EU),
    Rate("IT", D("0.22"), D("0.10"), date(2013, 10, 1), EU),
    Rate("ES", D("0.21"), D("0.10"), date(2012, 9, 1), EU),
    Rate("NL", D("0.21"), D("0.09"), date(2019, 1, 1), EU),
    Rate("PL", D("0.23"), D("0.08"), date(2011, 1, 1), EU),
    Rate("SE", D("0.25"), D("0.12"), date(1990, 7, 1), EU),
    Rate("AT", D("0.20"), D("0.10"), date(2016, 1, 1), EU),
    Rate("BE", D("0.21"), D("0.06"), date(1996, 1, 1), EU),
    Rate("IE", D("0.23"), D("0.135"), date(2012, 1, 1), EU),
    Rate("LU", D("0.17"), D("0.08"), date(2024, 1, 1), EU),
    Rate("CZ", D("0.21"), D("0.12"), date(2024, 1, 1), EU),
)
# Canada: the federal GST and, where harmonised, the HST in its place; Quebec's QST beside the GST
GST = D("0.05")
QST = D("0.09975")
CANADA = "canada.ca GST/HST provincial rates table; Revenu Quebec QST [UNCONFIRMED]"
HST: tuple[Rate, ...] = (
    Rate("CA-ON", D("0.13"), D("0.13"), date(2010, 7, 1), CANADA),
    Rate("CA-NB", D("0.15"), D("0.15"), date(2016, 7, 1), CANADA),
    Rate("CA-NL", D("0.15"), D("0.15"), date(2016, 7, 1), CANADA),
    Rate("CA-PE", D("0.15"), D("0.15"), date(2016, 10, 1), CANADA),
    Rate("CA-NS", D("0.15"), D("0.15"), date(2010, 7, 1), CANADA),
    Rate("CA-NS", D("0.14"), D("0.14"), date(2025, 4, 1), CANADA),
)
PROVINCES = ("AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT")
EU_COUNTRIES = frozenset({"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
                          "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"})


def _in_force(rows: tuple[Rate, ...], country: str, day: date) -> Rate | None:
    found = [r for r in rows if r.country == country and r.since <= day]
    return max(found, key=lambda r: r.since) if found else None


def vat_rate(country: str, day: date, reduced: bool = False) -> Decimal | None:
    """The VAT rate of the country on the day (None: not in the table)."""
    rate = _in_force(RATES, country, day)
    if rate is None:
        return None
    return rate.reduced if reduced else rate.standard


def canada(province: str, day: date) -> tuple[str, Decimal, Decimal] | None:
    """(kind, GST or HST rate, QST rate) of a ship-to province: ("hst", 0.13, 0) in Ontario, ("gst", 0.05,
    0.09975) in Quebec, ("gst", 0.05, 0) elsewhere (provincial PST is not the seller's GST return); None if
    the province is unknown."""
    code = province.strip().upper()
    if code not in PROVINCES:
        return None
    hst = _in_force(HST, f"CA-{code}", day)
    if hst is not None:
        return "hst", hst.standard, D("0")
    return "gst", GST, QST if code == "QC" else D("0")
