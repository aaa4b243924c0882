"""The hand-made sellers of the VAT tests: a UK seller (GB->GB FBA, GB->DE export, B2B reverse charge, Amazon as
deemed supplier), a German seller (domestic, OSS distance sale, intra-EU B2B, reverse-charged fees) and a Canadian
seller (HST, GST + QST, GST), each with its tax profile, its settlement and the journal an accountant writes.

Expected journals are {(account, tax code): credit-positive amount}; "" is the untagged gross amount the VAT
journal takes off the account. Every figure is worked by hand in the comments (VAT in a VAT-inclusive price =
gross x rate / (1 + rate), rounded half up to the cent per line; reverse charge = net x rate)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import yaml

from sage_amazon.mapping import DEFAULTS_DIR
from tests.vat.handmade import Order, Settlement

D = Decimal
JULY = date(2026, 7, 3)

# ------------------------------------------------------------------------------------------------ UK seller
UK_PROFILE = {"established": "GB", "ship_from": "GB",
              "registrations": [{"country": "GB", "number": "GB123456789", "scheme": "standard"},
                                {"country": "DE", "number": "DE123456789", "scheme": "standard"}]}
UK = Settlement("91710000001", "GBP", date(2026, 7, 1), date(2026, 7, 14), [
    # GB->GB FBA consumer sale: VAT 120.00/6 = 20.00, shipping 4.99/6 = 0.8317 -> 0.83; fees GB->GB carry
    # UK VAT since 2024-08-01: 18.75/6 = 3.125 -> 3.13, 3.60/6 = 0.60
    Order("202-1710001-0000001", "UK", "NW-TENT-2P", D("120.00"), "GB", JULY, shipping=D("4.99"), fc="LTN4",
          fees=(("Commission", D("-18.75")), ("FBAPerUnitFulfillmentFee", D("-3.60")))),
    # GB->GB sold and refunded: VAT 45.00/6 = 7.50 out and back; commission 6.75/6 = 1.125 -> 1.13,
    # the commission given back 5.40/6 = 0.90
    Order("202-1710001-0000002", "UK", "NW-PAD-UL", D("45.00"), "GB", JULY, fc="BHX4",
          fees=(("Commission", D("-6.75")),), refund=D("45.00"), refund_commission=D("5.40")),
    # GB->DE, 180.00 GBP (over 150 EUR: no deemed supply): an export, zero-rated on the GB registration; its
    # fees are not GB->GB: no VAT
    Order("202-1710001-0000003", "UK", "NW-STOVE-CMP", D("180.00"), "DE", JULY, fc="LTN4",
          fees=(("Commission", D("-27.00")),)),
    # DE->GB, 25.00 GBP: an import into GB of at most 135 GBP: Amazon is the deemed supplier and collects the
    # 5.00 VAT (Tax and MarketplaceFacilitatorVAT lines): outside the seller's VAT
    Order("202-1710001-0000004", "UK", "NW-LAMP-300", D("25.00"), "GB", JULY, fc="FRA3", withheld=D("5.00"),
          fees=(("Commission", D("-4.50")),)),
    # DE->FR to a business with an FR VAT number (Amazon's VAT report): intra-EU supply, 0 %, reverse charged by
    # the buyer, on the DE registration
    Order("202-1710001-0000005", "UK", "NW-BAG-20F", D("95.00"), "FR", JULY, fc="FRA3", buyer_vat="FR40303265045",
          departure="DE", fees=(("Commission", D("-14.25")),)),
], other=[("Subscription Fee", D("-25.00"), JULY)])  # 25.00/6 = 4.1667 -> 4.17 UK VAT
UK_JOURNAL = {
    # sales: 465.00 taken off; back net: GB->GB 100.00 + 37.50 (GBS), export 180 (GBX), intra-EU 95 (DEIC),
    # deemed 25 (GBD)
    ("4000", ""): D("-465.00"), ("4000", "GBS"): D("137.50"), ("4000", "GBX"): D("180.00"),
    ("4000", "DEIC"): D("95.00"), ("4000", "GBD"): D("25.00"),
    ("4010", ""): D("-4.99"), ("4010", "GBS"): D("4.16"),  # 4.99 - 0.83
    ("4060", ""): D("45.00"), ("4060", "GBS"): D("-37.50"),  # the refund: 45.00 - 7.50
    ("2210", "GBS"): D("20.83"),  # 20.00 + 0.83 + 7.50 - 7.50
    # fees with UK VAT: commission 18.75 + 6.75 - 5.40 = 20.10 gross, net 15.62 + 5.62 - 4.50 = 16.74
    ("6100", ""): D("20.10"), ("6100", "GBI"): D("-16.74"),
    ("6110", ""): D("3.60"), ("6110", "GBI"): D("-3.00"),
    ("6140", ""): D("25.00"), ("6140", "GBI"): D("-20.83"),
    ("1410", "GBI"): D("-8.13"),  # 3.13 + 0.60 + 1.13 - 0.90 + 4.17
}
# the UK return (9 boxes) of 2026 Q3 for GB123456789: box 6 = 100.00 + 4.16 + 37.50 - 37.50 + 180.00 (export);
# box 7 = the fees net of VAT 15.62 + 5.62 - 4.50 + 3.00 + 20.83
UK_BOXES = {"1": D("20.83"), "2": D("0.00"), "3": D("20.83"), "4": D("8.13"), "5": D("12.70"), "6": D("284.16"),
            "7": D("40.57"), "8": D("0.00"), "9": D("0.00")}

# ------------------------------------------------------------------------------------------------ DE seller
DE_PROFILE = {"established": "DE", "ship_from": "DE",
              "registrations": [{"country": "DE", "number": "DE811907980", "scheme": "standard"},
                                {"country": "DE", "number": "DE811907980", "scheme": "oss"}]}
DE = Settlement("91710000002", "EUR", date(2026, 7, 1), date(2026, 7, 14), [
    # DE->DE: 59.50 x 19/119 = 9.50; fees from Amazon EU S.a r.l. reverse charged at 19 %:
    # 8.93 x 0.19 = 1.6967 -> 1.70, 3.57 x 0.19 = 0.6783 -> 0.68
    Order("302-1710002-0000001", "DE", "NW-TENT-2P", D("59.50"), "DE", JULY, fc="LEJ1",
          fees=(("Commission", D("-8.93")), ("FBAPerUnitFulfillmentFee", D("-3.57")))),
    # DE->FR consumer: EU distance sale, French VAT on the OSS return: 120.00 x 20/120 = 20.00;
    # commission 18.00 x 0.19 = 3.42
    Order("302-1710002-0000002", "DE", "NW-PAD-UL", D("120.00"), "FR", JULY, fc="MUC3",
          fees=(("Commission", D("-18.00")),)),
    # DE->IT to a business with an IT VAT number: intra-EU supply, 0 %; commission 30.00 x 0.19 = 5.70
    Order("302-1710002-0000003", "DE", "NW-STOVE-CMP", D("200.00"), "IT", JULY, fc="FRA3",
          buyer_vat="IT00743110157", departure="DE", fees=(("Commission", D("-30.00")),)),
    # DE->DE sold and refunded: 23.80 x 19/119 = 3.80 out and back; commission 3.57 -> 0.68, back 2.86 -> 0.54
    Order("302-1710002-0000004", "DE", "NW-LAMP-300", D("23.80"), "DE", JULY, fc="LEJ1",
          fees=(("Commission", D("-3.57")),), refund=D("23.80"), refund_commission=D("2.86")),
], other=[("Subscription Fee", D("-39.00"), JULY)])  # 39.00 x 0.19 = 7.41
DE_JOURNAL = {
    ("4000", ""): D("-403.30"),  # 59.50 + 120.00 + 200.00 + 23.80
    ("4000", "DES"): D("70.00"), ("4000", "FRO"): D("100.00"), ("4000", "DEIC"): D("200.00"),  # 50.00 + 20.00
    ("4060", ""): D("23.80"), ("4060", "DES"): D("-20.00"),
    ("2211", "DES"): D("9.50"),  # 9.50 + 3.80 - 3.80
    ("2219", "FRO"): D("20.00"),  # OSS
    # reverse charge on 8.93 + 18.00 + 30.00 + 3.57 - 2.86 = 57.64 commission, 3.57 FBA, 39.00 subscription
    ("6100", ""): D("57.64"), ("6100", "DERC"): D("-57.64"),
    ("6110", ""): D("3.57"), ("6110", "DERC"): D("-3.57"),
    ("6140", ""): D("39.00"), ("6140", "DERC"): D("-39.00"),
    ("1411", "DERC"): D("-19.05"), ("2211", "DERC"): D("19.05"),  # 1.70 + 0.68 + 3.42 + 5.70 + 0.68 - 0.54 + 7.41
}
# UStVA 2026 Q3 for DE811907980: Kz 81 = 50.00 + 20.00 - 20.00 at 19 % (tax 9.50); Kz 41 = 200.00; Kz 46 (services
# from another EU state, reverse charged) = 57.64 + 3.57 + 39.00 = 100.21, Kz 47 = 19.05 = Kz 67; Kz 83 = 9.50
DE_BOXES = {"81": D("50.00"), "81_tax": D("9.50"), "86": D("0.00"), "86_tax": D("0.00"), "41": D("200.00"),
            "43": D("0.00"), "46": D("100.21"), "47": D("19.05"), "66": D("0.00"), "67": D("19.05"),
            "83": D("9.50")}
DE_OSS = {"FR": (D("100.00"), D("20.00"))}

# ------------------------------------------------------------------------------------------------ CA seller
CA_PROFILE = {"established": "CA", "ship_from": "CA",
              "registrations": [{"country": "CA", "number": "123456789RT0001", "scheme": "gst_hst"},
                                {"country": "CA", "number": "1234567890TQ0001", "scheme": "qst"}]}
CA = Settlement("91710000003", "CAD", date(2026, 7, 1), date(2026, 7, 14), [
    # Ontario: HST 13 % of 100.00 = 13.00; fees include HST 13 %: 15.00 x 13/113 = 1.7257 -> 1.73
    Order("702-1710003-0000001", "CA", "NW-TENT-2P", D("100.00"), "CA", JULY, ship_state="ON", fc="YYZ4",
          tax=D("13.00"), fees=(("Commission", D("-15.00")),)),
    # Quebec: GST 5 % of 80.00 = 4.00 and QST 9.975 % = 7.98: Tax 11.98; fee 12.00 x 13/113 = 1.3805 -> 1.38
    Order("702-1710003-0000002", "CA", "NW-PAD-UL", D("80.00"), "CA", JULY, ship_state="Quebec", fc="YUL2",
          tax=D("11.98"), fees=(("Commission", D("-12.00")),)),
    # Alberta: GST 5 % of 49.99 = 2.4995 -> 2.50; fee 7.50 x 13/113 = 0.8628 -> 0.86
    Order("702-1710003-0000003", "CA", "NW-LAMP-300", D("49.99"), "CA", JULY, ship_state="AB", fc="YYC1",
          tax=D("2.50"), fees=(("Commission", D("-7.50")),)),
])
CA_JOURNAL = {
    ("4000", ""): D("-229.99"), ("4000", "ONH"): D("100.00"), ("4000", "QCG"): D("80.00"),
    ("4000", "ABG"): D("49.99"),
    ("2220", ""): D("-27.48"),  # the Tax lines 13.00 + 11.98 + 2.50 taken off, split:
    ("2220", "ONH"): D("13.00"), ("2220", "QCG"): D("4.00"), ("2220", "ABG"): D("2.50"), ("2221", "QCQ"): D("7.98"),
    ("6100", ""): D("34.50"), ("6100", "ONI"): D("-30.53"),  # 13.27 + 10.62 + 6.64
    ("1420", "ONI"): D("-3.97"),  # 1.73 + 1.38 + 0.86
}
# GST/HST return (GST34) of 2026 Q3: line 101 sales 229.99, line 105 tax collected 13.00 + 4.00 + 2.50 = 19.50,
# line 108 input tax credits 3.97, line 109 net tax 15.53; the QST return: 7.98 collected
CA_BOXES = {"101": D("229.99"), "105": D("19.50"), "108": D("3.97"), "109": D("15.53")}


def write_profile(folder, profile: dict, codes: dict[str, str] | None = None) -> None:
    """tax_profile.yaml in `folder`: the shipped file with the seller's establishment and registrations, enabled
    (and `codes`: tax codes replacing the defaults, for both targets)."""
    doc = yaml.safe_load((DEFAULTS_DIR / "tax_profile.yaml").read_text())
    doc.update(profile, enabled=True)
    for body in doc["targets"].values():
        body["tax_codes"] = dict(codes or {})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tax_profile.yaml").write_text(yaml.safe_dump(doc))
