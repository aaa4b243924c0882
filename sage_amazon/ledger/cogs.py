"""Cost of goods sold per settlement period (issue 17.4): units sold and returned per SKU, valued at the Sage item's
cost, posted as COGS against inventory (mapping file cogs.yaml says how).

- Units: the settlement's Order / ItemPrice / Principal lines (quantity-purchased) are sold; its refunds'
  Principal lines are refunded, and the refunded units that came back (cogs.yaml `returns`: sellable per the
  returns reports, every refund, or none) are returned and reverse their cost. Periods are the months of the lines'
  posted dates, as the settlement journals' (a refund posted in August reverses cost in August).
- Cost: read from Sage when the settlement is built (X3 ITMMVT.AVC of the cost site, Sage 500
  timItem.StdUnitCost), per unit, in the Sage company's currency; the SKU's Sage item by skus.yaml.
- Journal: one per period and journal site, COGS-<settlement id>-<YYYYMM>[-<site>], dated like the settlement's
  journal of that period: per SKU a debit of cogs (credit when more came back than left), one credit of
  inventory. Posted once (ops.posting_ledger flow cogs_journal; after an unknown outcome Sage is asked first).
- Written off: units Amazon lost, damaged or liquidated (settlement lines whose amount-description cogs.yaml
  `write_offs` names, e.g. WAREHOUSE_LOST, WAREHOUSE_DAMAGE, MISSING_FROM_INBOUND; their quantity, else one unit
  per adjustment item) leave FBA inventory at cost to the `write_off` account; a reimbursement Amazon reverses
  because the unit was found (`reinstated`: REVERSAL_REIMBURSEMENT) brings it back. Amazon's payment for them
  is the settlement journal's (reimbursements, liquidations). Customer returns Amazon reimbursed are not written
  off here: the unit was sold (its cost is COGS already) and the returns flow issues it out of stock.
- A period with a SKU that has no Sage item, no cost, or a sold line without a quantity is not posted: it waits,
  visible in marts.settlement_cogs (each row's status) and the asset's check, which name the SKUs and why; the
  next run of the settlement posts it once fixed (the SKU's orders have their own dead letters already). A journal
  Sage refuses (closed period...) is a dead letter (flow settlement, key <settlement id>:<reference>) like the
  settlement's journals. Rows of a posted journal keep the cost they were posted at.

Never imports Dagster (the asset is assets/settlements/cogs.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sage_amazon import posting_ledger
from sage_amazon.ledger.journal_once import post_once
from sage_amazon.ledger.posted_rows import replace_unposted
from sage_amazon.mapping import MappingError, load_yaml, mapping_file
from sage_amazon.sage.protocol import Journal, JournalLine

if TYPE_CHECKING:
    import duckdb

FILE = "cogs.yaml"
FLOW = "cogs_journal"  # the posting ledger's flow of COGS journals
DEAD_LETTER_FLOW = "settlement"  # `sage-amazon deadletter replay --flow settlement` re-runs the settlement
TABLE = "marts.settlement_cogs"
RETURNS_MODES = ("sellable", "refunds", "none")
AFN, MFN = "AFN", "MFN"  # fulfilled by Amazon (the default of a line without fulfillment-id) / by the seller
ANY = "*"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
OK, UNMAPPED, NO_COST, NO_QUANTITY = "ok", "unmapped_sku", "no_cost", "no_quantity"
COLUMNS = (
    ("settlement_id", "VARCHAR NOT NULL"), ("period", "VARCHAR NOT NULL"), ("journal_reference", "VARCHAR NOT NULL"),
    ("site", "VARCHAR"), ("marketplace", "VARCHAR"), ("sku", "VARCHAR"), ("channel", "VARCHAR"),
    ("item", "VARCHAR"),
    ("cost_site", "VARCHAR"), ("units_sold", "INTEGER"), ("units_refunded", "INTEGER"),
    ("units_returned", "INTEGER"), ("net_units", "INTEGER"), ("unit_cost", "DECIMAL(18,4)"),
    ("cost", "DECIMAL(18,2)"), ("currency", "VARCHAR"), ("accounting_date", "DATE"), ("status", "VARCHAR"),
    ("posted", "BOOLEAN"), ("units_written_off", "INTEGER"), ("write_off_cost", "DECIMAL(18,2)"),
)
WRITE_OFFS = ("WAREHOUSE_LOST", "WAREHOUSE_LOST_MANUAL", "WAREHOUSE_DAMAGE", "WAREHOUSE_DAMAGE_EXCEPTION",
              "MISSING_FROM_INBOUND", "Liquidations*")  # [UNCONFIRMED] Liquidations* (amazon-sp-api.md 3.4)
REINSTATED = ("REVERSAL_REIMBURSEMENT",)


@dataclass(frozen=True)
class Settings:
    enabled: bool
    returns: str
    cost_sites: dict[str, str]  # marketplace -> the site of its FBA units
    cogs_account: str
    inventory_account: str  # FBA inventory
    mfn_cost_site: str  # merchant-fulfilled units: the seller's own warehouse
    mfn_inventory_account: str
    write_off_account: str = ""
    write_offs: tuple[str, ...] = WRITE_OFFS  # amount-description patterns (shell-style, case-insensitive)
    reinstated: tuple[str, ...] = REINSTATED

    def cost_site(self, marketplace: str, channel: str = AFN) -> str:
        if channel == MFN:
            return self.mfn_cost_site
        return self.cost_sites.get(marketplace) or self.cost_sites.get(ANY, "")

    def inventory(self, channel: str) -> str:
        return self.mfn_inventory_account if channel == MFN else self.inventory_account


def settings(target: str) -> Settings:
    doc = load_yaml(FILE) or {}
    where = str(mapping_file(FILE))
    if not isinstance(doc, dict):
        raise MappingError(f"{where}: expected a mapping at the top level")
    returns = str(doc.get("returns") or "sellable").strip().lower()
    if returns not in RETURNS_MODES:
        raise MappingError(f"{where}: returns must be sellable, refunds or none, got {returns!r}")
    body = (doc.get("targets") or {}).get(target)
    if not isinstance(body, dict):
        raise MappingError(f"{where}: no `targets.{target}` section")
    accounts = body.get("accounts") or {}
    if not accounts.get("cogs") or not accounts.get("inventory"):
        raise MappingError(f"{where}: targets.{target}.accounts needs `cogs` and `inventory`")
    sites = {str(k).upper() if k != ANY else ANY: str(v) for k, v in (body.get("cost_sites") or {}).items()}
    if not sites:
        raise MappingError(f"{where}: targets.{target}.cost_sites names no Sage site")
    patterns = {}
    for key, default in (("write_offs", WRITE_OFFS), ("reinstated", REINSTATED)):
        value = doc.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise MappingError(f"{where}: {key} must be a list of amount-description patterns, got {value!r}")
        patterns[key] = tuple(value)
    return Settings(bool(doc.get("enabled", True)), returns, sites, str(accounts["cogs"]),
                    str(accounts["inventory"]), str(body.get("mfn_cost_site") or sites.get(ANY, "")),
                    str(accounts.get("mfn_inventory") or accounts["inventory"]),
                    str(accounts.get("write_off") or accounts["cogs"]), patterns["write_offs"],
                    patterns["reinstated"])


# ---------------------------------------------------------------------------------------------- units

@dataclass
class Units:
    period: str
    marketplace: str
    sku: str
    channel: str = AFN
    sold: int = 0
    refunded: int = 0
    returned: int = 0
    missing_quantity: int = 0  # sold lines without a quantity
    written_off: int = 0  # lost, damaged or liquidated units less those reinstated

    @property
    def net(self) -> int:
        return self.sold - self.returned


def _sellable_returns(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], int]:
    """(order id, SKU) -> units the returns reports show came back sellable (all days)."""
    from sage_amazon.warehouse import table_exists

    parts = []
    if table_exists(con, "raw.amazon_fba_returns"):
        parts.append("SELECT amazon_order_id, sku, quantity FROM raw.amazon_fba_returns "
                     "WHERE upper(trim(detailed_disposition)) = 'SELLABLE'")
    if table_exists(con, "raw.amazon_mfn_returns"):  # merchant returns come back to the seller's own shelf
        parts.append("SELECT amazon_order_id, sku, quantity FROM raw.amazon_mfn_returns")
    if not parts:
        return {}
    return {(o, s): int(q) for o, s, q in con.execute(
        f"SELECT amazon_order_id, trim(sku), sum(quantity) FROM ({' UNION ALL '.join(parts)}) GROUP BY ALL"
    ).fetchall()}


def _like_any(column: str, patterns: tuple[str, ...]) -> str:
    """SQL: the trimmed column matches one of the shell-style patterns, case-insensitively."""
    from sage_amazon.amazon.settlement.sql import sql_str
    from sage_amazon.mapping.accounts import like_pattern

    return "(" + " OR ".join(f"lower(trim({column})) LIKE {sql_str(like_pattern(p))}" for p in patterns) + ")"


def _written_off(con: duckdb.DuckDBPyConnection, settlement_id: str, write_offs: tuple[str, ...],
                 reinstated: tuple[str, ...]) -> list[tuple[str, str, str, int]]:
    """(period, marketplace, SKU, units) lost, damaged or liquidated less reinstated: per adjustment item and kind
    its quantity (else one unit), counted once however many amount lines it has."""
    if not write_offs and not reinstated:
        return []
    off = _like_any("l.amount_description", write_offs) if write_offs else "false"
    back = _like_any("l.amount_description", reinstated) if reinstated else "false"
    return con.execute(f"""
        WITH rep AS (
            SELECT marketplace, coalesce(settlement_end_date, deposit_date) AS end_date
            FROM raw.settlement_reports WHERE settlement_id = $sid
        ), lines AS (
            SELECT l.*, row_number() OVER () AS line_no
            FROM raw.settlement_lines AS l
            WHERE l.settlement_id = $sid AND nullif(trim(l.sku), '') IS NOT NULL AND ({off} OR {back})
        ), items AS (  -- an adjustment item's several amount lines count once; a line naming no id counts alone
            SELECT strftime(date_trunc('month', coalesce(l.posted_date, rep.end_date)), '%Y-%m') AS period,
                   coalesce(l.marketplace, rep.marketplace, '') AS marketplace, trim(l.sku) AS sku,
                   coalesce(nullif(trim(l.adjustment_id), ''), nullif(trim(l.order_id), ''),
                            nullif(trim(l.merchant_adjustment_item_id), ''), 'line ' || l.line_no) AS adjustment,
                   coalesce(l.merchant_adjustment_item_id, l.order_item_code, '') AS item,
                   CASE WHEN {back} THEN -1 ELSE 1 END AS sign,
                   max(coalesce(abs(l.quantity_purchased), 1)) AS units
            FROM lines AS l, rep
            GROUP BY ALL
        )
        SELECT period, marketplace, sku, CAST(sum(sign * units) AS BIGINT) FROM items
        GROUP BY ALL HAVING sum(sign * units) <> 0 ORDER BY ALL""", {"sid": settlement_id}).fetchall()


def units(con: duckdb.DuckDBPyConnection, settlement_id: str, returns: str = "sellable",
          write_offs: tuple[str, ...] = (), reinstated: tuple[str, ...] = ()) -> list[Units]:
    """Units sold and returned per period, marketplace and SKU of a landed settlement (and, given the patterns,
    those written off: lost, damaged or liquidated FBA units, less reinstated ones)."""
    rows = con.execute("""
        WITH rep AS (
            SELECT marketplace, coalesce(settlement_end_date, deposit_date) AS end_date
            FROM raw.settlement_reports WHERE settlement_id = $sid
        )
        SELECT strftime(date_trunc('month', coalesce(l.posted_date, rep.end_date)), '%Y-%m') AS period,
               coalesce(l.marketplace, rep.marketplace, '') AS marketplace, coalesce(trim(l.sku), '') AS sku,
               coalesce(l.order_id, '') AS order_id,
               CASE WHEN upper(trim(l.fulfillment_id)) IN ('MFN', 'MERCHANT') THEN 'MFN' ELSE 'AFN' END AS channel,
               CAST(coalesce(sum(CASE WHEN lower(trim(l.transaction_type)) = 'order'
                                      THEN l.quantity_purchased END), 0) AS BIGINT) AS sold,
               CAST(count(*) FILTER (WHERE lower(trim(l.transaction_type)) = 'order'
                                     AND l.quantity_purchased IS NULL) AS BIGINT) AS missing,
               -- a refund line without a quantity refunds one unit (Amazon refunds an order item per adjustment)
               CAST(coalesce(sum(CASE WHEN lower(l.transaction_type) LIKE '%refund%'
                                      THEN coalesce(abs(l.quantity_purchased), 1) END), 0) AS BIGINT) AS refunded
        FROM raw.settlement_lines AS l, rep
        WHERE l.settlement_id = $sid AND lower(trim(l.amount_type)) = 'itemprice'
            AND lower(trim(l.amount_description)) = 'principal'
        GROUP BY ALL ORDER BY ALL""", {"sid": settlement_id}).fetchall()
    sellable = _sellable_returns(con) if returns == "sellable" else {}
    out: dict[tuple[str, str, str, str], Units] = {}
    for period, marketplace, sku, order_id, channel, sold, missing, refunded in rows:
        u = out.setdefault((period, marketplace, sku, channel), Units(period, marketplace, sku, channel))
        u.sold += int(sold)
        u.missing_quantity += int(missing)
        u.refunded += int(refunded)
        if returns == "refunds":
            u.returned += int(refunded)
        elif returns == "sellable" and refunded:
            back = min(int(refunded), sellable.get((order_id, sku), 0))
            sellable[(order_id, sku)] = sellable.get((order_id, sku), 0) - back
            u.returned += back
    for period, marketplace, sku, n in _written_off(con, settlement_id, write_offs, reinstated):
        out.setdefault((period, marketplace, sku, AFN), Units(period, marketplace, sku, AFN)).written_off += int(n)
    return [u for u in out.values() if u.sold or u.refunded or u.missing_quantity or u.written_off]


# ---------------------------------------------------------------------------------------------- valuation

@dataclass(frozen=True)
class CogsRow:
    settlement_id: str
    period: str
    journal_reference: str
    site: str
    marketplace: str
    sku: str
    channel: str
    item: str
    cost_site: str
    units_sold: int
    units_refunded: int
    units_returned: int
    net_units: int
    unit_cost: Decimal
    cost: Decimal  # net_units x unit_cost, in the company currency (a debit of COGS when positive)
    currency: str
    accounting_date: date | None
    status: str
    posted: bool = False
    units_written_off: int = 0
    write_off_cost: Decimal = ZERO  # units_written_off x unit_cost: leaves inventory to the write-off account


def reference(settlement_id: str, period: str, site: str = "", home_site: str = "") -> str:
    """COGS-<settlement id>-<YYYYMM>, with -<site> for a journal site other than the settlement's own."""
    return f"COGS-{settlement_id}-{period.replace('-', '')}" + (f"-{site}" if site and site != home_site else "")


