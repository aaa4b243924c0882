"""The VAT of a settlement (issue 17.1): each line's treatment kept in marts.settlement_vat, and one VAT journal per
settlement journal, VAT-<settlement id>-<YYYYMM>[-<site>], dated and rated like it, posted once.

The settlement journal posts sales, shipping and fees as Amazon paid them (gross). The VAT journal takes each
amount off its account untagged and puts it back split, every line with the target's tax code: the net on the
same account, the output VAT on the registration's output VAT account (Canada: GST/HST and QST accounts, taken
from the Tax lines), the input VAT in Amazon's fees on the input VAT account. A journal with a line whose treatment
waits for data is not posted, and `waiting` says why; the settlement's postings wait with it (the asset's
blocking check). Rows of a posted VAT journal keep what they were posted with.
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
from sage_amazon.ledger.posted_rows import replace_unposted
from sage_amazon.ledger.vat import decide, facts
from sage_amazon.ledger.vat.decide import FEE_ROLES, OUTPUT_ROLES, ZERO, Treatment, Wait, cents
from sage_amazon.ledger.vat.profile import MARKETPLACE_COUNTRY, Profile, load
from sage_amazon.sage.protocol import Journal, JournalLine

if TYPE_CHECKING:
    import duckdb

FLOW = "vat_journal"  # the posting ledger's flow of VAT journals
DEAD_LETTER_FLOW = "settlement"
TABLE = "marts.settlement_vat"
OK, WAITING = "ok", "waiting"
TAX_DESCRIPTIONS = ("tax", "shippingtax", "giftwraptax")
COLUMNS = (
    ("settlement_id", "VARCHAR NOT NULL"), ("row_no", "INTEGER NOT NULL"), ("period", "VARCHAR"),
    ("journal_reference", "VARCHAR"), ("settlement_journal", "VARCHAR"), ("site", "VARCHAR"),
    ("marketplace", "VARCHAR"), ("order_id", "VARCHAR"), ("sku", "VARCHAR"), ("role", "VARCHAR"),
    ("account", "VARCHAR"), ("line_kind", "VARCHAR"), ("treatment", "VARCHAR"), ("departure", "VARCHAR"),
    ("arrival", "VARCHAR"), ("vat_country", "VARCHAR"), ("registration", "VARCHAR"),
    ("registration_country", "VARCHAR"), ("scheme", "VARCHAR"), ("rate", "DECIMAL(9,5)"),
    ("gross", "DECIMAL(18,2)"), ("net", "DECIMAL(18,2)"), ("output_vat", "DECIMAL(18,2)"),
    ("input_vat", "DECIMAL(18,2)"), ("qst", "DECIMAL(18,2)"), ("tax_code", "VARCHAR"), ("vat_account", "VARCHAR"),
    ("currency", "VARCHAR"), ("posted_date", "DATE"), ("status", "VARCHAR"), ("reason", "VARCHAR"),
    ("posted", "BOOLEAN"),
)


@dataclass
class VatRow:
    settlement_id: str
    row_no: int
    period: str
    journal_reference: str
    settlement_journal: str
    site: str
    marketplace: str
    order_id: str
    sku: str
    role: str
    account: str
    line_kind: str  # sale | fee | tax (a Canadian Tax line, moved to GST/HST and QST)
    treatment: str
    departure: str
    arrival: str
    vat_country: str
    registration: str
    registration_country: str
    scheme: str
    rate: Decimal
    gross: Decimal  # credit-positive, as the settlement posted it
    net: Decimal
    output_vat: Decimal  # credit-positive: VAT due (GST/HST in Canada)
    input_vat: Decimal  # reclaimable VAT in a fee (positive)
    qst: Decimal
    tax_code: str
    vat_account: str
    currency: str
    posted_date: date | None
    status: str
    reason: str = ""
    posted: bool = False
    moves: list[tuple[str, str, Decimal]] = field(default_factory=list)  # (account, tax code, credit-positive)


def reference(settlement_journal: str, settlement_id: str, period: str, site: str) -> str:
    """VAT-<settlement id>-<YYYYMM>[-<site>]: the settlement journal's reference with VAT for AMZ."""
    if settlement_journal.startswith("AMZ-"):
        return "VAT-" + settlement_journal.removeprefix("AMZ-")
    return f"VAT-{settlement_id}-{period.replace('-', '')}" + (f"-{site}" if site else "")


