"""The settlement summary row (settlement id, dates, total, currency) and the marketplace of a settlement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sage_amazon.amazon.settlement.layout import FileLayout, SettlementFileError
from sage_amazon.amazon.settlement.values import parse_amount, parse_local_date, parse_timestamp

# marketplace-name (lower case) -> marketplace code of the account map
MARKETPLACES = {
    "amazon.com": "US", "www.amazon.com": "US", "amazon.ca": "CA", "amazon.com.mx": "MX",
    "amazon.co.uk": "UK", "www.amazon.co.uk": "UK", "amazon.de": "DE", "www.amazon.de": "DE",
    "amazon.fr": "FR", "amazon.it": "IT", "amazon.es": "ES", "amazon.nl": "NL", "amazon.se": "SE",
    "amazon.pl": "PL", "amazon.com.be": "BE", "amazon.co.jp": "JP", "amazon.com.au": "AU",
    "amazon.com.tr": "TR", "amazon.ae": "AE", "amazon.sa": "SA", "amazon.sg": "SG", "amazon.in": "IN",
    "amazon.com.br": "BR", "amazon.eg": "EG", "amazon.ie": "IE",
}
CURRENCY_MARKETPLACE = {"USD": "US", "GBP": "UK", "EUR": "DE", "CAD": "CA", "MXN": "MX", "JPY": "JP", "AUD": "AU"}


def marketplace_code(marketplace_name: str, currency: str = "") -> str:
    """The account map's code of a marketplace-name (www. and case ignored); by currency when unknown."""
    name = (marketplace_name or "").strip().lower()
    return (MARKETPLACES.get(name.removeprefix("www.")) or MARKETPLACES.get(name)
            or CURRENCY_MARKETPLACE.get(currency, ""))


def home_marketplace_name(counts: dict[str, int], currency: str) -> str:
    """The settlement's own marketplace among its lines' marketplace-names: the one of its currency when
    present (a North America unified settlement in USD is amazon.com's even if .ca has more lines),
    else the most frequent. Lines of other marketplaces keep their own (raw.settlement_lines.marketplace)."""
    ranked = sorted(counts, key=lambda name: (-counts[name], name))
    own = CURRENCY_MARKETPLACE.get(currency)
    for name in ranked:
        if own and marketplace_code(name) == own:
            return name
    return ranked[0] if ranked else ""


@dataclass(frozen=True)
class SettlementSummary:
    settlement_id: str
    file_format: str
    settlement_start: datetime | None
    settlement_end: datetime | None
    deposit_date: date | None
    total_amount: Decimal
    currency: str
    marketplace_name: str
    marketplace: str
    line_count: int
    source_file: str
    file_sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "settlement_id": self.settlement_id,
            "file_format": self.file_format,
            "settlement_start": self.settlement_start.isoformat() if self.settlement_start else None,
            "settlement_end": self.settlement_end.isoformat() if self.settlement_end else None,
            "deposit_date": self.deposit_date.isoformat() if self.deposit_date else None,
            "total_amount": str(self.total_amount),
            "currency": self.currency,
            "marketplace_name": self.marketplace_name,
            "marketplace": self.marketplace,
            "line_count": self.line_count,
            "source_file": self.source_file,
            "file_sha256": self.file_sha256,
        }


def summary_values(layout: FileLayout) -> dict[str, Any]:
    """The summary row read: dates as timestamps and as the days written, total, currency."""
    s = layout.summary

    def read(name: str, parse):
        if not s.get(name):
            return None
        try:
            return parse(s[name], layout.day_first)
        except ValueError as exc:
            raise SettlementFileError(layout.path, str(exc), line=2, column=name, value=s[name]) from None

    try:
        total = parse_amount(s["total-amount"], layout.decimal_comma)
    except ValueError as exc:
        raise SettlementFileError(layout.path, str(exc), line=2, column="total-amount",
                                  value=s["total-amount"]) from None
    return {
        "settlement_id": s["settlement-id"],
        "file_format": layout.file_format,
        "settlement_start": read("settlement-start-date", parse_timestamp),
        "settlement_end": read("settlement-end-date", parse_timestamp),
        "settlement_start_date": read("settlement-start-date", parse_local_date),
        "settlement_end_date": read("settlement-end-date", parse_local_date),
        "deposit_date": read("deposit-date", parse_local_date),
        "total_amount": total,
        "currency": s["currency"].upper(),
    }
