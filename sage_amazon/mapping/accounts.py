"""The settlement account map (`accounts.yaml`): line patterns -> roles -> GL accounts and tax codes.

`load()` validates the file and returns an `AccountMap`; `rows()` compiles it into the table
`ref.settlement_account_map` that the SQL models join (one row per rule per marketplace, plus the
fixed roles and the currency rates), so the SQL and Python views of the map cannot disagree.
"""

from __future__ import annotations

import csv
import fnmatch
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sage_amazon.mapping import MappingError, load_yaml, mapping_file
from sage_amazon.warehouse import insert_rows

FILE = "accounts.yaml"
REVENUE_SOURCES = ("settlement", "sage_invoices")
# What a Sage invoice of an Amazon order carries: in `revenue: sage_invoices` these roles post to the
# marketplace customer's receivable (the invoice already booked them), never to income or tax.
INVOICED_ROLES = ("sales", "shipping_income", "gift_wrap_income", "promotions")
# taxes collected from the buyer (ItemPrice lines); what Amazon withholds (marketplace facilitator) is not invoiced
COLLECTED_TAX = ("Tax", "ShippingTax", "GiftWrapTax")
# the roles of that collected tax: tax_payable, or tax_collected where facilitator tax is posted gross (US)
COLLECTED_TAX_ROLES = ("tax_payable", "tax_collected")
# order lines whose role is checked at load: in sage_invoices mode none may reach an income account
ORDER_PROBES = (("Order", "ItemPrice", "Principal"), ("Order", "ItemPrice", "Shipping"),
                ("Order", "ItemPrice", "GiftWrap"), ("Order", "Promotion", "Principal"),
                ("Order", "ItemPrice", "Tax"))
FIXED_ROLES = ("clearing", "bank", "amazon_payable", "reserve", "rounding", "fx_gain_loss", "suspense")
ANY = "*"

TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("kind", "VARCHAR"),  # rule | role | site | rate | option (role = option name, account = its value)
    ("target", "VARCHAR"),
    ("marketplace", "VARCHAR"),  # US, UK, DE ... or * (any other marketplace)
    ("rule_no", "INTEGER"),
    ("transaction_type_like", "VARCHAR"),  # lower-case LIKE pattern
    ("amount_type_like", "VARCHAR"),
    ("description_like", "VARCHAR"),
    ("role", "VARCHAR"),
    ("account", "VARCHAR"),
    ("tax_code", "VARCHAR"),
    ("currency", "VARCHAR"),
    ("rate", "DECIMAL(18,8)"),
    ("company_currency", "VARCHAR"),
    ("rule_text", "VARCHAR"),
    ("valid_from", "DATE"),  # rate rows: the day a dated rate applies from (NULL: the constant of `rates`)
)