def _lines(con: duckdb.DuckDBPyConnection, settlement_id: str) -> list[tuple]:
    return con.execute("""
        WITH numbered AS (
            SELECT l.fulfillment_id, row_number() OVER (ORDER BY l.rowid) AS row_no
            FROM raw.settlement_lines AS l WHERE l.settlement_id = $sid)
        SELECT t.row_no, coalesce(t.journal_reference, ''), t.period, coalesce(t.site, ''), t.account, t.role,
               t.marketplace, coalesce(t.transaction_type, ''), coalesce(t.amount_type, ''),
               coalesce(t.amount_description, ''), coalesce(t.order_id, ''), coalesce(t.sku, ''), t.posted_date,
               t.amount, t.currency, upper(coalesce(n.fulfillment_id, ''))
        FROM marts.journal_settlement_trace AS t JOIN numbered AS n ON n.row_no = t.row_no
        WHERE t.settlement_id = $sid ORDER BY t.row_no""", {"sid": settlement_id}).fetchall()


def _journals_of(con: duckdb.DuckDBPyConnection, settlement_id: str) -> dict[tuple[str, str], tuple]:
    """(period, site) -> (settlement journal reference, accounting date, currency, company currency, rate)."""
    return {(p, s): rest for p, s, *rest in con.execute(
        "SELECT period, coalesce(site, ''), any_value(journal_reference), max(accounting_date), any_value(currency), "
        "any_value(company_currency), any_value(rate) FROM marts.journal_settlement_lines WHERE settlement_id = ? "
        "GROUP BY ALL", [settlement_id]).fetchall()}


def _is_withheld(amount_type: str, description: str) -> bool:
    return amount_type.lower() == "itemwithheldtax" or description.lower().startswith("marketplacefacilitator")


def compute(con: duckdb.DuckDBPyConnection, settlement_id: str, p: Profile, target: str) -> list[VatRow]:
    """Every VAT-relevant line of the settlement with its treatment (needs the settlement's models built)."""
    lines = [ln for ln in _lines(con, settlement_id) if ln[6] in MARKETPLACE_COUNTRY]
    if not lines:
        return []
    journals = _journals_of(con, settlement_id)
    orders = sorted({ln[10] for ln in lines if ln[10]})
    mfn = {ln[10] for ln in lines if ln[10] and ln[15] == "MFN"}
    known = facts.read(con, orders, p.fc_country, p.ship_from, mfn)
    withheld = {ln[10] for ln in lines if ln[10] and _is_withheld(ln[8], ln[9])}
    consignment: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for ln in lines:
        if ln[10] and ln[7].lower() == "order" and ln[8].lower() == "itemprice" and ln[9].lower() == "principal":
            consignment[ln[10]] += Decimal(ln[13])
    out: list[VatRow] = []
    for (row_no, jref, period, site, account, role, market, _tt, amount_type, desc, order_id, sku, day, amount,
         currency, _ch) in lines:
        amount = Decimal(amount)
        sj = journals.get((period, site), (jref, None, currency, currency, 1))
        settlement_journal = jref or sj[0] or ""
        base = dict(settlement_id=settlement_id, row_no=row_no, period=period,
                    journal_reference=reference(settlement_journal, settlement_id, period, site),
                    settlement_journal=settlement_journal, site=site, marketplace=market, order_id=order_id,
                    sku=sku, role=role, account=account, currency=currency, posted_date=day, gross=amount)
        if role in OUTPUT_ROLES and order_id:
            t = decide.sale(p, market, order_id, known.get(order_id), day, sku, consignment[order_id],
                            currency, order_id in withheld)
            out.append(_sale_row(base, t, p, amount))
        elif role in FEE_ROLES:
            t = decide.fee(p, market, day, order_id, known.get(order_id))
            if t is not None:
                out.append(_fee_row(base, t, p, amount))
        elif (market == "CA" and order_id and desc.lower() in TAX_DESCRIPTIONS
              and amount_type.lower() == "itemprice" and order_id not in withheld):
            out.append(VatRow(**base, line_kind="tax", treatment="", departure="", arrival="", vat_country="CA",
                              registration="", registration_country="CA", scheme="gst_hst", rate=ZERO, net=ZERO,
                              output_vat=ZERO, input_vat=ZERO, qst=ZERO, tax_code="", vat_account=account,
                              status=OK, moves=[(account, "", -amount)]))
    _check_canada(out)
    return out


