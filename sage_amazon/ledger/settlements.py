"""Settlement -> journals: run the settlement SQL models, read the journals back, validate, reconcile.

The SQL in dbt_like_sql/ is the one implementation of categorisation, period split and balancing:
Dagster runs it as assets against the warehouse, and `inspect` / the benchmark run the same files
against an in-memory DuckDB through `build()`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sage_amazon.sage.protocol import Journal, JournalLine, ReceivableLine

if TYPE_CHECKING:
    import duckdb

# in dependency order
MODELS = (
    ("staging", "stg_settlement_categories"),
    ("marts", "journal_settlement_lines"),
    ("marts", "settlement_reconciliation"),
    ("marts", "settlement_fee_rates"),
    ("marts", "journal_settlement_trace"),  # journal line -> the settlement rows behind it
)
JOURNAL_MODELS = MODELS[:2]
FLOW = "settlement_journal"
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "CLP", "ISK", "VND", "HUF", "TWD"})
ZERO = Decimal("0.00")


def _model(group: str, name: str):
    from sage_amazon import sql_models

    return sql_models.parse_model(sql_models.SQL_ROOT / group / f"{name}.sql")


def build(con: duckdb.DuckDBPyConnection, settlement_id: str, models=MODELS) -> dict[str, int]:
    """Materialize the settlement's partition of each model; returns row counts by model."""
    from sage_amazon import sql_models

    counts = {}
    for group, name in models:
        result = sql_models.materialize(con, _model(group, name), settlement_id)
        counts[name] = result.row_count
    return counts


# ---------------------------------------------------------------------------------------------
# journals


def journals(con: duckdb.DuckDBPyConnection, settlement_id: str, target: str | None = None) -> list[Journal]:
    """What to post for the settlement: its period journals, then the reclass journals a change of the account
    map after posting calls for (ledger/reclass.py)."""
    from sage_amazon.ledger import reclass

    return period_journals(con, settlement_id, target) + (
        reclass.reclass_journals(con, settlement_id, partner_of=partner_function(target)) or [])


def partner_function(target: str | None = None):
    """(role, marketplace, currency) -> the business partner of a journal line: the marketplace's Sage customer
    on `receivables` (the reclass journals carry it like the period journals). marketplaces.yaml is read once."""
    partners: dict[str, str] | None = None

    def partner_of(role: str, marketplace: str, currency: str) -> str:
        nonlocal partners
        if role != "receivables":
            return ""
        if partners is None:
            partners = receivable_partners(target)
        return _partner(partners, role, marketplace, currency)

    return partner_of


def receivable_partners(target: str | None = None) -> dict[str, str]:
    """Marketplace code of the account map (US, UK, CA...) -> the marketplace's Sage customer on `target`
    (marketplaces.yaml): the business partner of the settlement's lines on `receivables`, a control account
    (X3 GACCENTRYD BPR on a collective account, Sage 500 the AR customer), so each customer's receivable clears."""
    from sage_amazon import config
    from sage_amazon.amazon.settlement.summary import marketplace_code
    from sage_amazon.mapping import MappingError
    from sage_amazon.mapping.orders import marketplace_rows

    target = (target or config.get("SAGE_AMAZON_TARGET") or "").lower()
    out: dict[str, str] = {}
    by_currency: dict[str, set[str]] = defaultdict(set)
    try:
        market_rows = marketplace_rows(target)
    except MappingError:  # no customers for this target: the lines go without one and Sage says what it needs
        return out
    for row in market_rows:
        if not row.get("customer"):
            continue
        code = marketplace_code(row.get("sales_channel") or "")
        if code:
            out.setdefault(code, row["customer"])
        by_currency[row.get("currency") or ""].add(row["customer"])
    for currency, customers in by_currency.items():  # a marketplace not listed: its currency's only customer
        if len(customers) == 1:
            out.setdefault(f"*{currency}", next(iter(customers)))
    return out


def _partner(partners: dict[str, str], role: str, marketplace: str, currency: str) -> str:
    if role != "receivables":
        return ""
    return partners.get(marketplace or "") or partners.get(f"*{currency}", "")


