"""Sage 500's field widths are applied by its writer: a GL line's comment (tglPosting.PostCmnt, varchar 50) gets
the first 50 characters of the whole description the warehouse keeps."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import text

from sage_amazon.sage.protocol import Journal, JournalLine
from sage_amazon.sage.sage500.ledger import POST_CMNT_WIDTH

LONG = "AMZ 90000000020 US inventory reimbursement, reversal of 2026-09"  # 62 characters


def test_a_long_line_description_is_cut_to_post_cmnt_when_posted(target):
    assert POST_CMNT_WIDTH == 50 < len(LONG)
    journal = Journal("AMZ-66666666666-202610", date(2026, 10, 31), "USD", (
        JournalLine("6100", debit=Decimal("5.00"), description=LONG),
        JournalLine("4000", credit=Decimal("5.00"), description="AMZ 66666666666 sales")))
    batch = target.post_journal(journal).document_number
    with target.engine.connect() as conn:
        comments = conn.execute(text(
            "SELECT t.PostCmnt FROM tglTransaction t JOIN tciBatchLog b ON b.BatchKey = t.BatchKey "
            "WHERE b.BatchID = :b ORDER BY t.GLTranKey"), {"b": batch}).scalars().all()
    assert comments == [LONG[:50], "AMZ 66666666666 sales"]


def test_a_credit_note_line_description_is_cut_to_its_column_when_posted(target):
    from sage_amazon.sage.protocol import CreditNote, CreditNoteLine
    from sage_amazon.sage.sage500.ledger import LINE_DESCRIPTION_WIDTH

    refund = "Amazon refund 111-2222222-3333333, shipping and gift wrap"  # whole, as the product holds it
    assert LINE_DESCRIPTION_WIDTH == 40 < len(refund)
    note = CreditNote("AMZ-RF-W-1", "AMZUS", "US01", "USD", date(2026, 11, 3),
                      (CreditNoteLine("NW-PAD-UL", Decimal("1"), Decimal("59.99"), refund),),
                      original_order_ref="111-2222222-3333333")
    assert target.create_credit_note(note).created
    with target.engine.connect() as conn:
        descriptions = conn.execute(text(
            "SELECT d.Description FROM tarInvoiceDetl d JOIN tarInvoice i ON i.InvcKey = d.InvcKey "
            "WHERE i.TranCmnt = :r"), {"r": note.reference}).scalars().all()
    assert descriptions == [refund[:LINE_DESCRIPTION_WIDTH]]