@dataclass(frozen=True)
class Rule:
    no: int
    role: str
    transaction_type: str = ANY
    amount_type: str = ANY
    description: str = ANY
    marketplaces: tuple[str, ...] = ()
    note: str = ""  # why the role differs from the rule as written (revenue source)

    def matches(self, transaction_type: str, amount_type: str, description: str, marketplace: str = "") -> bool:
        if self.marketplaces and marketplace not in self.marketplaces:
            return False
        return all(
            fnmatch.fnmatchcase((value or "").lower(), pattern.lower())
            for value, pattern in ((transaction_type, self.transaction_type), (amount_type, self.amount_type),
                                   (description, self.description))
        )

    def text(self) -> str:
        parts = [f"{k}={v!r}" for k, v in (("transaction_type", self.transaction_type),
                                            ("amount_type", self.amount_type),
                                            ("description", self.description)) if v != ANY]
        text = f"rule {self.no}: " + (", ".join(parts) or "any line") + f" -> {self.role}"
        return text + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class AccountMap:
    source: str
    company_currency: str
    rates: dict[str, Decimal]
    documents: str
    targets: dict[str, dict[str, str]]  # target -> role -> account
    sites: dict[str, dict[str, str]]  # target -> marketplace (or *) -> journal site
    marketplaces: dict[str, dict[str, Any]]  # code -> {currency, accounts, tax_codes}
    rules: tuple[Rule, ...] = field(default_factory=tuple)
    revenue: str = "settlement"  # settlement | sage_invoices: where revenue is recorded, once
    unmapped: str = "suspense"  # suspense (post to the suspense account, flagged) | hold (do not post)
    # currency -> [(day, rate)] from `rates_file`: the rate of a day is the last one on or before it
    dated_rates: dict[str, list[tuple[date, Decimal]]] = field(default_factory=dict)
    # target -> the sales order type of orders never invoiced (revenue: settlement), e.g. X3 SOHTYP SNI
    uninvoiced_order_types: dict[str, str] = field(default_factory=dict)
    # erp (default): the company currency of the journal sites' Sage company and the ERP's rate table
    # (ledger/currency.from_erp), these settings the fallback; settings: company_currency / rates / rates_file as written
    currency_source: str = "erp"
    # journal site -> the currency of its Sage company where it differs from company_currency (several companies)
    site_currencies: dict[str, str] = field(default_factory=dict)
    # company currency (other than company_currency) -> currency -> [(day, rate)]: the ERP's rates to that currency
    company_rates: dict[str, dict[str, list[tuple[date, Decimal]]]] = field(default_factory=dict)

    def order_billing(self, target: str) -> tuple[str, bool]:
        """(order type, invoiced) of the orders flow's sales orders on `target`: under `revenue: settlement` the
        target's `uninvoiced_order_type` and False (fulfilment and stock only, revenue comes from the
        settlement); under `revenue: sage_invoices` ("" = the marketplace's order type) and True.
        A target without an uninvoiced order type under `revenue: settlement` is refused: Sage would invoice
        the orders and revenue would be counted twice."""
        if self.revenue == "sage_invoices":
            return "", True
        order_type = self.uninvoiced_order_types.get(target, "")
        if not order_type:
            raise MappingError(
                f"{self.source}: revenue: settlement but targets.{target} has no uninvoiced_order_type: Sage would "
                "invoice the orders flow's sales orders and revenue would be counted twice")
        return order_type, False

    def roles(self) -> set[str]:
        return {r.role for r in self.rules} | set(FIXED_ROLES)

    def account(self, target: str, role: str, marketplace: str = "") -> str:
        override = self.marketplaces.get(marketplace, {}).get("accounts", {})
        if role in override:
            return override[role]
        try:
            return self.targets[target][role]
        except KeyError:
            raise MappingError(f"{self.source}: no account for role {role!r} under targets.{target}") from None

    def site(self, target: str, marketplace: str = "") -> str:
        sites = self.sites.get(target, {})
        return sites.get(marketplace) or sites.get(ANY, "")

    def tax_code(self, role: str, marketplace: str = "") -> str:
        return self.marketplaces.get(marketplace, {}).get("tax_codes", {}).get(role, "")

    def rate(self, currency: str) -> Decimal:
        if currency == self.company_currency:
            return Decimal("1")
        try:
            return self.rates[currency]
        except KeyError:
            raise MappingError(f"{self.source}: no rate for currency {currency} in `rates`") from None

    def role_for(self, transaction_type: str, amount_type: str, description: str,
                 marketplace: str = "") -> tuple[str, Rule | None]:
        """The role of a line and the rule that gave it (suspense and None when nothing matches)."""
        for rule in self.rules:
            if rule.matches(transaction_type, amount_type, description, marketplace):
                return rule.role, rule
        return "suspense", None


def _text(value: Any, where: str, source: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | dict | list):
        raise MappingError(f"{source}: {where} must be text, got {value!r}")
    return str(value)