def period_journals(con: duckdb.DuckDBPyConnection, settlement_id: str, target: str | None = None) -> list[Journal]:
    """The settlement's journals, one per accounting period (and journal site), as the Sage protocol's Journal.
    Lines on `receivables` carry the marketplace's Sage customer (JournalLine.partner)."""
    rows = con.execute(
        """SELECT journal_reference, period, accounting_date, currency, company_currency, rate, line_no,
                  line_kind, role, account, tax_code, description, debit, credit, ledger_debit, ledger_credit, site,
                  marketplace
           FROM marts.journal_settlement_lines WHERE settlement_id = ?
           ORDER BY journal_reference, line_no""",
        [settlement_id],
    ).fetchall()
    grouped: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        grouped[row[0]].append(row)
    partners = receivable_partners(target) if any(r[8] == "receivables" for r in rows) else {}
    allocations = receivable_allocations(con, settlement_id) if partners else {}
    out = []
    for reference, lines in grouped.items():
        first = lines[0]
        currency, company, rate = first[3], first[4], first[5]
        foreign = currency != company
        jl = tuple(_line(r, settlement_id, foreign, partners, allocations) for r in lines)
        out.append(Journal(
            reference=reference, accounting_date=first[2], currency=currency, lines=jl,
            # "AMZ 92000000010 2026-06", whole: the target cuts it to its field (X3 GACCENTRY DESVCR)
            description=f"AMZ {settlement_id} {first[1]}",
            rate=Decimal(rate) if rate is not None else Decimal("1"), site=first[16] or "",
        ))
    return out


def _line(r: tuple, settlement_id: str, foreign: bool, partners: dict[str, str],
          allocations: dict[tuple[str, str, str, str, str], tuple[tuple[str, Decimal], ...]]) -> JournalLine:
    """One row of marts.journal_settlement_lines as a JournalLine; a `receivables` account line made of Amazon
    orders' amounts as a ReceivableLine carrying them per order."""
    line = JournalLine(
        account=r[9], debit=r[12], credit=r[13], description=r[11], tax_code=r[10] or "",
        ledger_debit=r[14] if foreign else None, ledger_credit=r[15] if foreign else None,
        reference=f"{settlement_id}/{r[8]}", partner=_partner(partners, r[8], r[17], r[3]),
    )
    per_order = allocations.get((r[1], r[16] or "", r[17] or "", r[9], r[10] or ""), ()) if (
        r[8] == "receivables" and r[7] == "account") else ()
    return ReceivableLine(**{f.name: getattr(line, f.name) for f in fields(line)}, allocations=per_order) \
        if per_order else line


def receivable_allocations(con: duckdb.DuckDBPyConnection, settlement_id: str
                           ) -> dict[tuple[str, str, str, str, str], tuple[tuple[str, Decimal], ...]]:
    """(period, site, marketplace, account, tax code) of a `receivables` account line -> its amount per Amazon order
    (credit positive, orders whose lines net to zero left out), keyed as marts.journal_settlement_lines groups the
    settlement's lines (month of the posted date, the line's marketplace or the settlement's)."""
    rows = con.execute(
        """WITH rep AS (
               SELECT r.marketplace, coalesce(r.settlement_end_date, r.deposit_date) AS end_date
               FROM raw.settlement_reports AS r WHERE r.settlement_id = ?)
           SELECT strftime(date_trunc('month', coalesce(l.posted_date, rep.end_date)), '%Y-%m') AS period,
                  coalesce(c.site, ''), c.marketplace, c.account, coalesce(c.tax_code, ''), l.order_id,
                  CAST(sum(l.amount) AS DECIMAL(18, 2)) AS amount
           FROM raw.settlement_lines AS l
           CROSS JOIN rep
           INNER JOIN staging.stg_settlement_categories AS c
               ON c.settlement_id = l.settlement_id
               AND c.marketplace = coalesce(l.marketplace, rep.marketplace, '')
               AND c.transaction_type = coalesce(l.transaction_type, '')
               AND c.amount_type = coalesce(l.amount_type, '')
               AND c.amount_description = coalesce(l.amount_description, '')
           WHERE l.settlement_id = ? AND c.role = 'receivables' AND NOT c.is_suspense
               AND coalesce(l.order_id, '') <> ''
           GROUP BY ALL HAVING sum(l.amount) <> 0
           ORDER BY 1, 2, 3, 4, 5, 6""", [settlement_id, settlement_id]).fetchall()
    out: dict[tuple[str, str, str, str, str], list[tuple[str, Decimal]]] = defaultdict(list)
    for period, site, marketplace, account, tax_code, order_id, amount in rows:
        out[(period, site, marketplace, account, tax_code)].append((order_id, Decimal(amount)))
    return {k: tuple(v) for k, v in out.items()}


