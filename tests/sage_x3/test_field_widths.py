"""A Sage field's width is the target writer's business: the warehouse keeps a journal line's whole description,
and X3 gets as much of it as GACCENTRYD DES holds (the LEN its getDescription publishes for the GAS lines)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sage_amazon.sage.protocol import Journal, JournalLine
from sage_amazon.sage.x3.objectxml import build_object

LONG = "AMZ 90000000020 US inventory reimbursement"  # 42 characters, as the journal mart writes it


def test_a_line_description_is_cut_to_the_width_x3_publishes_only_when_it_is_sent(x3, target, order_ref):
    desc = target.description("GAS")
    width = desc.lines.fields["DES"].length
    assert 0 < width < len(LONG)

    sent = build_object(desc, {"REF": "R"}, [(1, {"ACC": "6100", "DES": LONG})])
    assert f">{LONG[:width]}<" in sent and LONG not in sent

    journal = Journal(f"AMZ-W{order_ref}", date(2026, 11, 15), "GBP", (
        JournalLine("6100", debit=Decimal("5.00"), description=LONG),
        JournalLine("1210", credit=Decimal("5.00"), description="AMZ 90000000020 clearing")), site="US01")
    number = target.post_journal(journal).document_number
    assert [ln["DES_0"] for ln in x3.rows("GACCENTRYD", NUM=number)] == [LONG[:width], "AMZ 90000000020 clearing"]
    assert journal.lines[0].description == LONG  # what the product holds is the whole text


def test_a_credit_note_line_and_a_journal_header_are_cut_by_the_writer_only(x3, target, order_ref):
    from sage_amazon.sage.protocol import CreditNote, CreditNoteLine

    refund = "Amazon refund 303-1234567-7654321"  # 33 characters, as ledger/documents.py makes it
    line_width = target.description("SIH").lines.fields["ITMDES1"].length
    assert 0 < line_width < len(refund)
    note = CreditNote(f"RW-{order_ref}", "AMZDE", "DE01", "EUR", date(2026, 11, 18),
                      (CreditNoteLine("NW-PAD-UL", Decimal("1"), Decimal("52.93"), refund),),
                      original_order_ref="303-1234567-7654321")
    number = target.create_credit_note(note).document_number
    assert [ln["ITMDES1_0"] for ln in x3.rows("SINVOICED", NUM=number)] == [refund[:line_width]]
    assert note.lines[0].description == refund

    header = f"AMZ 90000000020 {LONG}"  # a journal's own description, whole in the product
    head_width = target.description("GAS").header_group("DESVCR").fields["DESVCR"].length
    assert 0 < head_width < len(header)
    journal = Journal(f"AMZ-H{order_ref}", date(2026, 11, 15), "GBP", (
        JournalLine("6100", debit=Decimal("5.00"), description="AMZ 90000000020 fees"),
        JournalLine("1210", credit=Decimal("5.00"), description="AMZ 90000000020 clearing")),
        description=header, site="US01")
    number = target.post_journal(journal).document_number
    [head] = x3.rows("GACCENTRY", NUM=number)
    assert head["DESVCR_0"] == header[:head_width]


def test_a_stock_movement_description_is_whole_until_x3_gets_it(target):
    from sage_amazon.inventory.adjust import Adjustment

    adjustment = Adjustment(date(2026, 11, 15), "FBAUS", "NW-TENT-2P", Decimal("2"), "FBA", 5)
    assert adjustment.description == "Amazon FBA 2026-11-15 NW-TENT-2P"  # 32 characters, whole
    target.publications.setdefault("SMR", "SMR")
    desc = target.description("SMR")
    width = desc.header_group("VCRDES").fields["VCRDES"].length
    assert 0 < width < len(adjustment.description)
    sent = build_object(desc, {"VCRDES": adjustment.description})
    assert f">{adjustment.description[:width]}<" in sent and adjustment.description not in sent
