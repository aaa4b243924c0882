"""The company currency and dated exchange rates as the ledger keeps them (issue 12.4).

`from_erp(amap, target, target_name)` returns the account map with:
- company_currency: the currency of the Sage company of the journal sites (X3 COMPANY.CUR via FACILITY.LEGCPY,
  Sage 500 tsmCompany.CurrID), read through the target: that of the default site ("*"); accounts.yaml
  `company_currency` stays the fallback only when the ERP cannot say (a target without the read, a site without a
  company).
- site_currencies and company_rates: sites whose Sage company keeps another currency (X3 with a UK company in GBP
  and a German one in EUR) and that company's rates from the same ERP table. A settlement's journals convert to
  the company currency of its journal site (a GBP settlement posted to GB01 in a GBP company stays 1:1); a
  settlement whose lines go to sites of companies in different currencies is blocked by validation
  (settlements.validate), one line naming them.
- dated_rates: the ERP's own rate table (X3 TABCHANGE daily rates, Sage 500 tmcCurrExchRate) to that currency,
  unless accounts.yaml names a `rates_file` (the alternative: its dated rates are kept). The constant `rates` stay
  a fallback for a day before the first dated rate, only while they are rates to the same company currency.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from sage_amazon.mapping.accounts import AccountMap
from sage_amazon.sage import errors

log = logging.getLogger(__name__)


def _ask(read, *args):
    """A read of the ERP, None when the ERP cannot say: a table or class this ERP does not have, a refusal (the
    settings stay the fallback; the posting reports a refused login in its own line). A transient error is raised:
    the landing is retried rather than done at the fallback rates."""
    try:
        return read(*args)
    except (errors.SageTransientError, errors.SageUnknownOutcome):
        raise
    except errors.SageError as exc:
        log.warning("the ERP cannot say (%s): accounts.yaml's currency settings are used", exc)
        return None


def company_currencies(target: Any, sites: list[str]) -> dict[str, str]:
    """site -> the currency of its Sage company, for the sites the ERP can say."""
    read = getattr(target, "company_currency", None)
    if read is None:
        return {}
    out = {}
    for site in sites:
        currency = _ask(read, site)
        if currency:
            out[site] = str(currency).strip().upper()
    return out


def _rates(target: Any, company: str) -> dict[str, list]:
    found = _ask(target.exchange_rates, company) if hasattr(target, "exchange_rates") else None
    return {cur: list(days) for cur, days in (found or {}).items() if cur != company}


def from_erp(amap: AccountMap, target: Any, target_name: str) -> AccountMap:
    sites_of = amap.sites.get(target_name, {})
    sites = sorted({s for s in sites_of.values() if s}) or [""]
    by_site = company_currencies(target, sites)
    found = sorted(set(by_site.values()))
    # the company of the default site ("*"), else the one most sites belong to, else the configured currency
    default_site = sites_of.get("*", "")
    if by_site.get(default_site):
        company = by_site[default_site]
    elif found:
        company = max(found, key=lambda cur: (sum(1 for c in by_site.values() if c == cur), cur == amap.company_currency))
    else:
        company = amap.company_currency
    rates = amap.rates if company == amap.company_currency else {}
    dated = amap.dated_rates or _rates(target, company)  # no rates_file: the ERP's rate table
    others = {site: cur for site, cur in by_site.items() if cur != company}
    # each other company's own rates, from the same ERP table
    company_rates = {other: _rates(target, other) for other in sorted(set(others.values()))}
    return replace(amap, company_currency=company, rates=dict(rates), dated_rates=dated, site_currencies=others,
                   company_rates=company_rates)


def last_read(con: Any, amap: AccountMap, target_name: str) -> AccountMap:
    """Under currency_source: erp, the account map with the company currencies and rates the last landing read from
    the ERP, as ref.settlement_account_map keeps them: rewriting that table from accounts.yaml alone (the reference
    asset, which asks Sage nothing) must not put accounts.yaml's constants back between a landing and its journals.
    The map as configured when no ERP read is kept (or under currency_source: settings)."""
    from sage_amazon.warehouse import table_exists

    if amap.currency_source != "erp" or not table_exists(con, "ref.settlement_account_map"):
        return amap
    rows = con.execute("SELECT kind, marketplace, account, currency, rate, company_currency, valid_from "
                       "FROM ref.settlement_account_map WHERE target = ? AND kind IN ('site', 'rate')",
                       [target_name]).fetchall()
    if not any(kind == "rate" and valid_from is not None for kind, *_, valid_from in rows) and \
            not any(kind == "rate" and company != amap.company_currency for kind, *_, company, _v in rows):
        return amap  # nothing was read from the ERP (or it said what accounts.yaml says): as configured
    sites = {(market, site): cc for kind, market, site, _c, _r, cc, _v in rows if kind == "site"}
    company = next((cc for (market, _s), cc in sites.items() if market == "*" and cc), None) or next(
        (cc for kind, *_, cc, _v in rows if kind == "rate"), amap.company_currency)
    rates, dated, others = {}, {}, {}
    for kind, _m, _a, cur, rate, cc, valid_from in rows:
        if kind != "rate" or cur == cc:
            continue
        if cc == company:
            if valid_from is None:
                rates[cur] = rate
            else:
                dated.setdefault(cur, []).append((valid_from, rate))
        elif valid_from is not None:
            others.setdefault(cc, {}).setdefault(cur, []).append((valid_from, rate))
    return replace(amap, company_currency=company, rates=rates,
                   dated_rates={cur: sorted(days) for cur, days in dated.items()},
                   site_currencies={site: cc for (_m, site), cc in sites.items() if cc and cc != company},
                   company_rates={cc: {cur: sorted(days) for cur, days in by.items()} for cc, by in others.items()})
