"""Fixes after posting: when the account map changes for a settlement whose journals are already in Sage,
the difference is posted as one reclass journal (old account -> new account), referencing the originals, once.

What was posted is remembered line by line (`ops.settlement_posted_lines`, written when Sage confirms a
journal). A later build of the same settlement that moves money between accounts without changing what the
settlement paid (same totals in both currencies, per journal site) gives the reclass: per account, the
current amount less the posted one. Its reference carries a digest of the moves, so the same fix posts once;
once posted it is remembered too, and the books then equal the current build. A change that alters the
amounts themselves (another file under the same id) is still refused: reverse it in Sage.

The reclass is dated in the first open period, as Sage wants a correction: on the settlement's last accounting
date while that period is open in Sage, else on the first day of the first open period after it (`open_day`,
asked of the target when the journal is posted: X3 PERIOD of the site's company, Sage 500 tglFiscalPeriod). A
target that cannot say gets the later of that date and the run day; Sage still refuses a closed period, which
becomes a dead letter like any refusal. Lines on a control account keep their business partner (the
marketplace's Sage customer on `receivables`): what was posted with a partner is moved with the same partner.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sage_amazon.sage import errors
from sage_amazon.sage.protocol import Journal, JournalLine

TABLE = "ops.settlement_posted_lines"
# what the settlement paid, as posted: the file and its lines' total (a change there is no reclassification)
_SOURCE_KEY = """SELECT r.file_sha256 || ':' || CAST(r.total_amount AS VARCHAR) || ':'
                        || CAST((SELECT sum(l.amount) FROM raw.settlement_lines AS l
                                 WHERE l.settlement_id = r.settlement_id) AS VARCHAR)
                 FROM raw.settlement_reports AS r WHERE r.settlement_id = ?"""
ZERO = Decimal("0.00")


def ensure(con) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        settlement_id VARCHAR, journal_reference VARCHAR, line_no INTEGER, account VARCHAR, site VARCHAR,
        amount DECIMAL(18, 2), ledger_amount DECIMAL(18, 2), accounting_date DATE, currency VARCHAR,
        rate DECIMAL(18, 8), source_key VARCHAR)""")
    # the business partner of a line (X3 BPR, Sage 500 customer); NULL in snapshots taken before it was kept
    con.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS partner VARCHAR")


def settlement_of(reference: str) -> str:
    """AMZ-<settlement id>-<YYYYMM>[-<site>] or AMZ-<settlement id>-R<digest>."""
    return reference.split("-")[1] if reference.count("-") >= 2 else ""


def remember(con, journal: Journal, settlement_id: str | None = None) -> None:
    """Record a journal Sage confirmed (credit-positive amounts, company currency beside)."""
    ensure(con)
    sid = settlement_id or settlement_of(journal.reference)
    con.execute(f"DELETE FROM {TABLE} WHERE journal_reference = ?", [journal.reference])
    found = con.execute(_SOURCE_KEY, [sid]).fetchone()
    sha = found[0] if found else None
    rows = []
    for no, line in enumerate(journal.lines, start=1):
        amount = line.credit - line.debit
        ledger = ((line.ledger_credit or ZERO) - (line.ledger_debit or ZERO)
                  if line.ledger_debit is not None or line.ledger_credit is not None else amount)
        rows.append([sid, journal.reference, no, line.account, journal.site, amount, ledger, journal.accounting_date,
                     journal.currency, journal.rate, sha, line.partner or ""])
    for row in rows:
        con.execute(f"INSERT INTO {TABLE} (settlement_id, journal_reference, line_no, account, site, amount, "
                    "ledger_amount, accounting_date, currency, rate, source_key, partner) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)


def _posted(con, settlement_id: str) -> list[tuple]:
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, TABLE):
        return []
    has_partner = con.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'ops' "
                              "AND table_name = 'settlement_posted_lines' AND column_name = 'partner'").fetchone()[0]
    partner = "partner" if has_partner else "CAST(NULL AS VARCHAR)"  # a snapshot of an older build: not kept then
    return con.execute(f"SELECT journal_reference, site, account, amount, ledger_amount, accounting_date, currency, "
                       f"rate, source_key, {partner} FROM {TABLE} WHERE settlement_id = ?", [settlement_id]).fetchall()