def _blank(base: dict, kind: str, reason: str) -> VatRow:
    return VatRow(**base, line_kind=kind, treatment="", departure="", arrival="", vat_country="", registration="",
                  registration_country="", scheme="", rate=ZERO, net=ZERO, output_vat=ZERO, input_vat=ZERO, qst=ZERO,
                  tax_code="", vat_account="", status=WAITING, reason=reason)


def _treated(base: dict, kind: str, t: Treatment, **values: Any) -> VatRow:
    reg = t.registration
    return VatRow(**base, line_kind=kind, treatment=t.kind, departure=t.departure, arrival=t.arrival,
                  vat_country=t.country, registration=reg.key if reg else "",
                  registration_country=reg.country if reg else "", scheme=reg.scheme if reg else "", rate=t.rate,
                  status=OK, **values)


def _sale_row(base: dict, t: Treatment | Wait, p: Profile, gross: Decimal) -> VatRow:
    if isinstance(t, Wait):
        return _blank(base, "sale", t.reason)
    account = base["account"]
    code = p.code(t.kind, t.country)
    if t.kind in ("gst", "hst"):  # Canada: the price is net, the tax comes from the order's Tax lines
        gst, qst = cents(gross * t.rate), cents(gross * t.qst)
        qcode = p.code("qst", t.country)
        row = _treated(base, "sale", t, net=gross, output_vat=gst, input_vat=ZERO, qst=qst, tax_code=code,
                       vat_account=p.gst_hst)
        row.moves = [(account, "", -gross), (account, code, gross), (p.gst_hst, code, gst)]
        if qst:
            row.moves.append((p.qst, qcode, qst))
        return row
    vat = decide.inclusive_vat(gross, t.rate) if t.rate else ZERO
    oss = p.output_vat.get("OSS", "") if t.kind == "oss" else ""  # OSS VAT on its own account when named
    vat_account = (oss or p.vat_account(True, t.country)) if vat else ""
    row = _treated(base, "sale", t, net=gross - vat, output_vat=vat, input_vat=ZERO, qst=ZERO, tax_code=code,
                   vat_account=vat_account)
    row.moves = [(account, "", -gross), (account, code, gross - vat)] + ([(vat_account, code, vat)] if vat else [])
    return row


def _fee_row(base: dict, t: Treatment | Wait, p: Profile, gross: Decimal) -> VatRow:
    if isinstance(t, Wait):
        return _blank(base, "fee", t.reason)
    account = base["account"]
    code = p.code(t.kind, t.country)
    canada = t.country.startswith("CA-")
    input_account = p.gst_hst_input if canada else p.vat_account(False, t.country)
    if t.kind == "input":  # the fee includes the VAT Amazon charged (gross is negative: a debit)
        vat = decide.inclusive_vat(-gross, t.rate)
        row = _treated(base, "fee", t, net=gross + vat, output_vat=ZERO, input_vat=vat, qst=ZERO, tax_code=code,
                       vat_account=input_account)
        row.moves = [(account, "", -gross), (account, code, gross + vat), (input_account, code, -vat)]
        return row
    vat = cents(-gross * t.rate)  # reverse charge: output and input VAT on the net fee
    output_account = p.vat_account(True, t.country)
    row = _treated(base, "fee", t, net=gross, output_vat=vat, input_vat=vat, qst=ZERO, tax_code=code,
                   vat_account=input_account)
    row.moves = [(account, "", -gross), (account, code, gross), (input_account, code, -vat),
                 (output_account, code, vat)]
    return row


