"""inventory.yaml: which Sage sites stand for Amazon's FBA stock, the adjustment mode and reason, and the rules
that turn Sage's available stock into the merchant-fulfilled quantity offered on Amazon."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from sage_amazon.mapping import MappingError, load_yaml

FILE = "inventory.yaml"
MODES = ("report_only", "adjust")


@dataclass(frozen=True)
class QuantityRule:
    buffer: int = 0
    percentage: Decimal = Decimal("100")
    threshold: int = 0
    cap: int | None = None
    sellable_only: bool = True

    def apply(self, available: Decimal, *, active: bool = True) -> int:
        """The quantity offered on Amazon for this much available Sage stock (never negative)."""
        if self.sellable_only and not active:
            return 0
        units = max(Decimal(available), Decimal(0))
        units = (units * self.percentage / Decimal(100)).to_integral_value(rounding=ROUND_FLOOR)
        units = max(units - self.buffer, Decimal(0))
        if units < self.threshold:
            return 0
        if self.cap is not None:
            units = min(units, Decimal(self.cap))
        return int(units)


@dataclass(frozen=True)
class InventoryRules:
    mode: str
    reason_code: str
    large_units: int
    large_value: Decimal
    fba_sites: dict[str, tuple[str, ...]]  # Sage site -> marketplaces whose fulfillable stock it holds
    seller_id: str = ""
    mfn_sites: dict[str, str] = field(default_factory=dict)  # marketplace -> Sage site
    mfn_skus: tuple[str, ...] = ()
    defaults: QuantityRule = QuantityRule()
    site_rules: dict[str, QuantityRule] = field(default_factory=dict)
    sku_rules: dict[str, QuantityRule] = field(default_factory=dict)
    feed_from: int = 20
    unsellable_bins: tuple[str, ...] = ("DMG",)  # Sage 500 bins left out of the sellable stock

    def site_of_marketplace(self, marketplace_id: str) -> str | None:
        for site, mps in self.fba_sites.items():
            if marketplace_id in mps:
                return site
        return None

    def rule_for(self, site: str, sku: str) -> QuantityRule:
        return self.sku_rules.get(sku) or self.site_rules.get(site) or self.defaults


def _target(target: str | None) -> str:
    if target:
        return target
    from sage_amazon import config

    return config.get("SAGE_AMAZON_TARGET").lower()


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingError(f"{FILE}: '{where}' must be a mapping")
    return value


def _decimal(value: Any, where: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise MappingError(f"{FILE}: '{where}' must be a number, got {value!r}") from None


def _int(value: Any, where: str, minimum: int = 0) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise MappingError(f"{FILE}: '{where}' must be a whole number, got {value!r}") from None
    if number < minimum:
        raise MappingError(f"{FILE}: '{where}' must be at least {minimum}, got {number}")
    return number


def _rule(doc: Any, where: str, base: QuantityRule) -> QuantityRule:
    doc = _mapping(doc, where)
    unknown = set(doc) - {"buffer", "percentage", "threshold", "cap", "sellable_only"}
    if unknown:
        raise MappingError(f"{FILE}: '{where}' has unknown rule(s) {', '.join(sorted(unknown))}")
    pct = _decimal(doc.get("percentage", base.percentage), f"{where}.percentage")
    if not Decimal(0) <= pct <= Decimal(100):
        raise MappingError(f"{FILE}: '{where}.percentage' must be between 0 and 100, got {pct}")
    cap = doc.get("cap", base.cap)
    return QuantityRule(buffer=_int(doc.get("buffer", base.buffer), f"{where}.buffer"), percentage=pct,
                        threshold=_int(doc.get("threshold", base.threshold), f"{where}.threshold"),
                        cap=None if cap in (None, "") else _int(cap, f"{where}.cap"),
                        sellable_only=bool(doc.get("sellable_only", base.sellable_only)))


def load(target: str | None = None) -> InventoryRules:
    doc = _mapping(load_yaml(FILE) or {}, "top level")
    target = _target(target)
    fba = _mapping(doc.get("fba"), "fba")
    mode = str(fba.get("mode", "report_only"))
    if mode not in MODES:
        raise MappingError(f"{FILE}: 'fba.mode' must be one of {', '.join(MODES)}, got {mode!r}")
    large = _mapping(fba.get("large_discrepancy"), "fba.large_discrepancy")
    sites = _mapping(_mapping(fba.get("sites"), "fba.sites").get(target), f"fba.sites.{target}")
    fba_sites: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for site, mps in sites.items():
        mps = (mps,) if isinstance(mps, str) else tuple(str(m) for m in (mps or ()))
        for mp in mps:
            if mp in seen:
                raise MappingError(f"{FILE}: marketplace {mp} is held by two FBA sites ({seen[mp]}, {site})")
            seen[mp] = str(site)
        fba_sites[str(site)] = mps
    mfn = _mapping(doc.get("mfn"), "mfn")
    defaults = _rule(mfn.get("defaults"), "mfn.defaults", QuantityRule())
    return InventoryRules(
        mode=mode, reason_code=str(fba.get("reason_code") or "AMZFBA"),
        large_units=_int(large.get("units", 25), "fba.large_discrepancy.units"),
        large_value=_decimal(large.get("value", "1000"), "fba.large_discrepancy.value"),
        fba_sites=fba_sites, seller_id=str(mfn.get("seller_id") or ""),
        mfn_sites={str(k): str(v) for k, v in _mapping(
            _mapping(mfn.get("marketplaces"), "mfn.marketplaces").get(target), f"mfn.marketplaces.{target}").items()},
        mfn_skus=tuple(str(s) for s in (mfn.get("skus") or ())),
        defaults=defaults,
        site_rules={str(k): _rule(v, f"mfn.sites.{k}", defaults)
                    for k, v in _mapping(mfn.get("sites"), "mfn.sites").items()},
        sku_rules={str(k): _rule(v, f"mfn.sku_rules.{k}", defaults)
                   for k, v in _mapping(mfn.get("sku_rules"), "mfn.sku_rules").items()},
        feed_from=_int(mfn.get("feed_from", 20), "mfn.feed_from", 1),
        unsellable_bins=tuple(str(b) for b in (doc.get("sage500_unsellable_bins") or ())),
    )
