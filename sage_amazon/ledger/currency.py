"""The company currency and dated exchange rates as the ledger keeps them (issue 12.4).

`from_erp(amap, target, target_name)` returns the account map with:
- company_currency: the currency of the Sage company of each journal site (X3 COMPANY.CUR via FACILITY.LEGCPY,
  Sage 500 tsmCompany.CurrID), read through the target; accounts.yaml `company_currency` stays the fallback only
  when the ERP cannot say (a target without the read, a site without a company). Sites of companies in different
  currencies are refused in one line: the settlement journals convert to one company currency.
- dated_rates: the ERP's own rate table (X3 TABCHANGE daily rates, Sage 500 tmcCurrExchRate) to that currency,
  unless accounts.yaml names a `rates_file` (the alternative: its dated rates are kept). The constant `rates` stay
  a fallback for a day before the first dated rate, only while they are rates to the same company currency.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sage_amazon.mapping import MappingError
from sage_amazon.mapping.accounts import AccountMap


def company_currencies(target: Any, sites: list[str]) -> dict[str, str]:
    """site -> the currency of its Sage company, for the sites the ERP can say."""
    read = getattr(target, "company_currency", None)
    if read is None:
        return {}
    out = {}
    for site in sites:
        currency = read(site)
        if currency:
            out[site] = str(currency).strip().upper()
    return out


def from_erp(amap: AccountMap, target: Any, target_name: str) -> AccountMap:
    sites = sorted({s for s in amap.sites.get(target_name, {}).values() if s}) or [""]
    by_site = company_currencies(target, sites)
    found = sorted(set(by_site.values()))
    if len(found) > 1:
        listed = ", ".join(f"{site} {cur}" for site, cur in sorted(by_site.items()))
        raise MappingError(f"{amap.source}: the journal sites of {target_name} belong to companies in different "
                           f"currencies ({listed}): one company currency per account map")
    company = found[0] if found else amap.company_currency
    rates = amap.rates if company == amap.company_currency else {}
    dated = amap.dated_rates
    if not dated and hasattr(target, "exchange_rates"):  # no rates_file: the ERP's rate table
        dated = {cur: list(days) for cur, days in target.exchange_rates(company).items() if cur != company}
    return replace(amap, company_currency=company, rates=dict(rates), dated_rates=dated)