def _check_canada(rows: list[VatRow]) -> None:
    """A Canadian order's Tax lines must hold the GST/HST and QST its sales call for, per period: else its rows
    wait (the tax Amazon collected does not match the ship-to province)."""
    by_order: dict[tuple[str, str], list[VatRow]] = defaultdict(list)
    for r in rows:
        if r.marketplace == "CA" and r.order_id:
            by_order[(r.order_id, r.period)].append(r)
    for (order_id, _), group in by_order.items():
        sales = [r for r in group if r.line_kind == "sale" and r.treatment in ("gst", "hst")]
        taxes = [r for r in group if r.line_kind == "tax"]
        if any(r.status == WAITING for r in group) and taxes:
            for r in taxes:
                r.status, r.reason = WAITING, f"order {order_id}: its sale lines wait"
            continue
        due = sum((r.output_vat + r.qst for r in sales), ZERO)
        collected = sum((r.gross for r in taxes), ZERO)
        if due != collected:
            province = sales[0].vat_country if sales else "?"
            for r in group:
                r.status = WAITING
                r.reason = (f"order {order_id}: tax collected {collected} differs from the GST/HST/QST of "
                            f"{province} on its sales ({due})")


# ---------------------------------------------------------------------------------------------- journals

def journals(con: duckdb.DuckDBPyConnection, settlement_id: str, rows: list[VatRow]
             ) -> tuple[list[Journal], dict[str, str]]:
    """(VAT journals to post, reference -> why it waits)."""
    info = {rest[0]: (p, s, *rest[1:]) for (p, s), rest in _journals_of(con, settlement_id).items()}
    by_ref: dict[str, list[VatRow]] = defaultdict(list)
    for r in rows:
        by_ref[r.journal_reference].append(r)
    out, waiting = [], {}
    for ref, group in sorted(by_ref.items()):
        bad = [r for r in group if r.status != OK]
        if bad:
            reasons = sorted({r.reason for r in bad})
            waiting[ref] = f"VAT not posted ({len(bad)} lines): " + "; ".join(reasons[:5]) + (
                f"; and {len(reasons) - 5} more" if len(reasons) > 5 else "")
            continue
        sj = info.get(group[0].settlement_journal)
        if sj is None:
            waiting[ref] = "VAT not posted: the settlement's journals are not built"
            continue
        _, site, day, currency, company, rate = sj
        totals: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        for r in group:
            for account, code, amount in r.moves:
                totals[(account, code)] += amount
        lines = [(acc, code, amt) for (acc, code), amt in sorted(totals.items()) if amt]
        if not lines:
            continue
        rate = Decimal(rate if rate is not None else 1)
        out.append(Journal(reference=ref, accounting_date=day, currency=currency,
                           lines=_journal_lines(settlement_id, lines, rate if currency != company else None),
                           description=f"VAT {settlement_id} {group[0].period}", rate=rate, site=site))
    return out, waiting


def _journal_lines(settlement_id: str, lines: list[tuple[str, str, Decimal]], rate: Decimal | None
                   ) -> tuple[JournalLine, ...]:
    """Journal lines; in a foreign currency each with its company-currency amount, the rounding difference on
    the largest line so both currencies balance."""
    ledger = [cents(amt * rate) if rate is not None else None for _, _, amt in lines]
    if rate is not None:
        diff = sum(ledger, ZERO)
        if diff:
            big = max(range(len(lines)), key=lambda i: abs(lines[i][2]))
            ledger[big] -= diff
    out = []
    for (account, code, amount), home in zip(lines, ledger, strict=True):
        text = f"VAT {code} {settlement_id}" if code else f"VAT split {settlement_id}"
        out.append(JournalLine(account, debit=max(-amount, ZERO), credit=max(amount, ZERO), description=text,
                               tax_code=code, reference=f"{settlement_id}/vat/{code or 'gross'}",
                               ledger_debit=max(-home, ZERO) if home is not None else None,
                               ledger_credit=max(home, ZERO) if home is not None else None))
    return tuple(out)


# ---------------------------------------------------------------------------------------------- table

def _write(con: duckdb.DuckDBPyConnection, settlement_id: str, rows: list[VatRow], keep: set[str]) -> None:
    """Replace the settlement's rows, except those of journals already posted (`keep`: their references)."""
    replace_unposted(con, TABLE, COLUMNS, settlement_id, rows, keep)


