"""listings.yaml: which Sage items are listed on Amazon and how their fields become Amazon attributes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sage_amazon.mapping import MappingError, load_yaml

FILE = "listings.yaml"
SAGE_FIELDS = ("title", "code", "ean")
CHANNELS = {"NA": "AMAZON_NA", "EU": "AMAZON_EU", "FE": "AMAZON_FE"}
_COLUMN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,29}$")


@dataclass(frozen=True)
class Marketplace:
    marketplace_id: str
    currency: str
    price_list: str = ""  # X3 price list code (SPRICLIST.PLICRD)
    price: str = ""  # Sage 500 price column (StdPrice)


@dataclass(frozen=True)
class Attribute:
    name: str
    source: str = ""  # a Sage field (title, code, ean)
    value: Any = None  # a fixed value
    extra: dict[str, Any] = field(default_factory=dict)  # other keys of the attribute's entry (type: ean)


@dataclass(frozen=True)
class ListingRules:
    target: str
    seller_id: str
    flag_field: str
    flag_values: tuple[str, ...]
    fields: dict[str, str]  # Sage field name -> Sage column (ean -> EANCOD)
    marketplaces: tuple[Marketplace, ...]
    default_product_type: str
    product_types: dict[str, str]
    skus: dict[str, str]  # Sage item -> Amazon SKU: skus.yaml's aliases, then listings.yaml's skus
    attributes: tuple[Attribute, ...]
    default_channel: str
    channels: dict[str, str]
    max_drop_percent: Decimal
    feed_from: int = 100  # this many listings of a marketplace to submit or more go in one JSON_LISTINGS_FEED
    feed_wait_seconds: float = 1800.0  # how long a run waits for Amazon to process its feed
    feed_poll_seconds: float = 30.0

    def product_type(self, item: str) -> str:
        return self.product_types.get(item, self.default_product_type)

    def sku(self, item: str) -> str:
        return self.skus.get(item, item)

    def channel(self, item: str, marketplace_id: str) -> str:
        """fulfillment_channel_code: DEFAULT, or AMAZON_<region> of the marketplace for FBA."""
        channel = self.channels.get(item, self.default_channel)
        if channel != "AMAZON":
            return channel
        from sage_amazon.amazon.accounts import region_of

        return CHANNELS.get(region_of(marketplace_id) or "", "AMAZON_NA")


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingError(f"{FILE}: '{where}' must be a mapping")
    return value


def _column(value: Any, where: str) -> str:
    text = str(value or "")
    if not _COLUMN.match(text):
        raise MappingError(f"{FILE}: '{where}' must be a Sage column name, got {value!r}")
    return text


def _target(target: str | None) -> str:
    if target:
        return target
    from sage_amazon import config

    return config.get("SAGE_AMAZON_TARGET").lower()


def _marketplaces(doc: dict[str, Any], target: str) -> tuple[Marketplace, ...]:
    out = []
    for mp, spec in _mapping(_mapping(doc.get("marketplaces"), "marketplaces").get(target),
                             f"marketplaces.{target}").items():
        spec = _mapping(spec, f"marketplaces.{target}.{mp}")
        if not spec.get("currency"):
            raise MappingError(f"{FILE}: 'marketplaces.{target}.{mp}.currency' is required")
        if target == "x3" and not spec.get("price_list"):
            raise MappingError(f"{FILE}: 'marketplaces.x3.{mp}.price_list' (an X3 price list code) is required")
        price = _column(spec.get("price", "StdPrice"), f"marketplaces.{target}.{mp}.price") \
            if target == "sage500" else ""
        out.append(Marketplace(str(mp), str(spec["currency"]), str(spec.get("price_list") or ""), price))
    return tuple(out)


def _attributes(doc: dict[str, Any]) -> tuple[Attribute, ...]:
    out = []
    for name, spec in _mapping(doc.get("attributes"), "attributes").items():
        spec = _mapping(spec, f"attributes.{name}")
        source, value = spec.get("from"), spec.get("value")
        if (source is None) == (value is None):
            raise MappingError(f"{FILE}: 'attributes.{name}' needs exactly one of 'from' (a Sage field) or 'value'")
        if source is not None and source not in SAGE_FIELDS:
            raise MappingError(f"{FILE}: 'attributes.{name}.from' must be one of {', '.join(SAGE_FIELDS)}, "
                               f"got {source!r}")
        if name in ("purchasable_offer", "fulfillment_availability"):
            raise MappingError(f"{FILE}: 'attributes.{name}' is built from the price and fulfillment_channel")
        extra = {k: v for k, v in spec.items() if k not in ("from", "value")}
        out.append(Attribute(str(name), str(source or ""), value, extra))
    return tuple(out)


def _aliased_skus(target: str) -> dict[str, str]:
    """Sage item -> Amazon SKU from skus.yaml's aliases (an item sold under another SKU is listed under it)."""
    from sage_amazon.mapping.orders import sku_rules

    return {item: sku for sku, item in sorted(sku_rules(target).aliases.items())}


