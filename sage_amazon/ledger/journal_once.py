"""Post one journal to Sage once, by its reference, for the journals built beside a settlement's own (COGS per
settlement period, the month-end deferred accrual and its reversal).

The posting ledger (ops.posting_ledger, flow given) records 'sending' before Sage is called; an earlier attempt
asks Sage for the reference first and adopts what it finds. A business refusal (closed period, unknown account) is
a dead letter (`letter_flow`, `letter_key`) retried by the next run; an unknown outcome or Sage unavailable is
reported as transient. The warehouse is opened in short sessions, never held while Sage works.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from sage_amazon import deadletters, posting_ledger
from sage_amazon.errors import one_line
from sage_amazon.sage import errors
from sage_amazon.sage.protocol import Journal


@dataclass
class Outcome:
    """What posting some journals did, by reference."""

    posted: dict[str, str] = field(default_factory=dict)  # reference -> Sage number (this run)
    already: dict[str, str] = field(default_factory=dict)  # posted by an earlier run
    adopted: dict[str, str] = field(default_factory=dict)  # found in Sage after an unknown outcome
    dead_letters: dict[str, str] = field(default_factory=dict)  # refused by Sage: reference -> reason
    transient: dict[str, str] = field(default_factory=dict)  # not posted yet: Sage unavailable or unknown outcome

    @property
    def done(self) -> dict[str, str]:
        return {**self.already, **self.adopted, **self.posted}


def post_once(open_write: Callable[[], AbstractContextManager], target: Any, journal: Journal, *, flow: str,
              letter_flow: str, letter_key: str, outcome: Any) -> None:
    """`outcome`: an Outcome, or any object with its five dicts (the COGS report)."""
    from sage_amazon.ledger.settlements import journal_digest

    ref = journal.reference
    with open_write() as con:
        entry = posting_ledger.get(con, flow, ref)
    if entry is not None and entry.status == posting_ledger.POSTED:
        outcome.already[ref] = entry.sage_number or ""
        return
    try:
        number = target.find_journal(ref) if entry is not None else None  # an earlier attempt: ask Sage first
        if number:
            outcome.adopted[ref] = number
        else:
            with open_write() as con:
                posting_ledger.start(con, flow, ref, journal_digest(journal))
            result = target.post_journal(journal)
            number = result.document_number
            (outcome.posted if result.created else outcome.adopted)[ref] = number
    except errors.SageBusinessError as exc:
        reason = f"{type(exc).__name__}: {exc.reason}"
        with open_write() as con:
            posting_ledger.failed(con, flow, ref, reason)
            deadletters.record(con, letter_flow, letter_key, reason,
                               {"reference": ref, "lines": [line.__dict__ for line in journal.lines]})
        outcome.dead_letters[ref] = reason
        return
    except errors.SageUnknownOutcome as exc:  # left 'sending': the next run asks Sage for the reference first
        outcome.transient[ref] = f"unknown outcome: {exc}"
        return
    except errors.SageTransientError as exc:
        with open_write() as con:
            posting_ledger.failed(con, flow, ref, one_line(exc))
        outcome.transient[ref] = one_line(exc)
        return
    with open_write() as con:
        posting_ledger.posted(con, flow, ref, number)
        deadletters.resolve(con, letter_flow, letter_key)