# ---------------------------------------------------------------------------------------------- run

@dataclass
class VatReport:
    settlement_id: str
    rows: list[VatRow] = field(default_factory=list)
    posted: dict[str, str] = field(default_factory=dict)
    already: dict[str, str] = field(default_factory=dict)
    adopted: dict[str, str] = field(default_factory=dict)
    waiting: dict[str, str] = field(default_factory=dict)
    dead_letters: dict[str, str] = field(default_factory=dict)
    transient: dict[str, str] = field(default_factory=dict)
    disabled: bool = False

    @property
    def all_posted(self) -> bool:
        return not (self.waiting or self.dead_letters or self.transient)


def decide_settlement(con: duckdb.DuckDBPyConnection, settlement_id: str, target: str) -> VatReport:
    """Decide and keep the settlement's VAT rows (no posting): the report's `waiting` says what holds it."""
    p = load(target)
    report = VatReport(settlement_id)
    if not p.enabled:  # an empty table all the same: the summary's SQL model reads it
        report.disabled = True
        _write(con, settlement_id, [], _posted_refs(con, settlement_id))
        return report
    done = _posted_refs(con, settlement_id)
    report.rows = compute(con, settlement_id, p, target)
    _write(con, settlement_id, report.rows, done)
    _, report.waiting = journals(con, settlement_id, [r for r in report.rows if r.journal_reference not in done])
    return report


def _posted_refs(con: duckdb.DuckDBPyConnection, settlement_id: str) -> set[str]:
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, TABLE):
        return set()
    refs = [r for (r,) in con.execute(f"SELECT DISTINCT journal_reference FROM {TABLE} WHERE settlement_id = ?",
                                      [settlement_id]).fetchall()]
    out = set()
    for ref in refs:
        entry = posting_ledger.get(con, FLOW, ref)
        if entry is not None and entry.status == posting_ledger.POSTED:
            out.add(ref)
    return out


def run(open_write: Callable[[], AbstractContextManager], target: Any, settlement_id: str,
        target_name: str | None = None) -> VatReport:
    """Decide the settlement's VAT, keep it in marts.settlement_vat and post each VAT journal once (none of a
    journal that waits). The warehouse is opened in short sessions, never held while Sage works."""
    from sage_amazon.ledger.journal_once import post_once

    name = target_name or getattr(target, "name", "")
    p = load(name)
    report = VatReport(settlement_id)
    if not p.enabled:
        report.disabled = True
        return report
    with open_write() as con:
        posting_ledger.bind(con, target)
        done = _posted_refs(con, settlement_id)
        report.rows = compute(con, settlement_id, p, name)
        _write(con, settlement_id, report.rows, done)
        todo, report.waiting = journals(con, settlement_id,
                                        [r for r in report.rows if r.journal_reference not in done])
        for ref in sorted(done):
            entry = posting_ledger.get(con, FLOW, ref)
            report.already[ref] = (entry.sage_number or "") if entry else ""
    for journal in todo:
        post_once(open_write, target, journal, flow=FLOW, letter_flow=DEAD_LETTER_FLOW,
                  letter_key=f"{settlement_id}:{journal.reference}", outcome=report)
        if report.transient:
            break
    with open_write() as con:
        if report.posted or report.adopted:
            _write(con, settlement_id, report.rows, done | set(report.posted) | set(report.adopted))
    return report


def rows(con: duckdb.DuckDBPyConnection, settlement_id: str) -> list[dict[str, Any]]:
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, TABLE):
        return []
    cur = con.execute(f"SELECT * FROM {TABLE} WHERE settlement_id = ? ORDER BY row_no", [settlement_id])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def waiting_reasons(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """settlement id -> why its VAT waits (the first reason, and how many lines wait), for the cockpit."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, TABLE):
        return {}
    return {sid: f"VAT waits ({n} lines): {reason}" for sid, n, reason in con.execute(
        f"SELECT settlement_id, count(*), min(reason) FROM {TABLE} WHERE status = '{WAITING}' AND NOT "
        "coalesce(posted, false) GROUP BY settlement_id").fetchall()}