def journal_payload(journal: Journal) -> dict[str, Any]:
    """What is recorded (and hashed) of a journal: a line without a business partner is recorded as before
    partners existed, so journals posted then keep their digest."""
    from dataclasses import asdict

    data = asdict(journal)
    for line in data["lines"]:
        line.pop("allocations", None)  # how Sage 500 applies a receivables line per order, not posted content
        if not line.get("partner"):
            line.pop("partner", None)
    return data


# The domain once cut descriptions to 30 characters (the journal's and each line's; the cut is now the Sage
# target's, at its field width): the digest hashes that much of each description, so journals posted then keep
# their digest and a description no target keeps in full is never taken for changed content.
DIGEST_DESCRIPTION_CHARS = 30


def journal_digest(journal: Journal) -> str:
    from sage_amazon.posting_ledger import payload_hash

    payload = journal_payload(journal)
    payload["description"] = payload["description"][:DIGEST_DESCRIPTION_CHARS]
    for line in payload["lines"]:
        line["description"] = line["description"][:DIGEST_DESCRIPTION_CHARS]
    return payload_hash(payload)


# ---------------------------------------------------------------------------------------------
# validation


@dataclass
class Outcome:
    name: str
    passed: bool
    blocking: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _table_exists(con, qualified: str) -> bool:
    from sage_amazon.warehouse import table_exists

    return table_exists(con, qualified)


def reconciliation_row(con: duckdb.DuckDBPyConnection, settlement_id: str) -> dict[str, Any] | None:
    cur = con.execute("SELECT * FROM marts.settlement_reconciliation WHERE settlement_id = ?", [settlement_id])
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    return dict(zip(names, row, strict=True)) if row else None


def check_totals(con, settlement_id: str) -> Outcome:
    """Blocking: the detail amounts add up exactly to total-amount."""
    total, lines, n, currency = con.execute(
        """SELECT r.total_amount, (SELECT coalesce(sum(amount), 0) FROM raw.settlement_lines l
                                   WHERE l.settlement_id = r.settlement_id),
                  (SELECT count(*) FROM raw.settlement_lines l WHERE l.settlement_id = r.settlement_id), r.currency
           FROM raw.settlement_reports r WHERE r.settlement_id = ?""", [settlement_id]).fetchone()
    variance = Decimal(total) - Decimal(lines)
    ok = variance == 0

    def money(value) -> str:  # two decimals, none for the yen
        return f"{Decimal(value):.0f}" if currency in ZERO_DECIMAL_CURRENCIES else f"{Decimal(value):.2f}"

    text = (f"detail lines add up to total-amount {money(total)}" if ok and n else
            "an empty settlement (no lines, total 0.00): nothing to post" if ok else
            f"detail lines add up to {money(lines)}, total-amount is {money(total)}: variance {money(variance)}"
            if n else f"the settlement has no detail lines but total-amount is {money(total)}")
    return Outcome("settlement_totals_match", ok, True, text,
                   {"total_amount": f"{Decimal(total):.2f}", "sum_of_lines": f"{Decimal(lines):.2f}",
                    "variance": f"{variance:.2f}",
                    "line_count": int(n)})


def check_currency(con, settlement_id: str) -> Outcome:
    """Blocking: one currency per settlement, the summary's."""
    header, found = con.execute(
        """SELECT r.currency, (SELECT list(DISTINCT l.currency ORDER BY l.currency) FROM raw.settlement_lines l
                               WHERE l.settlement_id = r.settlement_id)
           FROM raw.settlement_reports r WHERE r.settlement_id = ?""", [settlement_id]).fetchone()
    found = [c for c in (found or []) if c]
    ok = all(c == header for c in found)
    text = f"every line is in {header}" if ok else f"lines in {', '.join(found)} but the settlement is in {header}"
    return Outcome("settlement_single_currency", ok, True, text, {"currency": header, "line_currencies": ", ".join(found)})


