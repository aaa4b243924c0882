"""Deferred transactions at month end (issue 17.3): per marketplace, the orders shipped by the month's last day that
no settlement has paid by then (Amazon's DD+7 hold, B2B invoicing terms) are accrued as revenue on the month's last
day and reversed on the next month's first day; settlement postings stay cash-based. mapping file deferred.yaml
says how (accounts, look-back).

- Shipped: FBA orders from raw.amazon_fba_shipments (shipment date, item and shipping price); merchant-fulfilled
  orders from the latest version in raw.amazon_orders with status Shipped (day of that version's last update,
  its items' prices less promotions). Paid (released): an Order line of raw.settlement_lines for the order posted
  on or before the month's last day.
- Audit: marts.deferred_accrual_orders, one row per month, marketplace and order (amounts, ship day, the
  journal reference, status, posted). Rows of a posted accrual are kept as posted; a re-run rebuilds the others.
- Journals: DEFER-<marketplace>-<YYYYMM> (month end) and DEFER-<marketplace>-<YYYYMM>-R (next month's first day),
  built from the audit rows, each posted once (ops.posting_ledger flow deferred_journal; after an unknown outcome
  Sage is asked first): re-running a month never accrues twice, and a reversal Sage refused is retried alone.
- A shipped order without a price or a known marketplace keeps its marketplace's accrual unposted (status and
  reason in the audit table and the report): no amount is guessed. So does a marketplace without a landed
  settlement ending after the month end (an open settlement may still pay orders dated on or before it): the
  accrual posts on the first run after that settlement is landed. A journal Sage refuses is a dead letter (flow
  deferred, key <reference>).

Never imports Dagster (the asset is assets/month_end/deferred.py).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sage_amazon import posting_ledger
from sage_amazon.ledger import currency as fx
from sage_amazon.ledger.journal_once import Outcome, post_once
from sage_amazon.mapping import MappingError, accounts, load_yaml, mapping_file
from sage_amazon.sage.protocol import Journal, JournalLine

if TYPE_CHECKING:
    import duckdb

FILE = "deferred.yaml"
FLOW = "deferred_journal"  # the posting ledger's flow of accruals and reversals
DEAD_LETTER_FLOW = "deferred"
TABLE = "marts.deferred_accrual_orders"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
OK, NO_PRICE, NO_MARKETPLACE = "ok", "no_price", "no_marketplace"
COLUMNS = (
    ("month", "VARCHAR NOT NULL"), ("marketplace", "VARCHAR NOT NULL"), ("order_id", "VARCHAR NOT NULL"),
    ("channel", "VARCHAR"), ("shipped_on", "DATE"), ("currency", "VARCHAR"), ("principal", "DECIMAL(18,2)"),
    ("shipping", "DECIMAL(18,2)"), ("promotions", "DECIMAL(18,2)"), ("amount", "DECIMAL(18,2)"),
    ("journal_reference", "VARCHAR NOT NULL"), ("status", "VARCHAR"), ("posted", "BOOLEAN"),
)


@dataclass(frozen=True)
class Settings:
    enabled: bool
    lookback_days: int
    deferred_account: str


def settings(target: str) -> Settings:
    doc = load_yaml(FILE) or {}
    where = str(mapping_file(FILE))
    if not isinstance(doc, dict):
        raise MappingError(f"{where}: expected a mapping at the top level")
    account = (((doc.get("targets") or {}).get(target) or {}).get("accounts") or {}).get("deferred")
    if not account:
        raise MappingError(f"{where}: targets.{target}.accounts needs `deferred`")
    try:
        lookback = int(doc.get("lookback_days", 60))
    except (TypeError, ValueError):
        raise MappingError(f"{where}: lookback_days must be a number of days, got {doc.get('lookback_days')!r}") from None
    return Settings(bool(doc.get("enabled", True)), lookback, str(account))


def month_bounds(month: str) -> tuple[date, date]:
    """'YYYY-MM' -> (its last day, the next month's first day)."""
    try:
        year, mon = (int(p) for p in month.split("-"))
        last = date(year, mon, calendar.monthrange(year, mon)[1])
    except ValueError:
        raise ValueError(f"month must be YYYY-MM, got {month!r}") from None
    return last, last + timedelta(days=1)


def reference(marketplace: str, month: str, reversal: bool = False) -> str:
    return f"DEFER-{marketplace}-{month.replace('-', '')}" + ("-R" if reversal else "")


# ---------------------------------------------------------------------------------------------- the orders

@dataclass(frozen=True)
class Accrued:
    month: str
    marketplace: str
    order_id: str
    channel: str
    shipped_on: date
    currency: str
    principal: Decimal
    shipping: Decimal
    promotions: Decimal  # <= 0
    journal_reference: str
    status: str
    posted: bool = False

    @property
    def amount(self) -> Decimal:
        return self.principal + self.shipping + self.promotions


def _shipped(con: duckdb.DuckDBPyConnection, first: date, last: date) -> list[tuple]:
    """(order id, channel, ship day, sales channel or marketplace id, currency, principal, shipping, promotions)
    of orders shipped in [first, last]: FBA by the shipments report, merchant-fulfilled by the orders."""
    from sage_amazon.warehouse import table_exists

    out: list[tuple] = []
    fba: set[str] = set()
    if table_exists(con, "raw.amazon_fba_shipments"):
        rows = con.execute("""
            SELECT amazon_order_id, 'AFN', min(CAST(shipment_date AS DATE)), any_value(sales_channel),
                   any_value(currency),
                   CASE WHEN count(*) = count(item_price) THEN sum(item_price) END,
                   coalesce(sum(shipping_price), 0), 0
            FROM raw.amazon_fba_shipments WHERE amazon_order_id IS NOT NULL
            GROUP BY amazon_order_id
            HAVING min(CAST(shipment_date AS DATE)) BETWEEN $first AND $last""",
                           {"first": first, "last": last}).fetchall()
        out += rows
        fba = {r[0] for r in con.execute("SELECT DISTINCT amazon_order_id FROM raw.amazon_fba_shipments").fetchall()}
    if table_exists(con, "raw.amazon_orders") and table_exists(con, "raw.amazon_order_items"):
        rows = con.execute("""
            WITH latest AS (
                SELECT * FROM raw.amazon_orders
                QUALIFY row_number() OVER (PARTITION BY amazon_order_id
                                           ORDER BY last_updated DESC NULLS LAST, extracted_at DESC) = 1
            )
            SELECT o.amazon_order_id, 'MFN', CAST(o.last_updated AS DATE), o.marketplace_id,
                   coalesce(any_value(i.currency), any_value(o.currency)),
                   CASE WHEN count(i.order_item_id) > 0 AND count(i.order_item_id) = count(i.item_price)
                        THEN sum(i.item_price) END,
                   coalesce(sum(i.shipping_price), 0),
                   -coalesce(sum(i.promotion_discount), 0) - coalesce(sum(i.shipping_discount), 0)
            FROM latest AS o
            LEFT JOIN raw.amazon_order_items AS i
                ON i.amazon_order_id = o.amazon_order_id AND i.last_updated IS NOT DISTINCT FROM o.last_updated
            WHERE upper(coalesce(o.fulfillment_channel, '')) = 'MFN'
                AND (lower(coalesce(o.amazon_status, '')) = 'shipped' OR lower(coalesce(o.order_status, '')) = 'shipped')
                AND CAST(o.last_updated AS DATE) BETWEEN $first AND $last
            GROUP BY o.amazon_order_id, o.last_updated, o.marketplace_id""",
                           {"first": first, "last": last}).fetchall()
        out += [r for r in rows if r[0] not in fba]
    return out


def _released(con: duckdb.DuckDBPyConnection, last: date) -> set[str]:
    """Orders a settlement line of transaction-type Order, posted on or before `last`, has paid."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "raw.settlement_lines"):
        return set()
    return {r[0] for r in con.execute(
        "SELECT DISTINCT order_id FROM raw.settlement_lines WHERE order_id IS NOT NULL "
        "AND lower(trim(transaction_type)) = 'order' AND posted_date <= ?", [last]).fetchall()}


def _marketplace(channel_or_id: str, currency: str, by_id: dict[str, str]) -> str:
    from sage_amazon.amazon.settlement import marketplace_code

    name = by_id.get(channel_or_id or "", channel_or_id or "")
    return marketplace_code(name) if name else ""


def unreleased(con: duckdb.DuckDBPyConnection, month: str, lookback_days: int = 60) -> list[Accrued]:
    """The orders shipped by the month's last day (within the look-back) that no settlement paid by then."""
    from sage_amazon.mapping.orders import marketplace_rows

    last, _ = month_bounds(month)
    by_id = {r["marketplace_id"]: r["sales_channel"] for r in marketplace_rows()}
    paid = _released(con, last)
    out = []
    for order_id, channel, day, where, currency, principal, shipping, promotions in _shipped(
            con, last - timedelta(days=lookback_days), last):
        if order_id in paid:
            continue
        mkt = _marketplace(where, currency or "", by_id)
        status = NO_MARKETPLACE if not mkt else NO_PRICE if principal is None or not currency else OK
        out.append(Accrued(month, mkt or "?", order_id, channel, day, currency or "",
                           Decimal(principal if principal is not None else 0), Decimal(shipping),
                           Decimal(promotions), reference(mkt or "?", month), status))
    return sorted(out, key=lambda a: (a.marketplace, a.shipped_on, a.order_id))


# ---------------------------------------------------------------------------------------------- the table

def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({', '.join(f'{n} {t}' for n, t in COLUMNS)})")


def _write(con: duckdb.DuckDBPyConnection, month: str, found: list[Accrued], keep: set[str]) -> None:
    """Replace the month's rows, except those of accruals already posted (`keep`: their references)."""
    _ensure(con)
    names = [n for n, _ in COLUMNS]
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM {TABLE} WHERE month = ? AND NOT list_contains(?, journal_reference)",
                    [month, sorted(keep)])
        fresh = [a for a in found if a.journal_reference not in keep]
        if fresh:
            con.executemany(f"INSERT INTO {TABLE} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                            [[getattr(a, n) for n in names] for a in fresh])
        _mark_posted(con, month, keep)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def rows(con: duckdb.DuckDBPyConnection, month: str | None = None) -> list[dict[str, Any]]:
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, TABLE):
        return []
    where, params = ("WHERE month = ?", [month]) if month else ("", [])
    cur = con.execute(f"SELECT * FROM {TABLE} {where} ORDER BY month, marketplace, shipped_on, order_id", params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def unfinished_months(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Months whose accrual or reversal is not posted yet (waiting, refused by Sage, interrupted): the asset run
    without a month takes them up again with the previous month."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, TABLE):
        return set()
    posting_ledger.ensure(con)
    return {m for (m,) in con.execute(f"""
        SELECT a.month FROM (SELECT DISTINCT month, journal_reference FROM {TABLE}) AS a
        LEFT JOIN ops.posting_ledger AS l ON l.flow = ? AND l.status = 'posted'
            AND l.record_key IN (a.journal_reference, a.journal_reference || '-R')
        GROUP BY a.month, a.journal_reference HAVING count(l.record_key) < 2""", [FLOW]).fetchall()}


# ---------------------------------------------------------------------------------------------- journals

def _rate(amap: Any, currency: str, day: date, site: str) -> Decimal:
    """Transaction -> the currency of the journal site's company on `day`: the last dated rate on or before it
    (the ERP's rate table as the settlement landing read it, or accounts.yaml rates_file), else the constant rate
    of accounts.yaml (company currency only). MappingError when there is none."""
    company = amap.site_currencies.get(site, amap.company_currency)
    if currency == company:
        return Decimal("1")
    table = amap.dated_rates if company == amap.company_currency else amap.company_rates.get(company, {})
    dated = [r for d, r in table.get(currency, []) if d <= day]
    if dated:
        return Decimal(dated[-1])
    if company != amap.company_currency:
        raise MappingError(f"no {currency} -> {company} rate on or before {day} for site {site}")
    return amap.rate(currency)


def covered(con: duckdb.DuckDBPyConnection, last: date) -> dict[str, date]:
    """marketplace -> the latest end day of its landed settlements (the marketplace's paid orders are known up to
    the month end only once a settlement ending after it is landed)."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "raw.settlement_reports"):
        return {}
    lines = ("UNION ALL SELECT l.marketplace, r.end_date FROM (SELECT DISTINCT settlement_id, marketplace FROM "
             "raw.settlement_lines WHERE marketplace IS NOT NULL) AS l JOIN r USING (settlement_id)"
             if table_exists(con, "raw.settlement_lines") else "")
    # a settlement covers its own marketplace and those of its lines (amazon.ca lines in a North America one)
    return {m: d for m, d in con.execute(f"""
        WITH r AS (SELECT settlement_id, marketplace, coalesce(settlement_end_date, deposit_date) AS end_date
                   FROM raw.settlement_reports)
        SELECT marketplace, max(end_date) FROM (SELECT marketplace, end_date FROM r {lines})
        WHERE marketplace IS NOT NULL GROUP BY marketplace""").fetchall() if d is not None}


def journals(found: list[dict[str, Any]], month: str, target: str, conf: Settings,
             ends: dict[str, date] | None = None, amap: Any = None) -> tuple[list[Journal], dict[str, str]]:
    """(accrual and reversal journals per marketplace, reference -> why it waits) from the audit rows. `ends`:
    marketplace -> its latest landed settlement's end day; an accrual waits until one ends after the month (a
    settlement still open at the month end may yet pay an order on or before it); None: not checked."""
    amap = amap or accounts.load()
    last, first_next = month_bounds(month)
    by_ref: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in found:
        by_ref[r["journal_reference"]].append(r)
    out, waiting = [], {}
    for ref, group in sorted(by_ref.items()):
        bad = [r for r in group if r["status"] != OK]
        if bad:
            waiting[ref] = "accrual not posted: " + "; ".join(
                f"order {r['order_id']} " + ("has no known marketplace" if r["status"] == NO_MARKETPLACE
                                             else "was shipped without a price or currency") for r in bad)
            continue
        mkt = group[0]["marketplace"]
        if ends is not None and (ends.get(mkt) is None or ends[mkt] <= last):
            waiting[ref] = (f"accrual not posted: waiting for a {mkt} settlement ending after {last} (latest landed "
                            f"ends {ends.get(mkt) or 'never'}): it may still pay orders on or before the month end")
            continue
        currencies = {r["currency"] for r in group}
        if len(currencies) != 1:
            waiting[ref] = f"accrual not posted: orders in several currencies {sorted(currencies)}"
            continue
        currency = currencies.pop()
        site = amap.site(target, mkt)
        try:
            rate = _rate(amap, currency, last, site)
        except MappingError as exc:
            waiting[ref] = f"accrual not posted: {exc}"
            continue
        parts = [(amap.account(target, role, mkt), sum((Decimal(r[col]) for r in group), ZERO), text)
                 for role, col, text in (("sales", "principal", "sales"), ("shipping_income", "shipping", "shipping"),
                                         ("promotions", "promotions", "promotions"))]
        parts = [p for p in parts if p[1]]
        total = sum((p[1] for p in parts), ZERO)
        if not total:
            continue
        for reversal, day in ((False, last), (True, first_next)):
            lines = []
            for account, amount, text in parts:  # revenue earned: credit (a debit when the part is negative)
                credit = amount if not reversal else -amount
                ledger = (abs(credit) * rate).quantize(CENT)
                lines.append(JournalLine(account, debit=max(-credit, ZERO), credit=max(credit, ZERO),
                                         ledger_debit=ledger if credit < 0 else ZERO,
                                         ledger_credit=ledger if credit > 0 else ZERO,
                                         description=f"Deferred {mkt} {month} {text}", reference=f"{ref}/{text}"))
            net = sum((ln.ledger_credit - ln.ledger_debit for ln in lines), ZERO)  # the deferred line balances
            amount = total if not reversal else -total
            lines.append(JournalLine(conf.deferred_account, debit=max(amount, ZERO), credit=max(-amount, ZERO),
                                     ledger_debit=max(net, ZERO), ledger_credit=max(-net, ZERO),
                                     description=f"Deferred {mkt} {month} {len(group)} orders",
                                     reference=f"{ref}/deferred"))
            what = "reversal" if reversal else "accrual"
            out.append(Journal(reference=reference(mkt, month, reversal), accounting_date=day, currency=currency,
                               lines=tuple(lines), rate=rate, site=site,
                               description=f"Amazon {mkt} sales shipped, not yet released: {what} {month}"))
    return out, waiting


# ---------------------------------------------------------------------------------------------- run

@dataclass
class DeferredReport(Outcome):
    month: str = ""
    orders: list[Accrued] = field(default_factory=list)
    journals: list[Journal] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)  # accrual reference -> why
    disabled: bool = False

    @property
    def all_posted(self) -> bool:
        return not (self.waiting or self.dead_letters or self.transient)


def run(open_write: Callable[[], AbstractContextManager], target: Any, month: str,
        target_name: str | None = None) -> DeferredReport:
    """Accrue the month's shipped, unreleased orders per marketplace and reverse them on the next month's first
    day, each journal once. The warehouse is opened in short sessions, never held while Sage works."""
    name = target_name or getattr(target, "name", "")
    conf = settings(name)
    month_bounds(month)
    report = DeferredReport(month=month)
    if not conf.enabled:
        report.disabled = True
        return report
    with open_write() as con:
        posting_ledger.bind(con, target)
        found = unreleased(con, month, conf.lookback_days)
        kept = {r["journal_reference"] for r in rows(con, month)}
        posted = {ref for ref in kept | {a.journal_reference for a in found}
                  if (e := posting_ledger.get(con, FLOW, ref)) is not None and e.status == posting_ledger.POSTED}
        _write(con, month, found, posted & kept)  # a posted accrual's rows stay as posted (rebuilt if lost)
        _mark_posted(con, month, posted)
        audit = rows(con, month)
        ends = covered(con, month_bounds(month)[0])
        amap = fx.last_read(con, accounts.load(), name)  # the ERP's rates as the settlement landing read them
    report.orders = found
    report.journals, report.waiting = journals(audit, month, name, conf, ends, amap)
    for journal in report.journals:
        post_once(open_write, target, journal, flow=FLOW, letter_flow=DEAD_LETTER_FLOW, letter_key=journal.reference,
                  outcome=report)
        if report.transient:
            break
    accrued = {ref for ref in report.done if not ref.endswith("-R")}
    if accrued - posted:
        with open_write() as con:
            _mark_posted(con, month, accrued)
    return report


def _mark_posted(con: duckdb.DuckDBPyConnection, month: str, refs: set[str]) -> None:
    if refs:
        con.execute(f"UPDATE {TABLE} SET posted = true WHERE month = ? AND list_contains(?, journal_reference)",
                    [month, sorted(refs)])