def load(target: str | None = None) -> ListingRules:
    doc = _mapping(load_yaml(FILE) or {}, "top level")
    target = _target(target)
    flag = _mapping(_mapping(doc.get("flag"), "flag").get(target), f"flag.{target}")
    values = flag.get("values") or []
    if not values:
        raise MappingError(f"{FILE}: 'flag.{target}.values' must list the values that flag an item for Amazon")
    fields = {str(k): _column(v, f"fields.{target}.{k}")
              for k, v in _mapping(_mapping(doc.get("fields"), "fields").get(target), f"fields.{target}").items()}
    types = _mapping(doc.get("product_types"), "product_types")
    channel = _mapping(doc.get("fulfillment_channel"), "fulfillment_channel")
    guard = _mapping(doc.get("price_guard"), "price_guard")
    try:
        max_drop = Decimal(str(guard.get("max_drop_percent", 30)))
    except (InvalidOperation, ValueError):
        raise MappingError(f"{FILE}: 'price_guard.max_drop_percent' must be a number, "
                           f"got {guard.get('max_drop_percent')!r}") from None
    if not Decimal(0) <= max_drop <= Decimal(100):
        raise MappingError(f"{FILE}: 'price_guard.max_drop_percent' must be between 0 and 100, got {max_drop}")
    return ListingRules(
        target=target, seller_id=str(doc.get("seller_id") or ""),
        flag_field=_column(flag.get("field"), f"flag.{target}.field"),
        flag_values=tuple(str(v) for v in values), fields=fields, marketplaces=_marketplaces(doc, target),
        default_product_type=str(types.get("default") or "PRODUCT"),
        product_types={str(k): str(v) for k, v in _mapping(types.get("items"), "product_types.items").items()},
        skus={**_aliased_skus(target), **{str(k): str(v) for k, v in _mapping(doc.get("skus"), "skus").items()}},
        attributes=_attributes(doc), default_channel=str(channel.get("default") or "DEFAULT"),
        channels={str(k): str(v) for k, v in _mapping(channel.get("items"), "fulfillment_channel.items").items()},
        max_drop_percent=max_drop, **_bulk(_mapping(doc.get("bulk"), "bulk")),
    )


def _bulk(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, kind in (("feed_from", int), ("wait_seconds", float), ("poll_seconds", float)):
        if key in doc:
            try:
                value = kind(doc[key])
            except (TypeError, ValueError):
                raise MappingError(f"{FILE}: 'bulk.{key}' must be a number, got {doc[key]!r}") from None
            if value <= 0:
                raise MappingError(f"{FILE}: 'bulk.{key}' must be positive, got {doc[key]!r}")
            out["feed_from" if key == "feed_from" else f"feed_{key}"] = value
    return out