def _reissue_accepted(con, settlement_id: str, source_key: str) -> str:
    """A changed file whose difference accounts.yaml `reissue: difference` accepted (ledger/reissue.py, which
    writes ops.settlement_reissues; read here without importing it: reissue.py uses this module)."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "ops.settlement_reissues"):
        return ""
    row = con.execute(
        "SELECT max(mode) FROM ops.settlement_reissues WHERE settlement_id = ? AND new_sha256 = ? "
        "AND status IN ('correcting', 'corrected')", [settlement_id, source_key.split(":", 1)[0]]).fetchone()
    return row[0] if row and row[0] else ""  # "difference" | "reverse_and_repost" | "" (not accepted)


def has_snapshot(con, settlement_id: str, references: list[str]) -> bool:
    known = {r[0] for r in _posted(con, settlement_id)}
    return all(ref in known for ref in references)


PartnerOf = Callable[[str, str, str], str]  # (role, marketplace, currency) -> the line's business partner


def reclass_journals(con, settlement_id: str, partner_of: PartnerOf | None = None) -> list[Journal] | None:
    """The reclass journals the current build calls for: [] when the books already match, None when the
    difference is not a reclassification (amounts changed) or what was posted is not known line by line.
    `partner_of` gives the business partner of a current line (settlements.journals passes the marketplace's
    Sage customer for `receivables`); moves are per site, account and partner. The journals are dated on the
    settlement's last accounting date: `open_day` moves them to the first open period when they are posted."""
    posted = _posted(con, settlement_id)
    if not posted:
        return []
    file_now = con.execute(_SOURCE_KEY, [settlement_id]).fetchone()
    reissued = file_now is not None and any(r[8] != file_now[0] for r in posted)
    if file_now is None or (reissued and not _reissue_accepted(con, settlement_id, file_now[0])):
        return None  # another file (or changed lines) under the same id: not a reclassification
    repost = reissued and _reissue_accepted(con, settlement_id, file_now[0]) == "reverse_and_repost"
    if con.execute("SELECT count(*) FROM ops.posting_ledger WHERE flow = 'settlement_journal' AND status = 'posted' "
                   "AND record_key LIKE ?", [f"AMZ-{settlement_id}-%"]).fetchone()[0] > \
            len({r[0] for r in posted}):
        return None  # journals posted before their lines were remembered: the books are not known here
    current = con.execute(
        """SELECT site, account, sum(amount), sum(ledger_credit) - sum(ledger_debit), bool_or(currency <> company_currency),
                  any_value(currency), max(rate), max(accounting_date), role, marketplace
           FROM marts.journal_settlement_lines WHERE settlement_id = ?
             AND journal_reference IN (SELECT journal_reference FROM ops.settlement_posted_lines
                                       WHERE settlement_id = ?
                                         AND NOT starts_with(journal_reference, 'AMZ-' || settlement_id || '-R'))
           GROUP BY site, account, role, marketplace""",
        [settlement_id, settlement_id]).fetchall()
    Key = tuple[str, str, str]  # site, account, partner
    diff: dict[Key, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    was: dict[Key, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])  # in Sage now
    now: dict[Key, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])  # the current build
    foreign = any(r[4] for r in current)
    current_partners: dict[tuple[str, str], set[str]] = defaultdict(set)
    receivable_partner: dict[str, str] = {}  # site -> the partner of its receivables (for older snapshots)
    for site, account, amount, ledger, _f, cur, _r, _d, role, marketplace in current:
        partner = (partner_of(role or "", marketplace or "", cur or "") if partner_of else "") or ""
        current_partners[(site or "", account)].add(partner)
        if role == "receivables" and partner:
            receivable_partner.setdefault(site or "", partner)
        for d in (diff, now):
            d[(site or "", account, partner)][0] += Decimal(amount)
            d[(site or "", account, partner)][1] += Decimal(ledger if foreign else amount)
    for _ref, site, account, amount, ledger, _d, cur, _r, source, partner in posted:
        if partner is None:  # a snapshot taken before partners were kept: the partner Sage got then
            known = current_partners.get((site or "", account), set())
            if len(known) == 1:
                partner = next(iter(known))
            elif partner_of and _is_receivables(con, account):
                partner = receivable_partner.get(site or "") or partner_of("receivables", "", cur or "") or ""
            else:
                partner = ""
        key = (site or "", account, partner)
        diff[key][0] -= Decimal(amount)
        diff[key][1] -= Decimal(ledger)
        if source != file_now[0]:  # the books before this content (not its own reversal and repost)
            was[key][0] += Decimal(amount)
            was[key][1] += Decimal(ledger)
    moves = {k: v for k, v in diff.items() if v[0] or v[1]}
    if not moves:
        return []
    label = "reissue" if reissued else "reclass"  # a reissue accepted as a difference journal (ledger/reissue.py)
    by_site: dict[str, list[tuple]] = defaultdict(list)
    for (site, account, partner), (amount, ledger) in sorted(moves.items()):
        by_site[site].append(_move(account, amount, ledger, partner))
    for lines in by_site.values():
        if sum(x[1] for x in lines) != 0 or sum(x[2] for x in lines) != 0:
            return None  # not a move between accounts: the settlement's amounts changed
    currency = current[0][5] if current else posted[0][6]
    rate = Decimal(max((r[6] for r in current), default=posted[0][7]) or 1)
    day = max([r[7] for r in current] + [r[5] for r in posted])  # the original period: open_day may move it
    originals = sorted({r[0] for r in posted if not r[0].startswith(f"AMZ-{settlement_id}-R")})
    if repost:  # accounts.yaml reissue: reverse_and_repost: all of it out, the new file's journals in
        return _reverse_and_repost(settlement_id, was, now, day, currency, rate, foreign, originals)
    out = []
    for site, lines in sorted(by_site.items()):
        digest = hashlib.sha256(repr((site, lines)).encode()).hexdigest()[:6].upper()
        reference = f"AMZ-{settlement_id}-R{digest}"
        text = f"AMZ {settlement_id} {label}"
        out.append(Journal(reference=reference, accounting_date=day, currency=currency,
                           lines=_journal_lines(lines, foreign, text, originals),
                           description=text, rate=rate, site=site))
    return out