def check_not_posted_twice(con, settlement_id: str) -> Outcome:
    """Blocking: a settlement is posted once. Re-running an already posted settlement is a no-op, but
    the same file under another settlement id, or posted journals that would now differ, are refused."""
    sha = con.execute("SELECT file_sha256 FROM raw.settlement_reports WHERE settlement_id = ?",
                      [settlement_id]).fetchone()[0]
    twins = [r[0] for r in con.execute(
        "SELECT settlement_id FROM raw.settlement_reports WHERE file_sha256 = ? AND settlement_id <> ?",
        [sha, settlement_id]).fetchall()]
    changed: list[str] = []
    posted: list[str] = []
    reclasses: list[Journal] | None = []
    if _table_exists(con, "ops.posting_ledger") and _table_exists(con, "marts.journal_settlement_lines"):
        from sage_amazon.ledger import reclass

        current = period_journals(con, settlement_id)
        for journal in current:
            row = con.execute(
                "SELECT status, payload_hash FROM ops.posting_ledger WHERE flow = ? AND record_key = ?",
                [FLOW, journal.reference]).fetchone()
            if row and row[0] == "posted":
                posted.append(journal.reference)
                if row[1] != journal_digest(journal):
                    changed.append(journal.reference)
        # a journal posted earlier for a period that the settlement no longer has
        refs = {j.reference for j in current}
        for (key,) in con.execute(
                "SELECT record_key FROM ops.posting_ledger WHERE flow = ? AND status = 'posted' AND record_key LIKE ?",
                [FLOW, f"AMZ-{settlement_id}-%"]).fetchall():
            if key not in refs and f"AMZ-{settlement_id}-R" not in key:
                changed.append(key)
        if changed:  # posted content known line by line: a reclass journal moves the difference
            posted_refs = sorted(set(changed) | set(posted))
            reclasses = (reclass.reclass_journals(con, settlement_id, partner_of=partner_function())
                         if reclass.has_snapshot(con, settlement_id, posted_refs) else None)
    reclassed = bool(changed) and reclasses is not None
    ok = not twins and (not changed or reclassed)
    if twins:
        text = f"the same file was already loaded as settlement {', '.join(twins)}"
    elif reclassed and reclasses:
        text = (f"journal(s) {', '.join(sorted(changed))} were posted before the account map changed: reclass "
                f"journal(s) {', '.join(j.reference for j in reclasses)} move the difference")
    elif reclassed:
        text = f"already posted ({', '.join(posted)}): the books already match, nothing will be posted again"
    elif changed:
        text = (f"journal(s) {', '.join(sorted(changed))} were already posted with different content: "
                "reverse them in Sage before posting this settlement again")
    elif posted:
        text = f"already posted ({', '.join(posted)}): nothing will be posted again"
    else:
        text = "not posted yet"
    return Outcome("settlement_not_posted_twice", ok, True, text,
                   {"already_posted": ", ".join(posted), "changed_after_posting": ", ".join(changed),
                    "reclass": ", ".join(j.reference for j in reclasses or []), "same_file_as": ", ".join(twins)})


def check_balanced(con, settlement_id: str) -> Outcome:
    """Blocking: every journal balances in the settlement currency and in the company currency."""
    rows = con.execute(
        """SELECT journal_reference, sum(debit), sum(credit), sum(ledger_debit), sum(ledger_credit),
                  bool_or(account IS NULL OR account = ''), bool_or(rate IS NULL)
           FROM marts.journal_settlement_lines WHERE settlement_id = ? GROUP BY 1 ORDER BY 1""",
        [settlement_id]).fetchall()
    bad = [r[0] for r in rows if r[1] != r[2] or r[3] != r[4]]
    no_account = [r[0] for r in rows if r[5]]
    no_rate = [r[0] for r in rows if r[6]]
    empty = con.execute(
        "SELECT total_amount = 0 AND line_count = 0 FROM raw.settlement_reports WHERE settlement_id = ?",
        [settlement_id]).fetchone()
    companies = _site_companies(con, settlement_id)
    several = len(set(companies.values())) > 1
    ok = (bool(rows) or bool(empty and empty[0])) and not bad and not no_account and not no_rate and not several
    if not rows:
        text = "an empty settlement: no journal to post" if ok else "no journal lines (was the file landed?)"
    elif several:
        listed = ", ".join(f"{site} {cur}" for site, cur in sorted(companies.items()))
        text = (f"the settlement's lines go to journal sites of Sage companies in different currencies ({listed}): "
                "map its marketplaces to sites of one company (accounts.yaml targets.<target>.sites)")
    elif no_rate:
        text = ("no exchange rate for the settlement currency (the ERP's rate table, accounts.yaml `rates_file` or "
                "`rates`)")
    elif no_account:
        text = f"journal(s) {', '.join(no_account)} have lines without a GL account"
    elif bad:
        text = f"journal(s) {', '.join(bad)} do not balance"
    else:
        text = f"{len(rows)} journal(s), each balanced"
    return Outcome("settlement_journals_balanced", ok, True, text,
                   {"journals": len(rows), "unbalanced": ", ".join(bad)})


