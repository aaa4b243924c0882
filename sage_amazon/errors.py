"""The two kinds of failure every flow tells apart, whatever system caused them.

- `TransientError`: a system (Sage X3, Sage 500, SP-API, LWA) stayed unavailable for longer than its
  connector's retry budget (pool busy, timeouts, connection refused, 5xx, throttling). Nothing is lost:
  what was not done stays unposted in the posting ledger and the next attempt resumes it. The
  orchestration layer turns it into one bounded retry (assets/retry.py); it never waits a day.
- `PermanentError`: retrying cannot help until someone changes something (a refused login, a wrong
  pool or folder, a forbidden operation). Never reported as "will retry".

Business refusals of one record (unknown item, closed period, ...) are neither: they are dead letters.
Connector errors subclass these (sage.errors.SageTransientError, amazon.client.SpApiUnavailable, ...),
so a flow catches one type per kind. No dagster here.
"""

from __future__ import annotations


class TransientError(Exception):
    """A system stayed unavailable past its retry budget; retrying later is safe and may succeed."""


class PermanentError(Exception):
    """Retrying cannot help (credentials, configuration, permission) until someone changes something."""


def one_line(exc: BaseException, limit: int = 400) -> str:
    """The error's message on one line (for summaries, metadata and dead letters)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Unfinished(TransientError):
    """A flow stopped early because a system stayed unavailable past its budget. What it did is recorded
    (posting ledger, dead letters); the rest stays unposted and the next attempt resumes it. `result`
    is the flow's partial result (counts for the summary and metadata)."""

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result