def parse(data: Any, source: str = FILE) -> AccountMap:
    if not isinstance(data, dict):
        raise MappingError(f"{source}: expected a mapping at the top level")
    company = _text(data.get("company_currency"), "company_currency", source).upper()
    if len(company) != 3:
        raise MappingError(f"{source}: company_currency must be an ISO currency code like USD")
    rates: dict[str, Decimal] = {}
    for cur, value in (data.get("rates") or {}).items():
        try:
            rate = Decimal(_text(value, f"rates.{cur}", source))
        except InvalidOperation:
            raise MappingError(f"{source}: rates.{cur} must be a number in quotes, got {value!r}") from None
        if rate <= 0:
            raise MappingError(f"{source}: rates.{cur} must be positive")
        rates[str(cur).upper()] = rate
    targets: dict[str, dict[str, str]] = {}
    sites: dict[str, dict[str, str]] = {}
    order_types: dict[str, str] = {}
    for target, body in (data.get("targets") or {}).items():
        order_types[str(target)] = _text((body or {}).get("uninvoiced_order_type"),
                                         f"targets.{target}.uninvoiced_order_type", source).strip()
        accounts = (body or {}).get("accounts") or {}
        sites[str(target)] = {str(k).upper() if k != ANY else ANY: _text(v, f"targets.{target}.sites.{k}", source)
                              for k, v in ((body or {}).get("sites") or {}).items()}
        targets[str(target)] = {str(k): _text(v, f"targets.{target}.accounts.{k}", source) for k, v in accounts.items()}
    if not targets:
        raise MappingError(f"{source}: `targets` must give the accounts of at least one Sage target")
    markets: dict[str, dict[str, Any]] = {}
    for code, body in (data.get("marketplaces") or {}).items():
        body = body or {}
        markets[str(code).upper()] = {
            "currency": _text(body.get("currency"), f"marketplaces.{code}.currency", source).upper(),
            "accounts": {str(k): _text(v, "account", source) for k, v in (body.get("accounts") or {}).items()},
            "tax_codes": {str(k): _text(v, "tax code", source) for k, v in (body.get("tax_codes") or {}).items()},
        }
    rules = []
    for i, raw in enumerate(data.get("rules") or [], start=1):
        if not isinstance(raw, dict) or "role" not in raw:
            raise MappingError(f"{source}: rules[{i}] needs a `role`, got {raw!r}")
        unknown = set(raw) - {"role", "transaction_type", "amount_type", "description", "marketplaces"}
        if unknown:
            raise MappingError(f"{source}: rules[{i}] has unknown key(s) {', '.join(sorted(unknown))}")
        rules.append(Rule(
            no=i, role=_text(raw["role"], f"rules[{i}].role", source),
            transaction_type=_text(raw.get("transaction_type", ANY), "pattern", source) or ANY,
            amount_type=_text(raw.get("amount_type", ANY), "pattern", source) or ANY,
            description=_text(raw.get("description", ANY), "pattern", source) or ANY,
            marketplaces=tuple(str(m).upper() for m in raw.get("marketplaces") or ()),
        ))
    documents = _text(data.get("documents") or "journal_only", "documents", source)
    if documents not in ("journal_only", "credit_notes"):
        raise MappingError(f"{source}: documents must be journal_only or credit_notes, got {documents!r}")
    revenue = _text(data.get("revenue") or "settlement", "revenue", source)
    if revenue not in REVENUE_SOURCES:
        raise MappingError(f"{source}: revenue must be settlement or sage_invoices, got {revenue!r}")
    if documents == "credit_notes":  # refunded principal clears the credit notes in receivables
        rules.insert(0, Rule(no=0, role="receivables", transaction_type="*refund*", amount_type="ItemPrice",
                             description="Principal"))
    if revenue == "sage_invoices":
        rules = _invoiced_to_receivables(rules, documents)
    unmapped = _text(data.get("unmapped") or "suspense", "unmapped", source)
    if unmapped not in ("suspense", "hold"):
        raise MappingError(f"{source}: unmapped must be suspense or hold, got {unmapped!r}")
    dated = _rates_file(data.get("rates_file"), source, company)
    currency_source = _text(data.get("currency_source") or "erp", "currency_source", source)
    if currency_source not in ("settings", "erp"):
        raise MappingError(f"{source}: currency_source must be settings or erp, got {currency_source!r}")
    amap = AccountMap(source, company, rates, documents, targets, sites, markets, tuple(rules), revenue, unmapped,
                      dated, {k: v for k, v in order_types.items() if v}, currency_source)
    for target, accounts in targets.items():
        missing = sorted(r for r in amap.roles() if r not in accounts)
        if missing:
            raise MappingError(f"{source}: targets.{target}.accounts has no account for role(s) {', '.join(missing)}")
    _refuse_double_revenue(amap)
    return amap


def _rates_file(name: Any, source: str, company: str) -> dict[str, list[tuple[date, Decimal]]]:
    """`rates_file: rates.csv` (beside accounts.yaml): lines `date,currency,rate` (1 unit = rate company units),
    e.g. exported daily from the ERP's rate table (X3 TABCHANGE, Sage 500 tmcCurrExchRate)."""
    if not name:
        return {}
    path = Path(str(name))
    if not path.is_absolute():
        path = Path(source).parent / path
    out: dict[str, list[tuple[date, Decimal]]] = {}
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for n, row in enumerate(csv.reader(handle), start=1):
                if not row or row[0].strip().lower() in ("date", "") or row[0].startswith("#"):
                    continue
                try:
                    day, cur, rate = date.fromisoformat(row[0].strip()), row[1].strip().upper(), Decimal(row[2].strip())
                except (ValueError, IndexError, InvalidOperation):
                    raise MappingError(f"{path}, line {n}: expected date,currency,rate, got {','.join(row)!r}") from None
                if rate <= 0 or len(cur) != 3:
                    raise MappingError(f"{path}, line {n}: bad currency or rate {','.join(row)!r}")
                if cur != company:
                    out.setdefault(cur, []).append((day, rate))
    except FileNotFoundError:
        raise MappingError(f"{source}: rates_file {path} not found") from None
    return {cur: sorted(days) for cur, days in out.items()}