def _periods(con: duckdb.DuckDBPyConnection, settlement_id: str) -> dict[str, tuple[date, str]]:
    """period -> (accounting date, company currency) of the settlement's journals."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "marts.journal_settlement_lines"):
        return {}
    return {p: (d, c) for p, d, c in con.execute(
        "SELECT period, max(accounting_date), any_value(company_currency) FROM marts.journal_settlement_lines "
        "WHERE settlement_id = ? GROUP BY period", [settlement_id]).fetchall()}


def value(settlement_id: str, found: list[Units], costs: dict[str, dict[str, Decimal]], conf: Settings,
          target: str, periods: dict[str, tuple[date, str]], home_marketplace: str = "") -> list[CogsRow]:
    """Each SKU's units at its Sage item's cost. `costs`: cost site -> Sage item -> unit cost."""
    from sage_amazon.mapping import accounts
    from sage_amazon.mapping.orders import map_sku, sku_rules

    amap = accounts.load()
    rules = sku_rules(target)
    home_site = amap.site(target, home_marketplace)
    out = []
    for u in sorted(found, key=lambda x: (x.period, x.marketplace, x.sku, x.channel)):
        cost_site = conf.cost_site(u.marketplace, u.channel)
        items = costs.get(cost_site, {})
        item, _ = map_sku(u.sku, items, rules)
        unit_cost = items.get(item or "", ZERO)
        if u.missing_quantity:
            status = NO_QUANTITY
        elif not item or item not in items:
            status = UNMAPPED
        elif unit_cost <= 0:
            status = NO_COST
        else:
            status = OK
        site = amap.site(target, u.marketplace)
        day, currency = periods.get(u.period, (None, amap.company_currency))
        out.append(CogsRow(settlement_id, u.period, reference(settlement_id, u.period, site, home_site), site,
                           u.marketplace, u.sku, u.channel, item or "", cost_site, u.sold, u.refunded, u.returned, u.net,
                           Decimal(unit_cost), (Decimal(unit_cost) * u.net).quantize(CENT), currency, day, status,
                           units_written_off=u.written_off,
                           write_off_cost=(Decimal(unit_cost) * u.written_off).quantize(CENT)))
    return out


def journals(rows: list[CogsRow], conf: Settings) -> tuple[list[Journal], dict[str, str]]:
    """(journals to post, reference -> why it waits) from the valued rows."""
    by_ref: dict[str, list[CogsRow]] = defaultdict(list)
    for r in rows:
        by_ref[r.journal_reference].append(r)
    out, waiting = [], {}
    for ref, group in sorted(by_ref.items()):
        bad = [r for r in group if r.status != OK]
        if bad:
            waiting[ref] = "COGS not posted: " + "; ".join(
                f"{r.sku or '(no SKU)'} {_why(r)}" for r in bad)
            continue
        if group[0].accounting_date is None:
            waiting[ref] = "COGS not posted: the settlement's journals are not built"
            continue
        lines = []
        for r in group:
            if r.cost:
                text = f"COGS {r.sku} {r.net_units} x {r.unit_cost.normalize():f}"
                lines.append(JournalLine(conf.cogs_account, debit=max(r.cost, ZERO), credit=max(-r.cost, ZERO),
                                         description=text, reference=f"{r.settlement_id}/cogs/{r.sku}"))
            if r.write_off_cost:
                text = f"Written off {r.sku} {r.units_written_off} x {r.unit_cost.normalize():f}"
                lines.append(JournalLine(conf.write_off_account, debit=max(r.write_off_cost, ZERO),
                                         credit=max(-r.write_off_cost, ZERO), description=text,
                                         reference=f"{r.settlement_id}/write_off/{r.sku}"))
        if not lines:  # nothing left inventory in the period (sold and returned alike)
            continue
        for channel in (AFN, MFN):  # out of the FBA inventory, and of the seller's own warehouse
            total = sum((r.cost + r.write_off_cost for r in group if r.channel == channel), ZERO)
            if total:
                lines.append(JournalLine(conf.inventory(channel), debit=max(-total, ZERO), credit=max(total, ZERO),
                                         description=f"COGS {group[0].settlement_id} {channel} inventory",
                                         reference=f"{group[0].settlement_id}/inventory/{channel}"))
        out.append(Journal(reference=ref, accounting_date=group[0].accounting_date, currency=group[0].currency,
                           lines=tuple(lines), description=f"COGS {group[0].settlement_id} {group[0].period}",
                           site=group[0].site))
    return out, waiting


def _why(row: CogsRow) -> str:
    if row.status == NO_QUANTITY:
        return "sold without a quantity in the settlement file"
    if row.status == UNMAPPED:
        return f"has no Sage item at {row.cost_site} (skus.yaml)"
    return f"has no cost in Sage (item {row.item} at {row.cost_site})"


def read_costs(target: Any, sites: list[str]) -> dict[str, dict[str, Decimal]]:
    """cost site -> Sage item -> unit cost, one read per site: X3 the item-site totals of the site (ITMMVT.AVC,
    its average cost) through api1, the connector's retry and budget; Sage 500 the standard cost of the company's
    active items (timItem.StdUnitCost: an item's, whatever the warehouse)."""
    out: dict[str, dict[str, Decimal]] = {}
    if target.name == "x3":
        from sage_amazon.sage.x3.rest import quote_literal

        for site in sorted(set(sites)):
            where = f"STOFCY eq {quote_literal(site)}"
            totals = target._retrying(lambda where=where: list(target.rest.query("ITMMVT", where=where,
                                                                                    order_by="ITMREF")))
            out[site] = {t["ITMREF"]: Decimal(str(t.get("AVC") or 0)) for t in totals}
        return out
    if target.name == "sage500":
        from sqlalchemy import text

        with target._tx() as conn:
            items = {item: Decimal(str(cost or 0)) for item, cost in conn.execute(
                text("SELECT ItemID, StdUnitCost FROM timItem WHERE CompanyID = :c AND Status = 1"),
                {"c": target.company_id})}
        return {site: items for site in sorted(set(sites))}
    raise ValueError(f"unknown Sage target {target.name!r}")


# ---------------------------------------------------------------------------------------------- table

def _write(con: duckdb.DuckDBPyConnection, settlement_id: str, rows: list[CogsRow], keep: set[str]) -> None:
    """Replace the settlement's rows, except those of journals already posted (`keep`: their references)."""
    replace_unposted(con, TABLE, COLUMNS, settlement_id, rows, keep)


def rows(con: duckdb.DuckDBPyConnection, settlement_id: str) -> list[dict[str, Any]]:
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, TABLE):
        return []
    cur = con.execute(f"SELECT * FROM {TABLE} WHERE settlement_id = ? ORDER BY period, journal_reference, sku",
                      [settlement_id])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


