"""The flat rows every extraction path yields (`ORDER_COLUMNS`, `ITEM_COLUMNS`), what one extraction
produced (`Extract`), and the small helpers the parsers share. Money stays Decimal."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

# column -> DuckDB type; the raw tables are created from these
ORDER_COLUMNS: dict[str, str] = {
    "amazon_order_id": "VARCHAR",
    "partition_date": "DATE",
    "purchase_date": "TIMESTAMP",
    "last_updated": "TIMESTAMP",
    "marketplace_id": "VARCHAR",
    "sales_channel": "VARCHAR",
    "order_status": "VARCHAR",
    "amazon_status": "VARCHAR",
    "fulfillment_channel": "VARCHAR",
    "ship_service_level": "VARCHAR",
    "currency": "VARCHAR",
    "order_total": "DECIMAL(18,2)",
    "is_business_order": "BOOLEAN",
    "ship_name": "VARCHAR",
    "ship_address_1": "VARCHAR",
    "ship_address_2": "VARCHAR",
    "ship_address_3": "VARCHAR",
    "ship_city": "VARCHAR",
    "ship_state": "VARCHAR",
    "ship_postal_code": "VARCHAR",
    "ship_country": "VARCHAR",
    "ship_phone": "VARCHAR",
    "source": "VARCHAR",
    "extract_id": "VARCHAR",
    "extracted_at": "TIMESTAMP",
    "payload": "VARCHAR",
}
ITEM_COLUMNS: dict[str, str] = {
    "amazon_order_id": "VARCHAR",
    "order_item_id": "VARCHAR",
    "partition_date": "DATE",
    "last_updated": "TIMESTAMP",
    "sku": "VARCHAR",
    "asin": "VARCHAR",
    "title": "VARCHAR",
    "quantity": "INTEGER",
    "quantity_shipped": "INTEGER",
    "currency": "VARCHAR",
    "unit_price": "DECIMAL(18,2)",
    "item_price": "DECIMAL(18,2)",  # unit price x quantity, before discounts
    "item_tax": "DECIMAL(18,2)",
    "shipping_price": "DECIMAL(18,2)",
    "shipping_tax": "DECIMAL(18,2)",
    "gift_wrap_price": "DECIMAL(18,2)",
    "gift_wrap_tax": "DECIMAL(18,2)",
    "promotion_discount": "DECIMAL(18,2)",  # >= 0
    "shipping_discount": "DECIMAL(18,2)",  # >= 0
    "item_status": "VARCHAR",
    "source": "VARCHAR",
    "extract_id": "VARCHAR",
    "extracted_at": "TIMESTAMP",
}

ZERO = Decimal("0")


class SchemaDrift(ValueError):
    """A payload lacks fields every order has: Amazon changed the format (or a proxy broke it)."""


def require(payload: dict[str, Any], keys: tuple[str, ...], what: str) -> None:
    """SchemaDrift naming the fields of `keys` the payload lacks, if any."""
    missing = [k for k in keys if k not in payload]
    if missing:
        raise SchemaDrift(f"{what} without {', '.join(missing)}: keys {sorted(payload)[:12]}")


@dataclass
class Extract:
    """What one extraction produced, and how: the raw rows plus figures for metadata and checks."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""
    calls: int = 0
    drift: list[str] = field(default_factory=list)

    def extend(self, other: Extract) -> None:
        self.orders.extend(other.orders)
        self.items.extend(other.items)
        self.calls += other.calls
        self.drift.extend(other.drift)
        self.source = self.source or other.source

    def page(self, response: Any, key: str, operation: str) -> dict[str, Any] | None:
        """A page's payload, its call counted; None (its drift noted) when it lacks the `key` list."""
        self.calls += 1
        payload = response.payload or {}
        if key not in payload:
            self.drift.append(f"{operation} response without '{key}': keys {sorted(payload)[:12]}")
            return None
        return payload

    def add(self, parse: Callable[[], tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
        """One order's rows from `parse()`, or its drift when the payload lacks what every order has."""
        try:
            row, items = parse()
        except SchemaDrift as exc:
            self.drift.append(str(exc))
            return
        self.orders.append(row)
        self.items.extend(items)


def by_account(api: Any, marketplaces: Iterable[str] | None, source: str,
               fetch: Callable[[Any, list[str]], Extract]) -> Extract:
    """`fetch(api, marketplaces)` on each account (region) holding some of the marketplaces, on its own host
    (accounts.per_account), merged into one extract."""
    from sage_amazon.amazon.accounts import per_account

    extract = Extract(source=source)
    for sub, mps in per_account(api, marketplaces):
        extract.extend(fetch(sub, mps))
    return extract


def stamp() -> tuple[str, datetime]:
    """A new extraction's id and time (naive UTC), shared by every row it writes."""
    return uuid.uuid4().hex[:16], datetime.now(UTC).replace(tzinfo=None)


def currency_of(*values: Any) -> str:
    for value in values:
        if isinstance(value, dict):
            code = value.get("currencyCode") or value.get("CurrencyCode")
            if code:
                return str(code)
    return ""


def ship_to(name: Any, a1: Any, a2: Any, a3: Any, city: Any, state: Any, postal: Any, country: Any,
            phone: Any) -> dict[str, str]:
    """The order row's ship-to columns ('' where Amazon gave nothing)."""
    return {"ship_name": name or "", "ship_address_1": a1 or "", "ship_address_2": a2 or "",
            "ship_address_3": a3 or "", "ship_city": city or "", "ship_state": state or "",
            "ship_postal_code": postal or "", "ship_country": country or "", "ship_phone": phone or ""}


def order_row(order_id: str, purchase: datetime | None, updated: datetime | None, *, marketplace_id: str,
              sales_channel: str, status: str, amazon_status: str, fulfillment_channel: str,
              ship_service_level: str, currency: str, order_total: Decimal | None, is_business_order: bool,
              ship: dict[str, str], source: str, extract_id: str, extracted_at: datetime) -> dict[str, Any]:
    """One ORDER_COLUMNS row but its payload (the caller adds what Amazon sent); `ship` from `ship_to`."""
    return {
        "amazon_order_id": order_id, "partition_date": purchase.date() if purchase else None,
        "purchase_date": purchase, "last_updated": updated, "marketplace_id": marketplace_id,
        "sales_channel": sales_channel, "order_status": status, "amazon_status": amazon_status,
        "fulfillment_channel": fulfillment_channel, "ship_service_level": ship_service_level, "currency": currency,
        "order_total": order_total, "is_business_order": is_business_order, **ship, "source": source,
        "extract_id": extract_id, "extracted_at": extracted_at,
    }


CHARGES = ("item_tax", "shipping_price", "shipping_tax", "gift_wrap_price", "gift_wrap_tax")
DISCOUNTS = ("promotion_discount", "shipping_discount")


def item_row(order_id: str, item_id: str, day: date | None, updated: datetime | None, *, sku: str, asin: str,
             title: str, quantity: int, shipped: int, currency: str, unit_price: Decimal | None,
             item_price: Decimal | None, charges: Sequence[Decimal | None], status: str, source: str,
             extract_id: str, extracted_at: datetime) -> dict[str, Any]:
    """One ITEM_COLUMNS row. `charges`: item tax, shipping price, shipping tax, gift wrap price, gift wrap tax,
    promotion discount, shipping discount (0 where absent; discounts as amounts >= 0)."""
    amounts = dict(zip(CHARGES + DISCOUNTS, charges, strict=True))
    return {
        "amazon_order_id": order_id, "order_item_id": item_id, "partition_date": day, "last_updated": updated,
        "sku": sku, "asin": asin, "title": title, "quantity": quantity, "quantity_shipped": shipped,
        "currency": currency, "unit_price": unit_price, "item_price": item_price,
        **{name: amounts[name] or ZERO for name in CHARGES},
        **{name: abs(amounts[name] or ZERO) for name in DISCOUNTS},
        "item_status": status, "source": source, "extract_id": extract_id, "extracted_at": extracted_at,
    }