def _site_companies(con, settlement_id: str) -> dict[str, str]:
    """Journal site -> the currency of its Sage company (ref.settlement_account_map site rows), for the
    settlement's journal sites."""
    if not _table_exists(con, "ref.settlement_account_map"):
        return {}
    return dict(con.execute(
        """SELECT l.site, any_value(m.company_currency)
           FROM (SELECT DISTINCT coalesce(site, '') AS site FROM marts.journal_settlement_lines
                 WHERE settlement_id = ?) AS l
           INNER JOIN ref.settlement_account_map AS m ON m.kind = 'site' AND coalesce(m.account, '') = l.site
           WHERE m.company_currency IS NOT NULL GROUP BY l.site""", [settlement_id]).fetchall())


def check_unmapped(con, settlement_id: str) -> Outcome:
    """Non-blocking: lines that no rule maps are posted to suspense; list them so a rule gets added."""
    rows = con.execute(
        """SELECT transaction_type, amount_type, amount_description, line_count, amount, account
           FROM staging.stg_settlement_categories WHERE settlement_id = ? AND is_suspense
           ORDER BY abs(amount) DESC""", [settlement_id]).fetchall()
    ok = not rows
    total = sum((Decimal(r[4]) for r in rows), ZERO)
    option = con.execute("SELECT any_value(account) FROM ref.settlement_account_map "
                         "WHERE kind = 'option' AND role = 'unmapped'").fetchone()
    hold = bool(option and option[0] == "hold")
    text = ("every line has a mapping" if ok else
            f"on hold (accounts.yaml unmapped: hold): {sum(r[3] for r in rows)} line(s) of {len(rows)} unmapped "
            f"type(s), {total} in total; nothing is posted until a rule maps them" if hold else
            f"{sum(r[3] for r in rows)} line(s) of {len(rows)} unmapped type(s), {total} in total, "
            f"posted to suspense account {rows[0][5]}: add a rule to accounts.yaml and re-run")
    md = "\n".join(["| transaction-type | amount-type | amount-description | lines | amount |",
                    "|---|---|---|---|---|"] + [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} |" for r in rows])
    return Outcome("settlement_unmapped_lines", ok, hold and not ok, text,
                   {"unmapped_lines": int(sum(r[3] for r in rows)), "unmapped_amount": f"{total:.2f}",
                    "unmapped_types": md if rows else ""})


def validate(con, settlement_id: str) -> list[Outcome]:
    return [check_totals(con, settlement_id), check_currency(con, settlement_id),
            check_not_posted_twice(con, settlement_id), check_balanced(con, settlement_id),
            check_unmapped(con, settlement_id)]


# ---------------------------------------------------------------------------------------------
# reconciliation for finance


def account_table(con, settlement_id: str) -> list[dict[str, Any]]:
    """Per GL account: the net settlement amount (credit-positive), debits and credits, line count."""
    rows = con.execute(
        """SELECT account, any_value(role) AS role, string_agg(DISTINCT line_kind, ',') AS kinds,
                  sum(debit), sum(credit), sum(amount), sum(ledger_debit), sum(ledger_credit), sum(line_count)
           FROM marts.journal_settlement_lines WHERE settlement_id = ?
           GROUP BY account ORDER BY account""", [settlement_id]).fetchall()
    return [{"account": r[0], "role": r[1], "debit": r[3], "credit": r[4], "net": r[5], "ledger_debit": r[6],
             "ledger_credit": r[7], "lines": int(r[8] or 0)} for r in rows]


def per_account_totals(con, settlement_id: str, kinds: tuple[str, ...] = ("account",)) -> dict[str, Decimal]:
    """Net credit-positive amount per account over all the settlement's journals (account lines by default)."""
    rows = con.execute(
        f"""SELECT account, sum(amount) FROM marts.journal_settlement_lines
            WHERE settlement_id = ? AND line_kind IN ({', '.join('?' * len(kinds))}) GROUP BY account""",
        [settlement_id, *kinds]).fetchall()
    return {a: Decimal(v) for a, v in rows}


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "\n".join("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows)


# ---------------------------------------------------------------------------------------------
# a file, end to end, without the warehouse (inspect and the benchmark)


@dataclass
class Preview:
    summary: Any
    outcomes: list[Outcome]
    journals: list[Journal]
    reconciliation: dict[str, Any] | None
    accounts: list[dict[str, Any]]
    unmapped: list[tuple]
    warnings: list[str] = field(default_factory=list)
    # account -> the Amazon types posted there and the rule that sent each
    account_types: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def blocked(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.blocking and not o.passed]


def warnings(con, settlement_id: str) -> list[str]:
    """What an accountant should look at before posting, though nothing blocks."""
    out: list[str] = []
    start, total, currency = con.execute(
        "SELECT settlement_start_date, total_amount, currency FROM raw.settlement_reports WHERE settlement_id = ?",
        [settlement_id]).fetchone()
    before, no_date, first = con.execute(
        "SELECT count(*) FILTER (WHERE posted_date < ?), count(*) FILTER (WHERE posted_date IS NULL), "
        "min(posted_date) FROM raw.settlement_lines WHERE settlement_id = ?", [start, settlement_id]).fetchone()
    if before:
        out.append(f"{before} line(s) posted before the settlement start {start} (first {first}): they go to "
                   "their own month's journal")
    if no_date:
        out.append(f"{no_date} line(s) without a posted date: dated at the settlement end")
    markets = [m for (m,) in con.execute(
        "SELECT DISTINCT marketplace FROM staging.stg_settlement_categories WHERE settlement_id = ? ORDER BY 1",
        [settlement_id]).fetchall() if m]
    if len(markets) > 1:
        out.append(f"several marketplaces in one settlement ({', '.join(markets)}): each line keeps its own "
                   "accounts, tax and site")
    netted = con.execute(
        """SELECT marketplace, sum(amount) FILTER (WHERE amount_type = 'ItemPrice' AND amount_description LIKE '%Tax'),
                  sum(amount) FILTER (WHERE amount_type = 'ItemWithheldTax' OR amount_description LIKE 'MarketplaceFacilitator%')
           FROM staging.stg_settlement_categories WHERE settlement_id = ? GROUP BY 1""", [settlement_id]).fetchall()
    for market, collected, withheld in netted:
        if collected and withheld and collected + withheld == 0:
            out.append(f"tax collected {collected:.2f} and withheld by Amazon net to zero ({market or 'settlement'}): "
                       "marketplace facilitator tax, nothing to remit")
    if total < 0:
        out.append(f"negative settlement: {-total:.2f} {currency} owed to Amazon (amazon_payable), no deposit; "
                   "the next settlement's Payable to Amazon / Successful charge clears it")
    return out


def account_types(con, settlement_id: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for account, market, ttype, atype, desc, lines, amount, rule in con.execute(
            """SELECT account, marketplace, transaction_type, amount_type, amount_description, line_count, amount,
                      rule_text
               FROM staging.stg_settlement_categories WHERE settlement_id = ?
               ORDER BY account, abs(amount) DESC""", [settlement_id]).fetchall():
        out[account].append({"marketplace": market, "transaction_type": ttype, "amount_type": atype,
                             "amount_description": desc, "lines": int(lines), "amount": amount, "rule": rule})
    return dict(out)


def preview(path: Path | str, target: str | None = None, con=None, with_marts: bool = True) -> Preview:
    """Parse, validate and build the journals of a settlement file in memory; posts nothing."""
    import duckdb

    from sage_amazon import config
    from sage_amazon.amazon import settlement as parser
    from sage_amazon.mapping import accounts

    own = con is None
    con = con or duckdb.connect()
    try:
        for schema in ("raw", "ref", "staging", "marts", "ops"):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        amap = accounts.load()
        accounts.write_table(con, amap, target or config.get("SAGE_AMAZON_TARGET").lower())
        summary = parser.land(con, path, source="inspect")
        build(con, summary.settlement_id, MODELS if with_marts else JOURNAL_MODELS)
        outcomes = validate(con, summary.settlement_id)
        unmapped = con.execute(
            """SELECT transaction_type, amount_type, amount_description, line_count, amount
               FROM staging.stg_settlement_categories WHERE settlement_id = ? AND is_suspense""",
            [summary.settlement_id]).fetchall()
        notes = warnings(con, summary.settlement_id)
        if amap.currency_source == "erp" and summary.currency != amap.company_currency:
            # inspect reads no ERP: say whose rates these are, and whose the posting will use
            notes.append(f"{amap.company_currency} amounts here at accounts.yaml's rates; the posting converts at "
                         "the Sage company's currency and the ERP's rate of each journal's date (currency_source: erp)")
        return Preview(summary, outcomes, journals(con, summary.settlement_id, target),
                       reconciliation_row(con, summary.settlement_id) if with_marts else None,
                       account_table(con, summary.settlement_id), unmapped,
                       notes, account_types(con, summary.settlement_id))
    finally:
        if own:
            con.close()
