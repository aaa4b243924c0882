"""Post a settlement's journals to Sage once per settlement and period.

Each journal is keyed by its reference (AMZ-<settlement id>-<YYYYMM>) in the posting ledger:
'sending' is committed before Sage is called; a leftover 'sending' (crash, lost reply) is resolved by
asking Sage for the reference before anything is sent again. Business refusals (closed fiscal period,
unknown account, unbalanced) go to the dead-letter table with their reason and the journal as
payload; the next run retries them (a closed period posts once it is reopened) and resolves the
letter. When Sage stays unavailable past the connector's retry budget (a TransientError), posting
stops: the remaining journals are reported in `transient` (not attempted) and the step is retried by
the one retry policy. A refused login or a wrong pool (a PermanentError) is raised at once, never
reported as something that "will retry".

The warehouse is opened in short write sessions (`open_write`), never held while Sage works.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sage_amazon import deadletters, posting_ledger
from sage_amazon.errors import one_line
from sage_amazon.ledger.reclass import is_correction, open_day, remember
from sage_amazon.ledger.settlements import FLOW, journal_digest, journal_payload, journals
from sage_amazon.sage import errors
from sage_amazon.sage.protocol import Journal, SageTarget

log = logging.getLogger(__name__)


@dataclass
class PostingReport:
    """What one posting did. `stopped` is the one line of why it stopped early (Sage unavailable), or ""."""

    settlement_id: str
    posted: dict[str, str] = field(default_factory=dict)  # reference -> Sage document number (this run)
    already: dict[str, str] = field(default_factory=dict)  # posted by an earlier run
    adopted: dict[str, str] = field(default_factory=dict)  # found in Sage after an unknown outcome
    dead_letters: dict[str, str] = field(default_factory=dict)  # reference -> reason
    transient: dict[str, str] = field(default_factory=dict)
    credit_notes: dict[str, str] = field(default_factory=dict)  # reference -> Sage number (documents mode)
    applied: int = 0  # AR applications made for the settlement's orders (targets keeping AR documents per order)
    stopped: str = ""

    @property
    def all_posted(self) -> bool:
        return not self.dead_letters and not self.transient

    def numbers(self) -> dict[str, str]:
        return {**self.already, **self.adopted, **self.posted}


# Dead letters of journals and credit notes share one flow, keyed "<settlement id>:<reference>", so
# `sage-amazon deadletter replay` re-runs the settlement partition named before the colon.
DEAD_LETTER_FLOW = "settlement"


def letter_key(settlement_id: str, reference: str) -> str:
    return f"{settlement_id}:{reference}"


def _reason(exc: errors.SageError) -> str:
    if isinstance(exc, errors.ClosedPeriod):
        return f"closed fiscal period: {exc.reason}"
    return f"{type(exc).__name__}: {exc.reason}"


def post_settlement(open_write: Callable[[], AbstractContextManager], target: SageTarget,
                    settlement_id: str, only: list[Journal] | None = None,
                    documents: str = "journal_only", target_name: str | None = None) -> PostingReport:
    report = PostingReport(settlement_id)
    _post_journals(open_write, target, settlement_id, only, report)
    if documents == "credit_notes" and not report.stopped:
        _post_credit_notes(open_write, target, settlement_id, target_name or getattr(target, "name", ""), report)
    apply = getattr(target, "apply_open_items", None)  # Sage 500: AR memos applied to invoices per order
    if apply is not None and not report.stopped and report.numbers():
        _apply_open_items(open_write, apply, settlement_id, report)
    return report


def _apply_open_items(open_write, apply: Callable[[list[str]], int], settlement_id: str,
                      report: PostingReport) -> None:
    """The settlement's orders: what Sage invoiced after the settlement was posted (or a credit note made since)
    is applied now; nothing moves when nothing is open on both sides. Sage unavailable: the next run does it."""
    with open_write() as con:
        orders = [r[0] for r in con.execute(
            "SELECT DISTINCT order_id FROM raw.settlement_lines WHERE settlement_id = ? AND coalesce(order_id, '') <> ''"
            " ORDER BY 1", [settlement_id]).fetchall()]
    try:
        report.applied = apply(orders)
    except (errors.SageTransientError, errors.SageUnknownOutcome) as exc:  # retried with the step
        report.transient["applications"] = f"open items not applied: {one_line(exc)}"
    except errors.SageError as exc:  # the postings stand; the open items stay open and visible in Sage
        log.warning("settlement %s: Sage did not apply the orders' open items: %s", settlement_id, one_line(exc))


def _post_credit_notes(open_write, target: SageTarget, settlement_id: str, target_name: str,
                       report: PostingReport) -> None:
    """Credit notes for the settlement's refunds; Sage's create is idempotent per reference."""
    from sage_amazon.ledger import documents

    with open_write() as con:
        has_refunds = con.execute(
            "SELECT count(*) FROM raw.settlement_lines WHERE settlement_id = ? AND transaction_type ILIKE '%refund%'",
            [settlement_id]).fetchone()[0]
        if not has_refunds:
            return
    try:
        items = {item.code for item in target.read_items()}
    except errors.SageConfigurationError:
        raise
    except errors.SageError as exc:
        report.transient["credit notes"] = f"could not read the item master: {exc}"
        report.stopped = report.stopped or one_line(exc)
        return
    with open_write() as con:
        planned = documents.plan(con, settlement_id, target_name, items)
        state = {p.reference: posting_ledger.get(con, documents.FLOW, p.reference) for p in planned}
    for item in planned:
        ref, entry = item.reference, state[item.reference]
        if entry is not None and entry.status == posting_ledger.POSTED:
            report.credit_notes[ref] = entry.sage_number or ""
            continue
        if report.stopped:
            report.transient[ref] = "not attempted: Sage unavailable"
            continue
        if item.note is None:
            with open_write() as con:
                deadletters.record(con, DEAD_LETTER_FLOW, letter_key(settlement_id, ref), item.problem, item.payload)
            report.dead_letters[ref] = item.problem
            continue
        with open_write() as con:
            posting_ledger.start(con, documents.FLOW, ref, posting_ledger.payload_hash(item.note))
        try:
            result = target.create_debit_note(item.note) if item.debit else target.create_credit_note(item.note)
        except errors.SageBusinessError as exc:
            with open_write() as con:
                posting_ledger.failed(con, documents.FLOW, ref, _reason(exc))
                deadletters.record(con, DEAD_LETTER_FLOW, letter_key(settlement_id, ref), _reason(exc),
                                   journal_payload(item.note))
            report.dead_letters[ref] = _reason(exc)
            continue
        except errors.SageConfigurationError as exc:
            with open_write() as con:
                posting_ledger.failed(con, documents.FLOW, ref, f"not sent: {one_line(exc)}")
            raise
        except errors.SageError as exc:  # transient or unknown outcome: create is idempotent, retry later
            report.transient[ref] = str(exc)
            if isinstance(exc, errors.SageTransientError):
                report.stopped = report.stopped or one_line(exc)
            continue
        with open_write() as con:
            posting_ledger.posted(con, documents.FLOW, ref, result.document_number)
            deadletters.resolve(con, DEAD_LETTER_FLOW, letter_key(settlement_id, ref))
        report.credit_notes[ref] = result.document_number


def _post_journals(open_write, target: SageTarget, settlement_id: str, only: list[Journal] | None,
                   report: PostingReport) -> None:
    with open_write() as con:
        posting_ledger.bind(con, target)  # another Sage than last time: a fresh ledger, never a silent skip
        todo = only if only is not None else journals(con, settlement_id, getattr(target, "name", None))
        state = {j.reference: posting_ledger.get(con, FLOW, j.reference) for j in todo}
    for journal in todo:
        ref = journal.reference
        entry = state[ref]
        if entry is not None and entry.status == posting_ledger.POSTED:
            report.already[ref] = entry.sage_number or ""
            continue
        if report.stopped:  # Sage stayed unavailable past the budget: the next attempt resumes here
            report.transient[ref] = "not attempted: Sage unavailable"
            continue
        if is_correction(ref):  # a reclass / reissue journal goes to the first open period (Sage says which)
            try:
                journal = open_day(target, journal)
            except errors.SageTransientError as exc:
                report.transient[ref] = str(exc)
                report.stopped = one_line(exc)
                continue
        if entry is not None:
            # an earlier attempt: its outcome may be unknown, so ask Sage before sending again
            try:
                number = target.find_journal(ref)
            except errors.SageTransientError as exc:
                report.transient[ref] = str(exc)
                report.stopped = one_line(exc)
                continue
            if number:
                with open_write() as con:
                    posting_ledger.posted(con, FLOW, ref, number)
                    deadletters.resolve(con, DEAD_LETTER_FLOW, letter_key(settlement_id, ref))
                    remember(con, journal, settlement_id)  # what is in Sage, for a reclass after a map change
                report.adopted[ref] = number
                continue
        digest = journal_digest(journal)  # a line without a partner hashes as before partners existed
        with open_write() as con:
            posting_ledger.start(con, FLOW, ref, digest)
        try:
            result = target.post_journal(journal)
        except errors.SageBusinessError as exc:
            reason = _reason(exc)
            with open_write() as con:
                posting_ledger.failed(con, FLOW, ref, reason)
                deadletters.record(con, DEAD_LETTER_FLOW, letter_key(settlement_id, ref), reason,
                                   journal_payload(journal))
            report.dead_letters[ref] = reason
            continue
        except errors.SageUnknownOutcome as exc:
            # leave 'sending': the next run asks Sage for the reference first
            report.transient[ref] = f"unknown outcome: {exc}"
            continue
        except errors.SageConfigurationError as exc:  # refused login, wrong pool: permanent, never "will retry"
            with open_write() as con:
                posting_ledger.failed(con, FLOW, ref, f"not sent: {one_line(exc)}")
            raise
        except errors.SageTransientError as exc:  # nothing applied, still down after the connector's budget
            with open_write() as con:
                posting_ledger.failed(con, FLOW, ref, str(exc))
            report.transient[ref] = str(exc)
            report.stopped = one_line(exc)
            continue
        with open_write() as con:
            posting_ledger.posted(con, FLOW, ref, result.document_number)
            deadletters.resolve(con, DEAD_LETTER_FLOW, letter_key(settlement_id, ref))
            remember(con, journal, settlement_id)
        (report.posted if result.created else report.adopted)[ref] = result.document_number


def unposted_settlements(con, settlement_ids: list[str] | None = None) -> list[str]:
    """Settlements landed in the warehouse with at least one journal not posted (or no journals built yet)."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "raw.settlement_reports"):
        return []
    ids = [r[0] for r in con.execute("SELECT settlement_id FROM raw.settlement_reports ORDER BY settlement_id").fetchall()]
    if settlement_ids is not None:
        ids = [i for i in ids if i in set(settlement_ids)]
    if not table_exists(con, "marts.journal_settlement_lines"):
        return ids
    have_ledger = table_exists(con, "ops.posting_ledger")
    out = []
    for sid in ids:
        refs = [r[0] for r in con.execute(
            "SELECT DISTINCT journal_reference FROM marts.journal_settlement_lines WHERE settlement_id = ?",
            [sid]).fetchall()]
        if not refs:
            out.append(sid)
            continue
        if not have_ledger:
            out.append(sid)
            continue
        posted = con.execute(
            f"SELECT count(*) FROM ops.posting_ledger WHERE flow = ? AND status = 'posted' "
            f"AND record_key IN ({', '.join('?' * len(refs))})", [FLOW, *refs]).fetchone()[0]
        if posted < len(refs):
            out.append(sid)
    return out
