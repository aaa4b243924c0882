"""The VAT (GST/HST/QST) treatment of one settlement line, from the tax profile, the order's facts and the rates.

Sales, shipping, gift wrap, promotions and refunds of an order (`OUTPUT_ROLES`) on a VAT marketplace:
- Amazon collected the tax (the order has withheld-tax lines, or the VAT report says MARKETPLACE) -> `deemed`:
  no VAT for the seller; so is a sale the rules make Amazon's, which then must show Amazon's withholding:
  UK: goods imported into GB in a consignment of at most 135 GBP, or goods in GB of a seller not established
  there, sold to a consumer; EU: goods imported into the EU in a consignment of at most 150 EUR, or goods in the
  EU of a seller established outside it, sold to a consumer (VAT Directive art. 14a, UK VATA 1994 s.5A; HMRC
  "VAT and overseas goods sold to customers in the UK using online marketplaces" [UNCONFIRMED]);
- same country -> `standard` (or `reduced`) VAT of that country, on its registration;
- both in the EU, a buyer VAT number -> `intra_eu` 0 %, reverse charged by the buyer, on the departure
  country's registration; without one -> distance sale at the arrival country's rate on the `oss` registration,
  else the arrival country's own registration;
- otherwise (into or out of GB, out of the EU) -> `export` 0 % on the departure country's registration.
UK and EU prices include VAT: VAT = gross x rate / (1 + rate), rounded half up per line. Canadian prices do not:
GST or HST (and QST in Quebec) = net x rate per line, and the order's Tax lines must hold exactly that.

Fees (`FEE_ROLES`) follow the profile's fee rules: `charged` takes the VAT out of the fee (input VAT),
`reverse_charge` accounts for input and output VAT on the net fee, `none` leaves it.

A decision that needs data the pipeline lacks returns `Wait(reason)`: never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sage_amazon.ledger.vat import rates
from sage_amazon.ledger.vat.facts import OrderFacts
from sage_amazon.ledger.vat.profile import MARKETPLACE_COUNTRY, Profile, Registration

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
OUTPUT_ROLES = ("sales", "shipping_income", "gift_wrap_income", "promotions", "refunds")
FEE_ROLES = ("marketplace_fees", "fba_fees", "storage_fees", "advertising", "subscription", "other_fees")
UK_LIMIT, EU_LIMIT = Decimal("135"), Decimal("150")  # GBP, EUR
PROVINCE_NAMES = {"ALBERTA": "AB", "BRITISH COLUMBIA": "BC", "MANITOBA": "MB", "NEW BRUNSWICK": "NB",
                  "NEWFOUNDLAND AND LABRADOR": "NL", "NOVA SCOTIA": "NS", "NORTHWEST TERRITORIES": "NT",
                  "NUNAVUT": "NU", "ONTARIO": "ON", "PRINCE EDWARD ISLAND": "PE", "QUEBEC": "QC", "QUÉBEC": "QC",
                  "SASKATCHEWAN": "SK", "YUKON": "YT"}


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def inclusive_vat(gross: Decimal, rate: Decimal) -> Decimal:
    return cents(gross * rate / (1 + rate))


@dataclass(frozen=True)
class Wait:
    reason: str


@dataclass(frozen=True)
class Treatment:
    kind: str  # standard | reduced | oss | intra_eu | export | deemed | gst | hst (sales); input | reverse_charge (fees)
    country: str  # whose VAT: GB, DE, FR ... (CA-ON, CA-QC for Canada)
    rate: Decimal
    registration: Registration | None
    qst: Decimal = ZERO  # Quebec's QST rate beside the GST
    departure: str = ""
    arrival: str = ""


def province(value: str) -> str:
    text = " ".join((value or "").replace(".", " ").split()).upper()
    return PROVINCE_NAMES.get(text, text)


def marketplace_country(marketplace: str) -> str:
    return MARKETPLACE_COUNTRY.get(marketplace, "")


def sale(p: Profile, marketplace: str, order_id: str, facts: OrderFacts | None, day: date, sku: str,
         consignment: Decimal, currency: str, withheld: bool) -> Treatment | Wait:
    """The treatment of an order's sale line (see the module's text)."""
    if facts is None:
        return Wait(f"order {order_id}: not landed by the orders flow nor in Amazon's VAT report "
                    "(ship-to country unknown)")
    if marketplace == "CA":
        return _canada(p, order_id, facts, day, withheld)
    dep, arr = facts.departure, facts.arrival
    if withheld or facts.marketplace_collected:
        return Treatment("deemed", arr or dep, ZERO, None, departure=dep, arrival=arr)
    if not arr:
        return Wait(f"order {order_id}: no ship-to country")
    if not dep:
        return Wait(f"order {order_id}: departure country unknown (no fulfilment centre in the FBA shipments "
                    "nor in the VAT report)")
    eu = rates.EU_COUNTRIES
    b2b = bool(facts.buyer_vat)
    if not b2b:
        deemed = ""
        if arr == "GB" and dep != "GB":
            within = _within(consignment, currency, UK_LIMIT, "GBP")
            if within is None:
                return Wait(f"order {order_id}: import into GB of {consignment} {currency}: cannot compare with "
                            f"the {UK_LIMIT} GBP consignment limit")
            deemed = "an import into GB of at most 135 GBP" if within else ""
        elif arr == "GB" and "GB" not in p.established:
            deemed = "goods in GB of a seller not established there"
        elif arr in eu and dep not in eu:
            within = _within(consignment, currency, EU_LIMIT, "EUR")
            if within is None:
                return Wait(f"order {order_id}: import into the EU of {consignment} {currency}: cannot compare "
                            f"with the {EU_LIMIT} EUR consignment limit")
            deemed = "an import into the EU of at most 150 EUR" if within else ""
        elif arr in eu and not eu.intersection(p.established):
            deemed = "goods in the EU of a seller established outside it"
        if deemed:
            return Wait(f"order {order_id}: Amazon is the deemed supplier ({deemed}, {dep}->{arr}) but the "
                        "settlement shows no VAT withheld by Amazon")
    reduced = p.reduced(sku)
    if dep == arr:
        reg = p.registration(dep)
        if reg is None:
            return Wait(f"order {order_id}: VAT due in {dep} ({dep}->{arr}) but the profile has no {dep} registration")
        return _rated("reduced" if reduced else "standard", dep, reg, day, reduced, order_id, dep, arr)
    if dep in eu and arr in eu:
        if b2b:
            reg = p.registration(dep)
            if reg is None:
                return Wait(f"order {order_id}: intra-EU supply from {dep} but the profile has no {dep} registration")
            return Treatment("intra_eu", dep, ZERO, reg, departure=dep, arrival=arr)
        reg = p.oss() or p.registration(arr)
        if reg is None:
            return Wait(f"order {order_id}: EU distance sale {dep}->{arr}: the profile has no OSS and no {arr} "
                        "registration")
        return _rated("oss" if reg.scheme == "oss" else ("reduced" if reduced else "standard"), arr, reg, day,
                      reduced, order_id, dep, arr)
    reg = p.registration(dep)
    if reg is None:
        return Wait(f"order {order_id}: export {dep}->{arr} but the profile has no {dep} registration")
    return Treatment("export", dep, ZERO, reg, departure=dep, arrival=arr)


def _within(amount: Decimal, currency: str, limit: Decimal, limit_currency: str) -> bool | None:
    """Is the consignment at most the limit? In the limit's currency, plainly; GBP against a EUR limit only when
    the answer cannot depend on the rate (a pound has always been worth more than a euro: above 150 in GBP is
    above 150 EUR, at most 135 in EUR is at most 135 GBP); else None (the sale waits)."""
    if currency == limit_currency:
        return amount <= limit
    if (currency, limit_currency) == ("GBP", "EUR") and amount > limit:
        return False
    if (currency, limit_currency) == ("EUR", "GBP") and amount <= limit:
        return True
    return None


def _rated(kind: str, country: str, reg: Registration, day: date, reduced: bool, order_id: str, dep: str,
           arr: str) -> Treatment | Wait:
    rate = rates.vat_rate(country, day, reduced)
    if rate is None:
        return Wait(f"order {order_id}: no VAT rate for {country} in the rates table")
    return Treatment(kind, country, rate, reg, departure=dep, arrival=arr)


def _canada(p: Profile, order_id: str, facts: OrderFacts, day: date, withheld: bool) -> Treatment | Wait:
    if withheld or facts.marketplace_collected:
        return Treatment("deemed", "CA", ZERO, None, departure=facts.departure, arrival=facts.arrival)
    code = province(facts.province)
    found = rates.canada(code, day) if code else None
    if found is None:
        return Wait(f"order {order_id}: ship-to province {facts.province!r} unknown: GST/HST/QST cannot be decided")
    kind, rate, qst = found
    reg = p.registration("CA", "gst_hst")
    if reg is None:
        return Wait(f"order {order_id}: GST/HST due but the profile has no CA gst_hst registration")
    if qst and p.registration("CA", "qst") is None:
        return Wait(f"order {order_id}: QST due in Quebec but the profile has no CA qst registration")
    return Treatment(kind, f"CA-{code}", rate, reg, qst=qst, departure=facts.departure, arrival="CA")


def fee(p: Profile, marketplace: str, day: date, order_id: str, facts: OrderFacts | None) -> Treatment | Wait | None:
    """The VAT in an Amazon fee line (None: the profile's rules leave it without VAT)."""
    rule = p.fee_rule(marketplace, day)
    if rule is None or rule.treatment == "none":
        return None
    if rule.order_fees == "gb_to_gb" and order_id:
        if facts is None or not facts.departure or not facts.arrival:
            return Wait(f"order {order_id}: the VAT on its fees depends on where it left from and went to, "
                        "which is unknown")
        if (facts.departure, facts.arrival) != ("GB", "GB"):
            return None
    if rule.country.startswith("CA-"):
        found = rates.canada(rule.country[3:], day)
        reg = p.registration("CA", "gst_hst")
        if found is None or reg is None:
            return Wait(f"fee VAT in {rule.country}: no GST/HST rate or no CA gst_hst registration")
        return Treatment("input", rule.country, found[1], reg)
    rate = rates.vat_rate(rule.country, day)
    reg = p.registration(rule.country)
    if rate is None or reg is None:
        return Wait(f"fee VAT in {rule.country}: no rate or no {rule.country} registration in the profile")
    return Treatment("input" if rule.treatment == "charged" else "reverse_charge", rule.country, rate, reg)
