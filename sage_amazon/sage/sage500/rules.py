"""Sage 500 rules for Amazon data, loaded from rules.yaml and carriers.yaml (partner-editable).

- Amazon order status -> Sage 500 order status text (StgSalesOrder.Status).
- SellerSKU is the Sage ItemID (no translation table).
- Amazon amounts -> Sage amounts: ItemPrice (the line total) / QuantityOrdered is the unit price,
  PromotionDiscount the line discount (TradeDiscAmt), ShippingPrice - ShippingDiscount the order freight.
- Revenue split into sales / shipping / promotion GL entries where accounts are configured.
- Sage ship method (carrier) -> Amazon carrier code for shipment confirmations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from importlib.resources import files

from sage_amazon.money import cents
from sage_amazon.sage.protocol import JournalLine, SalesOrder

UNIT_PRICE_QUANTUM = Decimal("0.00001")  # tsoSOLine.UnitPrice is DECIMAL(15,5)
STATUS_CODES = {"Open": 1, "Inactive": 2, "Canceled": 3, "Closed": 4, "Incomplete": 5, "Pending Approval": 6}


def _yaml(name: str) -> dict:
    import yaml

    return yaml.safe_load(files(__package__).joinpath(name).read_text()) or {}


@dataclass(frozen=True)
class AmazonCarrier:
    carrier_code: str  # Amazon CarrierCode (UPS, USPS, FedEx, DHL, Royal Mail, ..., Other)
    carrier_name: str = ""  # required by Amazon with carrier_code Other
    shipping_method: str = ""


@dataclass(frozen=True)
class Sage500Rules:
    order_status: Mapping[str, str]
    gl_accounts: Mapping[str, str]
    carriers: Mapping[str, AmazonCarrier] = field(default_factory=dict)
    company_id: str = "NWD"
    marker: str = "AMAZON"

    @classmethod
    def load(cls) -> Sage500Rules:
        return _default_rules()

    def sage_status(self, status: str) -> str:
        """Sage 500 status text of an Amazon OrderStatus or a protocol status (open / closed)."""
        for key in (status, status.strip(), status.strip().lower()):
            if key in self.order_status:
                return self.order_status[key]
        raise KeyError(f"no Sage 500 order status for {status!r}")

    def amazon_carrier(self, ship_meth_id: str) -> AmazonCarrier:
        """Amazon carrier of a Sage ship method; unknown ones go as Other with the Sage code as name."""
        known = self.carriers.get((ship_meth_id or "").strip().upper())
        if known:
            return known
        return AmazonCarrier("Other", carrier_name=ship_meth_id or "Unknown", shipping_method=ship_meth_id or "")

    def sage_ship_method(self, carrier: str) -> str | None:
        """The Sage ship method for a code that is either a Sage ShipMethID or an Amazon carrier code."""
        code = (carrier or "").strip()
        if code.upper() in self.carriers:
            return code.upper()
        for sage, amazon in self.carriers.items():
            if amazon.carrier_code.lower() == code.lower() and amazon.carrier_code != "Other":
                return sage
        return None


@lru_cache(maxsize=1)
def _default_rules() -> Sage500Rules:
    rules = _yaml("rules.yaml")
    carriers = {str(k).upper(): AmazonCarrier(str(v["carrier_code"]), str(v.get("carrier_name", "")),
                                              str(v.get("shipping_method", "")))
                for k, v in (_yaml("carriers.yaml").get("carriers") or {}).items()}
    return Sage500Rules(order_status={str(k): str(v) for k, v in rules["order_status"].items()},
                        gl_accounts={k: str(v) for k, v in (rules.get("gl_accounts") or {}).items() if v},
                        carriers=carriers, company_id=str(rules.get("company_id", "NWD")),
                        marker=str(rules.get("marker", "AMAZON")))


def carrier_table() -> dict[str, AmazonCarrier]:
    """Sage ShipMethID -> Amazon carrier, as configured in carriers.yaml."""
    return dict(_default_rules().carriers)


def amazon_line_amounts(quantity: Decimal, item_price: Decimal,
                        promotion_discount: Decimal = Decimal("0")) -> tuple[Decimal, Decimal]:
    """(unit price, line discount) from Amazon's ItemPrice (total of the line) and PromotionDiscount."""
    if quantity <= 0:
        raise ValueError(f"quantity must be positive: {quantity}")
    unit = (item_price / quantity).quantize(UNIT_PRICE_QUANTUM)
    return unit, cents(abs(promotion_discount))


def amazon_freight(shipping_prices: Iterable[Decimal], shipping_discounts: Iterable[Decimal] = ()) -> Decimal:
    """Order freight: the ShippingPrice of all items less their ShippingDiscount."""
    return cents(sum(shipping_prices, Decimal("0")) - sum((abs(d) for d in shipping_discounts), Decimal("0")))


def revenue_entries(order: SalesOrder, rules: Sage500Rules | None = None) -> list[JournalLine]:
    """Revenue of an order as GL credit/debit lines: gross sales, shipping and promotions on their own
    accounts where configured, netted into sales otherwise."""
    rules = rules or _default_rules()
    accounts = rules.gl_accounts
    gross = sum((cents(line.quantity * line.gross_price) for line in order.lines), Decimal("0"))
    discount = sum((line.discount for line in order.lines), Decimal("0"))
    sales = gross
    entries: list[JournalLine] = []
    if discount and accounts.get("promotions"):
        entries.append(JournalLine(accounts["promotions"], debit=discount, description="Promotions",
                                   reference=order.customer_order_ref))
    else:
        sales -= discount
    if order.freight and accounts.get("shipping"):
        entries.append(JournalLine(accounts["shipping"], credit=order.freight, description="Shipping",
                                   reference=order.customer_order_ref))
    else:
        sales += order.freight
    entries.insert(0, JournalLine(accounts.get("sales", ""), credit=sales, description="Sales",
                                  reference=order.customer_order_ref))
    return [e for e in entries if e.debit or e.credit]