def _move(account: str, amount: Decimal, ledger: Decimal, partner: str) -> tuple:
    """One move of a reclass: (account, amount, ledger[, partner]); a line without a partner keeps the 3-tuple it
    had before partners were kept, so the digest (the journal reference) of such a reclass is unchanged."""
    return (account, amount, ledger, partner) if partner else (account, amount, ledger)


def _journal_lines(lines: list[tuple], foreign: bool, text: str, originals: list[str]) -> tuple[JournalLine, ...]:
    return tuple(JournalLine(
        account=account, debit=-amount if amount < 0 else ZERO, credit=amount if amount > 0 else ZERO,
        ledger_debit=(-ledger if ledger < 0 else ZERO) if foreign else None,
        ledger_credit=(ledger if ledger > 0 else ZERO) if foreign else None,
        description=text, reference=originals[0] if originals else "",
        partner=rest[0] if rest else "",
    ) for account, amount, ledger, *rest in lines)


def _is_receivables(con, account: str) -> bool:
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "ref.settlement_account_map"):
        return False
    return bool(con.execute("SELECT count(*) FROM ref.settlement_account_map WHERE kind = 'role' "
                            "AND role = 'receivables' AND account = ?", [account]).fetchone()[0])


def open_day(target: Any, journal: Journal, today: date | None = None) -> Journal:
    """A reclass (or reissue) journal dated in the first open period: its own date while its period is open in
    Sage, else the first day of the first open period after it, as the target says (`first_open_day`). A target
    that cannot say: the later of its date and `today` (the run day), as before."""
    ask = getattr(target, "first_open_day", None)
    try:
        day = ask(journal.site, journal.accounting_date) if ask is not None else None
    except (errors.SageTransientError, errors.SageUnknownOutcome):
        raise  # the posting stops and is retried
    except errors.SageError:  # the ERP cannot say (a read it does not offer): Sage judges the date when posting
        day = None
    if day is None:
        day = max(journal.accounting_date, today or datetime.now(UTC).date())  # the UTC day, not the local one
    return journal if day == journal.accounting_date else replace(journal, accounting_date=day)


def is_correction(reference: str) -> bool:
    """AMZ-<id>-R<digest>, -RV<digest>, -RN<digest>: a reclass or reissue journal (never a period journal)."""
    parts = reference.split("-")
    return len(parts) >= 3 and parts[2].startswith("R")


def _reverse_and_repost(settlement_id: str, was: dict, now: dict, day: date, currency: str, rate: Decimal,
                        foreign: bool, originals: list[str]) -> list[Journal]:
    """Per site: one journal reversing everything posted for the settlement (AMZ-<id>-RV<digest>) and one
    posting the new file's amounts (AMZ-<id>-RN<digest>), each referenced by a digest of its own lines, so a
    refused one is retried under the same reference and a posted one never again."""
    out = []
    for prefix, amounts, sign, label in (("RV", was, -1, "reversal"), ("RN", now, 1, "repost")):
        by_site: dict[str, list[tuple]] = defaultdict(list)
        for (site, account, partner), (amount, ledger) in sorted(amounts.items()):
            if amount or ledger:
                by_site[site].append(_move(account, sign * amount, sign * ledger, partner))
        for site, lines in sorted(by_site.items()):
            digest = hashlib.sha256(repr((prefix, site, lines)).encode()).hexdigest()[:6].upper()
            text = f"AMZ {settlement_id} {label}"
            out.append(Journal(reference=f"AMZ-{settlement_id}-{prefix}{digest}", accounting_date=day,
                               currency=currency, lines=_journal_lines(lines, foreign, text, originals),
                               description=text, rate=rate, site=site))
    return out
