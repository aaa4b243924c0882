"""Typed errors of the Sage target protocol.

Business errors are permanent for the record (fix the mapping or the ERP, then replay): they go to
the dead-letter table. Transient errors may be retried. An unknown outcome means the write may or
may not have happened: look it up by its reference before sending again.
"""

from __future__ import annotations

from sage_amazon.errors import PermanentError, TransientError


class SageError(Exception):
    """Base class. `reason` is Sage's own message, `refused` what was refused (e.g. "SOH order 111-...")."""

    def __init__(self, reason: str, *, refused: str = "", messages: tuple[str, ...] = ()) -> None:
        self.reason = reason
        self.refused = refused
        self.messages = messages or (reason,)
        super().__init__(f"{refused}: {reason}" if refused else reason)


class SageBusinessError(SageError):
    """Sage refused the record for a business reason (permanent until data or setup changes)."""


class UnknownCustomer(SageBusinessError):
    pass


class UnknownSite(SageBusinessError):
    pass


class UnknownItem(SageBusinessError):
    pass


class UnknownAccount(SageBusinessError):
    pass


class ClosedPeriod(SageBusinessError):
    pass


class UnbalancedJournal(SageBusinessError):
    pass


class MalformedRequest(SageBusinessError):
    """The object sent was not understood (bad XML, wrong field): a connector bug or a schema drift."""


class SageConfigurationError(SageError, PermanentError):
    """Wrong credentials, unknown pool/folder/database: nothing will work until configuration changes."""


class SageTransientError(SageError, TransientError):
    """Pool busy, timeout before sending, connection refused: safe to retry (the connector already did,
    within its retry budget, when it raises this)."""


class SageUnknownOutcome(SageError, TransientError):
    """The request may have been applied (reply lost, timeout after sending): look up before re-sending."""
