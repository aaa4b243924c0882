"""Order mapping rules from YAML (skus, marketplaces, order_statuses, carriers), as rows for the ref tables.

The SQL model marts.sage_orders joins these tables; the Python helpers here state the same rules for
one value at a time (tests, CLI, replay).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sage_amazon.mapping import MappingError, load_yaml

ACTIONS = ("post", "wait", "close")


def _target(target: str | None) -> str:
    if target:
        return target
    from sage_amazon import config

    return config.get("SAGE_AMAZON_TARGET").lower()


def _section(doc: Any, name: str, file: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise MappingError(f"{file}: expected a mapping at the top level")
    value = doc.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingError(f"{file}: '{name}' must be a mapping")
    return value


# ------------------------------------------------------------------------------------------ SKUs


@dataclass(frozen=True)
class SkuRules:
    exact_match: bool
    aliases: dict[str, str]


def sku_rules(target: str | None = None) -> SkuRules:
    doc = load_yaml("skus.yaml") or {}
    aliases = _section(_section(doc, "aliases", "skus.yaml"), _target(target), "skus.yaml")
    return SkuRules(exact_match=bool(doc.get("exact_match", True)),
                    aliases={str(k).strip(): str(v).strip() for k, v in aliases.items() if v not in (None, "")})


def map_sku(sku: str, sage_items: Iterable[str] | None, rules: SkuRules) -> tuple[str | None, str]:
    """(Sage item, rule) for a SKU: exact match against the item master, then the aliases."""
    sku = (sku or "").strip()
    items = set(sage_items or ())
    if rules.exact_match and sku in items:
        return sku, "exact"
    if sku in rules.aliases:
        return rules.aliases[sku], "alias"
    return None, "unmapped"


def sku_alias_rows(target: str | None = None) -> list[tuple[str, str, str]]:
    rules = sku_rules(target)
    return [(sku, item, "alias") for sku, item in sorted(rules.aliases.items())]


# ---------------------------------------------------------------------------------- marketplaces


def marketplace_rows(target: str | None = None) -> list[dict[str, Any]]:
    """One row per marketplace: id, sales channel, country, currency, site, customer, order type."""
    doc = load_yaml("marketplaces.yaml") or {}
    base = _section(doc, "marketplaces", "marketplaces.yaml")
    per_target = _section(doc, _target(target), "marketplaces.yaml")
    rows = []
    for marketplace_id in sorted(set(base) | set(per_target)):
        common = base.get(marketplace_id) or {}
        sage = per_target.get(marketplace_id) or {}
        rows.append({
            "marketplace_id": str(marketplace_id),
            "sales_channel": str(common.get("sales_channel", "")),
            "country": str(common.get("country", "")),
            "currency": str(common.get("currency", "")).upper(),
            "site": str(sage.get("site", "") or ""),
            "customer": str(sage.get("customer", "") or ""),
            "order_type": str(sage.get("order_type", "") or ""),
        })
    return rows


def known_currencies() -> list[str]:
    doc = load_yaml("marketplaces.yaml") or {}
    listed = doc.get("known_currencies") or []
    from_marketplaces = [r["currency"] for r in marketplace_rows() if r["currency"]]
    return sorted({str(c).upper() for c in [*listed, *from_marketplaces]})


def marketplace_by_channel() -> dict[str, str]:
    """sales-channel (lower case) -> marketplace id, for report rows."""
    return {r["sales_channel"].lower(): r["marketplace_id"] for r in marketplace_rows() if r["sales_channel"]}


# -------------------------------------------------------------------------------------- statuses


def status_rows() -> list[dict[str, str]]:
    doc = load_yaml("order_statuses.yaml") or {}
    rows = []
    for status, rule in _section(doc, "statuses", "order_statuses.yaml").items():
        rule = rule or {}
        action = str(rule.get("action", "")).lower()
        if action not in ACTIONS:
            raise MappingError(f"order_statuses.yaml: {status}: action must be one of {', '.join(ACTIONS)}")
        rows.append({"amazon_status": str(status).upper(), "sage_status": str(rule.get("sage_status", "open")),
                     "action": action})
    return rows


# -------------------------------------------------------------------------------------- carriers


def carrier_rows(target: str | None = None) -> tuple[list[dict[str, str]], str]:
    """(rows amazon_carrier (lower case) -> sage_carrier, default for unknown carriers)."""
    doc = load_yaml("carriers.yaml") or {}
    section = _section(doc, _target(target), "carriers.yaml")
    carriers = section.get("carriers") or {}
    rows = [{"amazon_carrier": str(k).strip().lower(), "sage_carrier": str(v)} for k, v in carriers.items()]
    return rows, str(section.get("default") or "")


def map_carrier(amazon_carrier: str, target: str | None = None) -> str:
    rows, default = carrier_rows(target)
    lookup = {r["amazon_carrier"]: r["sage_carrier"] for r in rows}
    return lookup.get((amazon_carrier or "").strip().lower(), default or amazon_carrier)
