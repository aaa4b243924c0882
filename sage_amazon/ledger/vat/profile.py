"""The seller's tax profile (mapping file tax_profile.yaml): registrations, departure data, fee rules, accounts and
tax codes per Sage target. `load(target)` validates it; a bad entry is one MappingError naming file, entry, value."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sage_amazon.mapping import MappingError, load_yaml, mapping_file

FILE = "tax_profile.yaml"
SCHEMES = ("standard", "oss", "gst_hst", "qst")
FEE_TREATMENTS = ("charged", "reverse_charge", "none")
ANY = "*"
# the account map's marketplace codes -> ISO country (the account map says UK, ISO says GB)
MARKETPLACE_COUNTRY = {"UK": "GB", "DE": "DE", "FR": "FR", "IT": "IT", "ES": "ES", "NL": "NL", "PL": "PL",
                       "SE": "SE", "CA": "CA", "BE": "BE", "IE": "IE"}
# short code of each treatment in the default tax codes: <country><short>, at most 5 characters (X3 VAT)
SHORT = {"standard": "S", "reduced": "R", "oss": "O", "intra_eu": "IC", "export": "X", "deemed": "D",
         "input": "I", "reverse_charge": "RC", "outside": "OS", "gst": "G", "hst": "H", "qst": "Q"}


@dataclass(frozen=True)
class Registration:
    country: str
    number: str
    scheme: str

    @property
    def key(self) -> str:
        """How the summary names it: GB123456789, or OSS:DE123456789."""
        return self.number if self.scheme in ("standard", "gst_hst") else f"{self.scheme.upper()}:{self.number}"


@dataclass(frozen=True)
class FeeRule:
    marketplaces: tuple[str, ...]
    treatment: str
    country: str  # whose rate (GB, DE, CA-ON ...)
    since: date | None = None
    before: date | None = None
    order_fees: str = ""  # gb_to_gb: an order's fees carry VAT only when the order left GB for GB

    def applies(self, marketplace: str, day: date) -> bool:
        return (marketplace in self.marketplaces and (self.since is None or day >= self.since)
                and (self.before is None or day < self.before))


@dataclass(frozen=True)
class Profile:
    enabled: bool
    established: tuple[str, ...]  # countries of the seller's establishments (its seat, fixed establishments)
    ship_from: str
    registrations: tuple[Registration, ...]
    fulfilment_centres: dict[str, str]
    fees: tuple[FeeRule, ...]
    reduced_rate_skus: tuple[str, ...]
    output_vat: dict[str, str]
    input_vat: dict[str, str]
    gst_hst: str
    qst: str
    gst_hst_input: str
    tax_codes: dict[str, str] = field(default_factory=dict)
    monthly_returns: tuple[str, ...] = ()  # registrations (their summary key) filing monthly, else quarterly

    def registration(self, country: str, scheme: str = "standard") -> Registration | None:
        return next((r for r in self.registrations if r.country == country and r.scheme == scheme), None)

    def oss(self) -> Registration | None:
        return next((r for r in self.registrations if r.scheme == "oss"), None)

    def fc_country(self, fc: str) -> str:
        return self.fulfilment_centres.get((fc or "").strip().upper()[:3], "")

    def reduced(self, sku: str) -> bool:
        return any(fnmatch.fnmatchcase(sku or "", p) for p in self.reduced_rate_skus)

    def fee_rule(self, marketplace: str, day: date) -> FeeRule | None:
        return next((r for r in self.fees if r.applies(marketplace, day)), None)

    def vat_account(self, output: bool, country: str) -> str:
        accounts = self.output_vat if output else self.input_vat
        return accounts.get(country) or accounts.get(ANY, "")

    def code(self, treatment: str, country: str) -> str:
        key = f"{treatment}:{country}"
        if key in self.tax_codes:
            return self.tax_codes[key]
        return (country.removeprefix("CA-") + SHORT[treatment])[:5]


def _date(value: Any, what: str, where: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise MappingError(f"{where}: {what} must be a date like 2024-08-01, got {value!r}") from None


def _country(value: Any, what: str, where: str) -> str:
    text = str(value or "").strip().upper()
    if not text or len(text.split("-")[0]) != 2:
        raise MappingError(f"{where}: {what} must be an ISO country code like GB, got {value!r}")
    return text


def load(target: str) -> Profile:
    doc = load_yaml(FILE) or {}
    where = str(mapping_file(FILE))
    if not isinstance(doc, dict):
        raise MappingError(f"{where}: expected a mapping at the top level")
    regs = []
    for n, r in enumerate(doc.get("registrations") or [], start=1):
        scheme = str((r or {}).get("scheme") or "standard").strip().lower()
        if scheme not in SCHEMES:
            raise MappingError(f"{where}: registrations[{n}] scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
        if not str(r.get("number") or "").strip():
            raise MappingError(f"{where}: registrations[{n}] ({r.get('country')}) has no number")
        regs.append(Registration(_country(r.get("country"), f"registrations[{n}] country", where),
                                 str(r["number"]).strip(), scheme))
    fees = []
    for n, f in enumerate(doc.get("fees") or [], start=1):
        treatment = str(f.get("treatment") or "").strip().lower()
        if treatment not in FEE_TREATMENTS:
            raise MappingError(f"{where}: fees[{n}] treatment must be one of {', '.join(FEE_TREATMENTS)}, "
                               f"got {treatment!r}")
        markets = f.get("marketplaces") or ([f["marketplace"]] if f.get("marketplace") else [])
        if not markets:
            raise MappingError(f"{where}: fees[{n}] names no marketplace")
        fees.append(FeeRule(tuple(str(m).upper() for m in markets), treatment,
                            _country(f.get("country") or "XX", f"fees[{n}] country", where),
                            _date(f.get("since"), f"fees[{n}] since", where),
                            _date(f.get("before"), f"fees[{n}] before", where), str(f.get("order_fees") or "")))
    places = doc.get("established")
    established = tuple(_country(c, "established", where)
                        for c in (places if isinstance(places, list) else [places]))
    body = (doc.get("targets") or {}).get(target)
    if not isinstance(body, dict):
        raise MappingError(f"{where}: no `targets.{target}` section")
    for key in ("output_vat", "input_vat"):
        if not isinstance(body.get(key), dict) or not body[key]:
            raise MappingError(f"{where}: targets.{target}.{key} must map countries to accounts")
    codes = {str(k): str(v) for k, v in (body.get("tax_codes") or {}).items()}
    long = sorted(k for k, v in codes.items() if len(v) > 5 and target == "x3")
    if long:
        raise MappingError(f"{where}: targets.x3.tax_codes {long[0]}: an X3 VAT code has at most 5 characters")
    return Profile(
        enabled=bool(doc.get("enabled", False)),
        established=established,
        ship_from=_country(doc.get("ship_from") or established[0], "ship_from", where),
        registrations=tuple(regs),
        fulfilment_centres={str(k).upper()[:3]: _country(v, f"fulfilment_centres {k}", where)
                            for k, v in (doc.get("fulfilment_centres") or {}).items()},
        fees=tuple(fees),
        reduced_rate_skus=tuple(str(p) for p in doc.get("reduced_rate_skus") or ()),
        output_vat={str(k).upper() if k != ANY else ANY: str(v) for k, v in body["output_vat"].items()},
        input_vat={str(k).upper() if k != ANY else ANY: str(v) for k, v in body["input_vat"].items()},
        gst_hst=str(body.get("gst_hst") or ""), qst=str(body.get("qst") or ""),
        gst_hst_input=str(body.get("gst_hst_input") or ""), tax_codes=codes,
        monthly_returns=tuple(str(r) for r in doc.get("monthly_returns") or ()))