# ---------------------------------------------------------------------------------------------- retry

def waiting(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict[str, Any]]]:
    """settlement id -> its COGS rows that keep a journal unposted (no Sage item, no cost, no quantity)."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, TABLE):
        return {}
    cur = con.execute(f"SELECT * FROM {TABLE} WHERE status <> '{OK}' AND NOT coalesce(posted, false) "
                      "ORDER BY settlement_id, sku")
    names = [d[0] for d in cur.description]
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in cur.fetchall():
        r = dict(zip(names, row, strict=True))
        out[r["settlement_id"]].append(r)
    return dict(out)


def ready_to_retry(found: dict[str, list[dict[str, Any]]], target: Any, target_name: str
                   ) -> dict[str, str]:
    """settlement id -> a fingerprint of the Sage items and costs now found, for the settlements whose waiting
    rows would all be valued now (the SKU maps to a Sage item with a cost: skus.yaml as it is, Sage asked once per
    cost site). A row without a quantity waits for a corrected file, never for Sage."""
    import hashlib

    from sage_amazon.mapping.orders import map_sku, sku_rules

    rules = sku_rules(target_name)
    sites = sorted({r["cost_site"] for rows in found.values() for r in rows if r["status"] != NO_QUANTITY})
    costs = read_costs(target, sites) if sites else {}
    out = {}
    for sid, rows in sorted(found.items()):
        seen = []
        for r in rows:
            items = costs.get(r["cost_site"], {})
            item, _ = map_sku(r["sku"], items, rules)
            if r["status"] == NO_QUANTITY or not item or items.get(item, ZERO) <= 0:
                break
            seen.append(f"{r['sku']}={item}@{items[item]}")
        else:
            out[sid] = hashlib.sha256("|".join(seen).encode()).hexdigest()[:12]
    return out


# ---------------------------------------------------------------------------------------------- posting

@dataclass
class CogsReport:
    settlement_id: str
    rows: list[CogsRow] = field(default_factory=list)
    posted: dict[str, str] = field(default_factory=dict)  # reference -> Sage number (this run)
    already: dict[str, str] = field(default_factory=dict)
    adopted: dict[str, str] = field(default_factory=dict)
    waiting: dict[str, str] = field(default_factory=dict)  # reference -> why (missing item, cost, quantity)
    dead_letters: dict[str, str] = field(default_factory=dict)  # refused by Sage
    transient: dict[str, str] = field(default_factory=dict)
    disabled: bool = False

    @property
    def all_posted(self) -> bool:
        return not (self.waiting or self.dead_letters or self.transient)


def _letter(settlement_id: str, ref: str) -> str:
    return f"{settlement_id}:{ref}"


def run(open_write: Callable[[], AbstractContextManager], target: Any, settlement_id: str,
        target_name: str | None = None) -> CogsReport:
    """Value the settlement's units at Sage's costs, keep them in marts.settlement_cogs and post each period's
    COGS journal once. The warehouse is opened in short sessions, never held while Sage works."""
    name = target_name or getattr(target, "name", "")
    conf = settings(name)
    report = CogsReport(settlement_id)
    if not conf.enabled:
        report.disabled = True
        return report
    with open_write() as con:
        posting_ledger.bind(con, target)
        found = units(con, settlement_id, conf.returns, conf.write_offs, conf.reinstated)
        periods = _periods(con, settlement_id)
        home = con.execute("SELECT marketplace FROM raw.settlement_reports WHERE settlement_id = ?",
                           [settlement_id]).fetchone()
        done = {r["journal_reference"]: r for r in rows(con, settlement_id)}
        ledger = {ref: posting_ledger.get(con, FLOW, ref) for ref in done}
    posted_refs = {ref for ref, e in ledger.items() if e is not None and e.status == posting_ledger.POSTED}
    sites = sorted({conf.cost_site(u.marketplace, u.channel) for u in found})
    costs = read_costs(target, sites) if found else {}
    valued = value(settlement_id, found, costs, conf, name, periods, (home[0] or "") if home else "")
    report.rows = valued
    with open_write() as con:
        _write(con, settlement_id, valued, posted_refs)
    todo, report.waiting = journals([r for r in valued if r.journal_reference not in posted_refs], conf)
    for ref in sorted(posted_refs):
        report.already[ref] = ledger[ref].sage_number or ""
    for journal in todo:
        _post(open_write, target, settlement_id, journal, report)
        if report.transient:
            break
    with open_write() as con:
        if report.posted or report.adopted or report.already:
            _write(con, settlement_id, valued, set(report.posted) | set(report.adopted) | set(report.already))
    return report


def _post(open_write, target: Any, settlement_id: str, journal: Journal, report: CogsReport) -> None:
    post_once(open_write, target, journal, flow=FLOW, letter_flow=DEAD_LETTER_FLOW,
              letter_key=_letter(settlement_id, journal.reference), outcome=report)