def _invoiced_to_receivables(rules: list[Rule], documents: str) -> list[Rule]:
    """revenue: sage_invoices. What the invoices of the orders flow's sales orders carry (principal, shipping,
    gift wrap, promotions, collected tax) clears the marketplace customer's receivable; with credit notes, the
    refunded amounts clear them likewise. Fees, reimbursements, reserves keep their own accounts."""
    out = []
    for rule in rules:
        refund = "refund" in rule.transaction_type.lower() and rule.amount_type.lower() == "itemprice"
        collected_tax = rule.role in COLLECTED_TAX_ROLES and rule.amount_type.lower() == "itemprice" and \
            rule.description in COLLECTED_TAX
        if rule.role in INVOICED_ROLES or collected_tax or (refund and documents == "credit_notes"):
            rule = Rule(rule.no, "receivables", rule.transaction_type, rule.amount_type, rule.description,
                        rule.marketplaces, note=f"{rule.role} invoiced by Sage (revenue: sage_invoices)")
        out.append(rule)
    return out


def _refuse_double_revenue(amap: AccountMap) -> None:
    """A map that would count order revenue twice (or not at all) is refused with one line."""
    markets = ["", *amap.marketplaces]
    for probe in ORDER_PROBES:
        for market in markets:
            role, rule = amap.role_for(*probe, market)
            if rule is None:
                continue
            where = f"rule {rule.no} ({'/'.join(probe)}{', ' + market if market else ''} -> {role})"
            if amap.revenue == "sage_invoices" and role != "receivables" and probe[2] != "Tax":
                for target in amap.targets:
                    account = amap.account(target, role, market)
                    income = {amap.account(target, r, market) for r in INVOICED_ROLES if r in amap.targets[target]}
                    if account in income or role in INVOICED_ROLES:
                        raise MappingError(
                            f"{amap.source}: revenue: sage_invoices but {where} posts order revenue to account "
                            f"{account} ({target}): Sage's invoices already carry it, it would be counted twice")
            if amap.revenue == "settlement" and role == "receivables" and probe[2] != "Tax":
                raise MappingError(
                    f"{amap.source}: revenue: settlement but {where} clears receivables that no invoice "
                    "creates: use revenue: sage_invoices, or post order revenue to sales")


def load() -> AccountMap:
    return parse(load_yaml(FILE), str(mapping_file(FILE)))


def like_pattern(glob: str) -> str:
    """Shell pattern -> lower-case SQL LIKE pattern (`_` stays a one-character wildcard: harmless here)."""
    return glob.lower().replace("*", "%").replace("?", "_")


def rows(amap: AccountMap, target: str) -> list[tuple]:
    """The account map as rows of ref.settlement_account_map for one Sage target."""
    if target not in amap.targets:
        raise MappingError(f"{amap.source}: no `targets.{target}` section")
    out: list[tuple] = []
    markets = [*amap.marketplaces, ANY]
    for market in markets:
        mk = "" if market == ANY else market
        for rule in amap.rules:
            if rule.marketplaces and mk not in rule.marketplaces:
                continue
            out.append(("rule", target, market, rule.no, like_pattern(rule.transaction_type),
                        like_pattern(rule.amount_type), like_pattern(rule.description), rule.role,
                        amap.account(target, rule.role, mk), amap.tax_code(rule.role, mk), None, None, None,
                        rule.text(), None))
        for role in sorted(amap.roles()):
            out.append(("role", target, market, None, None, None, None, role, amap.account(target, role, mk),
                        amap.tax_code(role, mk), None, None, None, None, None))
        site = amap.site(target, mk)
        out.append(("site", target, market, None, None, None, None, None, site, None, None, None,
                    amap.site_currencies.get(site, amap.company_currency), None, None))
    out.append(("option", target, ANY, None, None, None, None, "unmapped", amap.unmapped, None, None, None, None,
                None, None))
    currencies = set(amap.rates) | {amap.company_currency}
    for cur in sorted(currencies):
        out.append(("rate", target, ANY, None, None, None, None, None, None, None, cur, amap.rate(cur),
                    amap.company_currency, None, None))
    for cur, days in sorted(amap.dated_rates.items()):
        for day, rate in days:
            out.append(("rate", target, ANY, None, None, None, None, None, None, None, cur, rate,
                        amap.company_currency, None, day))
    for company, by_currency in sorted(amap.company_rates.items()):  # the other companies' rates (several companies)
        out.append(("rate", target, ANY, None, None, None, None, None, None, None, company, Decimal("1"), company,
                    None, None))
        for cur, days in sorted(by_currency.items()):
            for day, rate in days:
                out.append(("rate", target, ANY, None, None, None, None, None, None, None, cur, rate, company, None,
                            day))
    return out


def write_table(con, amap: AccountMap, target: str, table: str = "ref.settlement_account_map") -> int:
    """(Re)create the account map table; returns its row count."""
    schema = table.split(".")[0]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    cols = ", ".join(f"{n} {t}" for n, t in TABLE_COLUMNS)
    con.execute(f"CREATE OR REPLACE TABLE {table} ({cols})")
    data = rows(amap, target)
    insert_rows(con, table, dict(TABLE_COLUMNS), data)
    return len(data)
