"""Deterministic seller behaviour: what orders look like, what Amazon charges for them.

Pure functions of a random.Random; the World (world.py) applies them over time. A day's orders in a
marketplace come from Random(f"{seed}:{marketplace}:{date}"), so the same seed gives the same orders
for the same calendar days, whenever the sandbox is started.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sage_amazon.sandbox.amazon.wire import iso
from sage_amazon.sandbox.seller_catalog import (
    CATALOG,
    FBA_FEE_BY_SIZE_TIER,
    FEE_SCALE,
    MARKETPLACES_BY_ID,
    MONTHLY_SUBSCRIPTION_FEE,
    REFERRAL_FEE_RATE,
    CatalogItem,
    Marketplace,
)

CENT = Decimal("0.01")
SETTLEMENT_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
SETTLEMENT_DAYS = 14
# Settlement cycles are staggered per marketplace, as they are for a real seller.
SETTLEMENT_OFFSET_DAYS = {"ATVPDKIKX0DER": 0, "A1F83G8C2ARO7P": 5, "A1PA6795UKMFR9": 10}
ORDERS_PER_DAY = {"ATVPDKIKX0DER": (9, 17), "A1F83G8C2ARO7P": (3, 8), "A1PA6795UKMFR9": (1, 4)}
ORDER_ID_PREFIX = {"ATVPDKIKX0DER": ("111", "112", "113", "114"), "A1F83G8C2ARO7P": ("202", "203", "204"),
                   "A1PA6795UKMFR9": ("302", "303", "305")}
MFN_SHIPPING = {"USD": Decimal("5.99"), "GBP": Decimal("3.99"), "EUR": Decimal("4.49")}
GIFT_WRAP = {"USD": Decimal("3.99"), "GBP": Decimal("2.99"), "EUR": Decimal("3.49")}
STORAGE_PER_UNIT = {"USD": Decimal("0.087"), "GBP": Decimal("0.071"), "EUR": Decimal("0.079")}
RESERVE_RATE = Decimal("0.07")
REFUND_ADMIN_RATE = Decimal("0.20")
REFUND_ADMIN_CAP = Decimal("5.00")

CARRIERS = {
    "US": (("UPS", "1Z"), ("USPS", "9400"), ("AMZN_US", "TBA")),
    "GB": (("Royal Mail", "RM"), ("DPD", "15"), ("AMZN_UK", "QA")),
    "DE": (("DHL", "00340"), ("Hermes", "H100"), ("AMZN_DE", "DE")),
}
FULFILLMENT_CENTERS = {"US": ("PHX6", "ONT8", "BFI4", "MDW2"), "GB": ("LTN4", "BHX4", "MAN1"),
                       "DE": ("FRA3", "LEJ1", "MUC3")}
FIRST = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Jamie", "Robin", "Chris", "Lea", "Max", "Noah")
LAST = ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Evans", "Muller", "Schmidt", "Weber", "Clarke")
PLACES = {
    "US": (("Seattle", "WA", "98101"), ("Austin", "TX", "78701"), ("Denver", "CO", "80202"),
           ("Portland", "OR", "97205"), ("Boston", "MA", "02108"), ("Chicago", "IL", "60601")),
    "GB": (("London", "Greater London", "SW1A 1AA"), ("Manchester", "Greater Manchester", "M1 1AE"),
           ("Leeds", "West Yorkshire", "LS1 4AP"), ("Bristol", "Bristol", "BS1 4DJ")),
    "DE": (("Berlin", "Berlin", "10115"), ("München", "Bayern", "80331"), ("Köln", "Nordrhein-Westfalen", "50667"),
           ("Hamburg", "Hamburg", "20095")),
}
STREETS = {"US": ("Pine St", "Oak Ave", "Main St", "Lake Rd"), "GB": ("High Street", "Station Road", "Church Lane"),
           "DE": ("Hauptstraße", "Bahnhofstraße", "Gartenweg")}
RETURN_REASONS = ("UNWANTED_ITEM", "DEFECTIVE", "NOT_AS_DESCRIBED", "APPAREL_TOO_SMALL", "SWITCHEROO")


def q(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def marketplace(marketplace_id: str) -> Marketplace:
    return MARKETPLACES_BY_ID[marketplace_id]


def day_rng(seed: int, key: str, day: datetime) -> random.Random:
    return random.Random(f"{seed}:{key}:{day.date().isoformat()}")


def settlement_period(marketplace_id: str, at: datetime) -> tuple[datetime, datetime]:
    """The [start, end) settlement period of a marketplace containing `at`."""
    anchor = SETTLEMENT_EPOCH + timedelta(days=SETTLEMENT_OFFSET_DAYS.get(marketplace_id, 0))
    span = timedelta(days=SETTLEMENT_DAYS)
    k = (at - anchor) // span
    start = anchor + k * span
    return start, start + span


def settlement_id(seed: int, marketplace_id: str, start: datetime) -> str:
    rng = random.Random(f"{seed}:settlement:{marketplace_id}:{start.isoformat()}")
    return str(rng.randint(10_000_000_000, 29_999_999_999))


def fba_unit_fee(item: CatalogItem, currency: str) -> Decimal:
    return q(FBA_FEE_BY_SIZE_TIER[item.size_tier] * FEE_SCALE[currency])


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _alnum(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(n))


def make_address(rng: random.Random, country: str) -> dict[str, str]:
    city, state, postal = rng.choice(PLACES[country])
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    return {
        "Name": name,
        "AddressLine1": f"{rng.randint(1, 999)} {rng.choice(STREETS[country])}",
        "City": city,
        "StateOrRegion": state,
        "PostalCode": postal,
        "CountryCode": country,
        "Phone": "+1 206 555 0" + _digits(rng, 3) if country == "US" else "+44 20 7946 0" + _digits(rng, 3)
        if country == "GB" else "+49 30 901820" + _digits(rng, 2),
        "AddressType": "Residential",
    }


def make_order(rng: random.Random, marketplace_id: str, purchased: datetime, *, live: bool = False) -> dict[str, Any]:
    """A new order and its fate (when it ships, is cancelled, returned), as a JSON-able dict."""
    mp = marketplace(marketplace_id)
    currency = mp.currency
    country = mp.country_code
    fba_items = [c for c in CATALOG if c.fba]
    afn = rng.random() < 0.72
    pool = fba_items if afn else list(CATALOG)
    n_lines = 1 if rng.random() < 0.78 else rng.randint(2, 3)
    chosen = rng.sample(pool, n_lines)
    order_id = f"{rng.choice(ORDER_ID_PREFIX[marketplace_id])}-{_digits(rng, 7)}-{_digits(rng, 7)}"
    is_prime = afn and rng.random() < 0.8
    items = []
    for index, cat in enumerate(chosen):
        qty = 1 if rng.random() < 0.88 else rng.randint(2, 3)
        unit = cat.price(marketplace_id)
        item_price = q(unit * qty)
        promo = q(item_price * Decimal("0.10")) if rng.random() < 0.10 else Decimal("0")
        gift = GIFT_WRAP[currency] if rng.random() < 0.03 else Decimal("0")
        shipping = MFN_SHIPPING[currency] if (not afn and index == 0) else Decimal("0")
        rate = mp.sales_tax_rate
        items.append({
            "order_item_id": _digits(rng, 14),
            "sku": cat.sku,
            "qty": qty,
            "unit_price": str(unit),
            "item_price": str(item_price),
            "item_tax": str(q((item_price - promo) * rate)),
            "shipping": str(shipping),
            "shipping_tax": str(q(shipping * rate)),
            "promo": str(promo),
            "promo_id": f"PLM-SAGE-{rng.randint(100, 140)}" if promo else "",
            "gift_wrap": str(gift),
            "gift_wrap_tax": str(q(gift * rate)),
            "qty_shipped": 0,
        })
    fate = rng.random()
    pending = timedelta(seconds=20) if live else timedelta(minutes=rng.randint(2, 15))
    plan: dict[str, Any] = {"unshipped_at": iso(purchased + pending), "cancel_at": None, "ship_at": None,
                            "return": None}
    if fate < 0.04:
        plan["cancel_at"] = iso(purchased + timedelta(minutes=rng.randint(20, 240)))
    else:
        hours = rng.uniform(3, 30) if afn else rng.uniform(10, 48)
        if live:
            hours = rng.uniform(0.02, 0.2)  # live FBA orders ship within minutes so the demo sees them move
        plan["ship_at"] = iso(purchased + timedelta(hours=hours))
        if rng.random() < 0.07:
            line = rng.choice(items)
            returned = rng.randint(1, line["qty"])
            back = purchased + timedelta(hours=hours) + timedelta(days=rng.uniform(4, 25))
            plan["return"] = {
                "at": iso(back),
                "refund_at": iso(back + timedelta(hours=rng.uniform(2, 30))),
                "order_item_id": line["order_item_id"],
                "qty": returned,
                "reason": rng.choice(RETURN_REASONS),
                "sellable": rng.random() < 0.7,
                "lpn": "LPN" + _alnum(rng, 9),
                "adjustment_id": _digits(rng, 14),
            }
    carrier, prefix = rng.choice(CARRIERS[country])
    return {
        "id": order_id,
        "marketplace_id": marketplace_id,
        "currency": currency,
        "purchase_date": iso(purchased),
        "last_update": iso(purchased),
        "status": "Pending",
        "channel": "AFN" if afn else "MFN",
        "ship_level": "Expedited" if is_prime else "Standard",
        "is_prime": is_prime,
        "is_business": rng.random() < 0.05,
        "buyer_email": f"{_alnum(rng, 12).lower()}@marketplace.amazon.{'com' if country == 'US' else 'co.uk' if country == 'GB' else 'de'}",
        "address": make_address(rng, country),
        "items": items,
        "plan": plan,
        "shipment": None,
        "shipment_template": {
            "carrier": carrier,
            "tracking": prefix + _alnum(rng, 14),
            "shipment_id": "D" + _alnum(rng, 8),
            "fc": rng.choice(FULFILLMENT_CENTERS[country]) if afn else "",
        },
        "returns": [],
    }


def order_charge_lines(order: dict[str, Any]) -> list[dict[str, Any]]:
    """Settlement lines (V2 vocabulary) Amazon posts when an order ships."""
    currency = order["currency"]
    lines: list[dict[str, Any]] = []
    for it in order["items"]:
        cat = next(c for c in CATALOG if c.sku == it["sku"])
        base = {"order_item_code": it["order_item_id"], "sku": it["sku"], "qty": it["qty"]}
        item_price, item_tax = Decimal(it["item_price"]), Decimal(it["item_tax"])
        shipping, shipping_tax = Decimal(it["shipping"]), Decimal(it["shipping_tax"])
        gift, gift_tax, promo = Decimal(it["gift_wrap"]), Decimal(it["gift_wrap_tax"]), Decimal(it["promo"])

        def add(amount_type: str, description: str, amount: Decimal, _base: dict = base, **extra: Any) -> None:
            if amount:
                lines.append({**_base, "amount_type": amount_type, "amount_description": description,
                              "amount": str(amount), **extra})

        add("ItemPrice", "Principal", item_price)
        add("ItemPrice", "Tax", item_tax)
        add("ItemPrice", "Shipping", shipping)
        add("ItemPrice", "ShippingTax", shipping_tax)
        add("ItemPrice", "GiftWrap", gift)
        add("ItemPrice", "GiftWrapTax", gift_tax)
        add("Promotion", "Principal", -promo, promotion_id=it["promo_id"])
        add("ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", -item_tax)
        add("ItemWithheldTax", "MarketplaceFacilitatorTax-Shipping", -shipping_tax)
        add("ItemWithheldTax", "MarketplaceFacilitatorTax-Other", -gift_tax)
        add("ItemFees", "Commission", -referral_fee(it))
        if order["channel"] == "AFN":
            add("ItemFees", "FBAPerUnitFulfillmentFee", -(fba_unit_fee(cat, currency) * it["qty"]))
    return lines


def referral_fee(it: dict[str, Any]) -> Decimal:
    base = Decimal(it["item_price"]) + Decimal(it["shipping"]) + Decimal(it["gift_wrap"]) - Decimal(it["promo"])
    return q(base * REFERRAL_FEE_RATE)


def refund_lines(order: dict[str, Any], ret: dict[str, Any]) -> list[dict[str, Any]]:
    """Settlement lines of a refund: principal, tax and promotion back, commission back less the admin fee."""
    it = next(i for i in order["items"] if i["order_item_id"] == ret["order_item_id"])
    share = Decimal(ret["qty"]) / Decimal(it["qty"])
    principal = q(Decimal(it["item_price"]) * share)
    tax = q(Decimal(it["item_tax"]) * share)
    promo = q(Decimal(it["promo"]) * share)
    commission = q(referral_fee(it) * share)
    admin = min(q(commission * REFUND_ADMIN_RATE), q(REFUND_ADMIN_CAP * FEE_SCALE[order["currency"]]))
    base = {"order_item_code": it["order_item_id"], "sku": it["sku"], "qty": ret["qty"]}
    lines = []
    for amount_type, description, amount, extra in (
        ("ItemPrice", "Principal", -principal, {}),
        ("ItemPrice", "Tax", -tax, {}),
        ("Promotion", "Principal", promo, {"promotion_id": it["promo_id"]}),
        ("ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", tax, {}),
        ("ItemFees", "Commission", commission, {}),
        ("ItemFees", "RefundCommission", -admin, {}),
    ):
        if amount:
            lines.append({**base, "amount_type": amount_type, "amount_description": description,
                          "amount": str(amount), **extra})
    return lines


def subscription_fee(currency: str) -> Decimal:
    return MONTHLY_SUBSCRIPTION_FEE[currency]


def storage_fee(currency: str, units: int) -> Decimal:
    return q(STORAGE_PER_UNIT[currency] * units)
