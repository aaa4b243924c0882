"""Sage items flagged for Amazon in both ERP sandboxes (issue 18): the seller's catalog item NW-TENT-2P, already
listed on Amazon, and three items only Sage knows yet, to be listed from Sage. NW-STAKES-AL has no EAN: Amazon
refuses to list it (its product identifier is required) until Sage gets one.

X3: ITMMASTER category (TCLCOD) AMZ, a price per Amazon price list (SPRICLIST AMZUS in USD, AMZUK in GBP);
Sage 500: timItem.UserFld1 = AMAZON and StdPrice (USD)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

X3_CATEGORY = "AMZ"  # ITMMASTER.TCLCOD of the items flagged for Amazon
SAGE500_FLAG = "AMAZON"  # timItem.UserFld1 of the items flagged for Amazon
PRICE_LISTS = {"AMZUS": "USD", "AMZUK": "GBP"}  # X3 price list -> currency


@dataclass(frozen=True)
class ListedItem:
    code: str
    title: str
    ean: str  # "" = none in Sage
    prices: dict[str, Decimal]  # X3 price list -> price; AMZUS is also the Sage 500 StdPrice
    weight_kg: Decimal
    unit_cost: Decimal
    new: bool = True  # False: an item of the seller's Amazon catalog (seeded already; only flagged here)


LISTED_ITEMS: tuple[ListedItem, ...] = (
    ListedItem("NW-TENT-2P", "Northwind Trailhead 2-Person Tent", "0860001234509",
               {"AMZUS": Decimal("149.99"), "AMZUK": Decimal("134.99")}, Decimal("2.10"), Decimal("62.40"),
               new=False),
    ListedItem("NW-LANTERN-LED", "Northwind LED Camp Lantern", "0860001234561",
               {"AMZUS": Decimal("34.99"), "AMZUK": Decimal("31.99")}, Decimal("0.40"), Decimal("9.80")),
    ListedItem("NW-HAMMOCK-1P", "Northwind Trail Hammock", "0860001234578",
               {"AMZUS": Decimal("59.99"), "AMZUK": Decimal("54.99")}, Decimal("0.65"), Decimal("17.40")),
    ListedItem("NW-STAKES-AL", "Northwind Aluminium Tent Stakes 8-Pack", "",
               {"AMZUS": Decimal("14.99"), "AMZUK": Decimal("12.99")}, Decimal("0.18"), Decimal("3.10")),
)
LISTED_BY_CODE = {item.code: item for item in LISTED_ITEMS}
