"""The references of a refund's documents in Sage, one module of their own: the tie-out reads them in SQL and the
credit-note flow writes them (neither imports the other for it)."""

from __future__ import annotations

REFUND_REFERENCE_CHARS = 30


def refund_reference(refund_id: str) -> str:
    """`AMZ-RF-<refund id>`: the one reference of a refund's credit note, for this flow and the settlement's
    `credit_notes` documents alike. It is an identity (the posting ledger's key, looked up in Sage before any
    send: X3 SINVOICE INVREF, Sage 500 tarInvoice TranCmnt), not a text a target may cut: it keeps the 30 characters
    it has always had (X3's INVREF width in the sandbox's SIH), so notes already in Sage are found again under
    the reference they were written with. An Amazon refund id is 14 digits (19 for an order id): it fits whole."""
    return f"AMZ-RF-{refund_id}"[:REFUND_REFERENCE_CHARS]


def reversal_reference(refund_id: str) -> str:
    """`AMZ-RV-<refund id>`: the one reference of the debit note (Sage 500: an AR invoice) that charges a reversed
    refund back to the customer, for this flow and the settlement's documents alike (see refund_reference)."""
    return f"AMZ-RV-{refund_id}"[:REFUND_REFERENCE_CHARS]
