"""mapping/mcf.yaml: which Sage orders are Multi-Channel Fulfillment orders, and how they are sent to Amazon."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sage_amazon.mapping import MappingError, load_yaml

FILE = "mcf.yaml"
SPEEDS = ("Standard", "Expedited", "Priority", "ScheduledDelivery")
POLICIES = ("FillOrKill", "FillAll", "FillAllAvailable")


@dataclass(frozen=True)
class McfRules:
    target: str
    channels: tuple[str, ...]  # X3 order types / Sage 500 customer classes
    other_channels: tuple[str, ...]  # X3 sales sites / Sage 500 order sources
    fba_site: str
    marketplace: str
    shipping_speed: str = "Standard"
    fulfillment_policy: str = "FillOrKill"
    comment: str = "Thank you for your order"
    lookback_days: int | None = None
    order_source_field: str = "UserFld4"


def _names(value: Any, where: str) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if not isinstance(value, list):
        raise MappingError(f"{FILE}: {where} must be a list, got {value!r}")
    return tuple(str(v).strip() for v in value if str(v).strip())


def load(target: str, doc: Any = None) -> McfRules:
    doc = doc if doc is not None else (load_yaml(FILE) or {})
    if not isinstance(doc, dict):
        raise MappingError(f"{FILE}: expected a mapping at the top level")
    section = doc.get(target) or {}
    if not isinstance(section, dict):
        raise MappingError(f"{FILE}: '{target}' must be a mapping")
    first, second = (("order_types", "sales_sites") if target == "x3" else ("customer_classes", "order_sources"))
    speed = str(doc.get("shipping_speed") or "Standard")
    policy = str(doc.get("fulfillment_policy") or "FillOrKill")
    if speed not in SPEEDS:
        raise MappingError(f"{FILE}: shipping_speed must be one of {', '.join(SPEEDS)}, got {speed!r}")
    if policy not in POLICIES:
        raise MappingError(f"{FILE}: fulfillment_policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    lookback = doc.get("lookback_days")
    if lookback not in (None, "") and (not isinstance(lookback, int) or lookback < 1):
        raise MappingError(f"{FILE}: lookback_days must be a positive whole number of days, got {lookback!r}")
    site, marketplace = str(section.get("fba_site") or "").strip(), str(doc.get("marketplace") or "").strip()
    if not site or not marketplace:
        raise MappingError(f"{FILE}: '{target}.fba_site' and 'marketplace' are required")
    return McfRules(target=target, channels=_names(section.get(first), f"{target}.{first}"),
                    other_channels=_names(section.get(second), f"{target}.{second}"), fba_site=site,
                    marketplace=marketplace, shipping_speed=speed, fulfillment_policy=policy,
                    comment=str(doc.get("comment") or "")[:250] or "Thank you for your order",
                    lookback_days=lookback or None,
                    order_source_field=str(section.get("order_source_field") or "UserFld4"))


def sku_of(item: str, aliases: dict[str, str]) -> str:
    """The Amazon SKU of a Sage item: the SKU whose skus.yaml alias is the item, else the item code itself."""
    for sku, aliased in aliases.items():
        if aliased == item:
            return sku
    return item
