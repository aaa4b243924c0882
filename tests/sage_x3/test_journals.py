"""Journals (GACCENTRY through the GAS publication) and credit notes (SIH), both layouts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from sage_amazon.sage.errors import (
    ClosedPeriod,
    UnbalancedJournal,
    UnknownAccount,
    UnknownCustomer,
    UnknownSite,
)
from sage_amazon.sage.protocol import CreditNote, CreditNoteLine, Journal, JournalLine


def a_journal(ref: str, when: date = date(2026, 11, 15), **changes) -> Journal:
    values = dict(
        reference=ref, accounting_date=when, currency="GBP", site="US01", rate=Decimal("1.25"),
        description="Amazon settlement & fees",
        lines=(JournalLine("1210", debit=Decimal("80.10"), description="Amazon clearing", reference="S-1"),
               JournalLine("6100", debit=Decimal("19.89"), description="Referral fees"),
               JournalLine("4000", credit=Decimal("99.99"), description="Product sales", tax_code="GB20")),
    )
    values.update(changes)
    return Journal(**values)


def test_journal_is_posted_once_with_signed_lines(x3, target, order_ref):
    ref = f"AMZ-{order_ref}"
    first = target.post_journal(a_journal(ref))
    again = target.post_journal(a_journal(ref))

    assert first.created and not again.created and again.document_number == first.document_number
    assert target.find_journal(ref) == first.document_number
    [head] = x3.rows("GACCENTRY", REF=ref)
    assert (head["NUM_0"], head["CUR_0"], head["RATMLT_0"], head["ACCDAT_0"]) == (
        first.document_number, "GBP", Decimal("1.25"), date(2026, 11, 15))
    assert head["DESVCR_0"] == "Amazon settlement & fees"
    lines = x3.rows("GACCENTRYD", NUM=first.document_number)
    assert [(ln["ACC_0"], ln["SNS_0"], ln["AMTCUR_0"], ln["AMTLED_0"]) for ln in lines] == [
        ("1210", 1, Decimal("80.10"), Decimal("100.13")),
        ("6100", 1, Decimal("19.89"), Decimal("24.86")),
        ("4000", -1, Decimal("99.99"), Decimal("124.99")),
    ]
    assert all(ln["AMTCUR_0"] > 0 for ln in lines)
    assert sum(ln["AMTCUR_0"] * ln["SNS_0"] for ln in lines) == 0


def test_ledger_amounts_given_by_the_caller_are_kept(x3, target, order_ref):
    journal = a_journal(f"AMZ-L{order_ref}", lines=(
        JournalLine("1210", debit=Decimal("10.00"), ledger_debit=Decimal("12.51")),
        JournalLine("4000", credit=Decimal("10.00"), ledger_credit=Decimal("12.51"))))
    number = target.post_journal(journal).document_number
    assert [ln["AMTLED_0"] for ln in x3.rows("GACCENTRYD", NUM=number)] == [Decimal("12.51")] * 2


def test_journal_after_a_lost_reply_is_adopted(x3, target, order_ref):
    ref = f"AMZ-X{order_ref}"
    target.description("GAS")
    x3.faults.lose_replies = 1
    result = target.post_journal(a_journal(ref))
    assert not result.created
    assert len(x3.rows("GACCENTRY", REF=ref)) == 1


def test_closed_period_refuses_then_posts_after_reopening(x3, target, order_ref):
    ref = f"AMZ-C{order_ref}"
    with pytest.raises(ClosedPeriod) as info:  # 2025-06 is seeded closed
        target.post_journal(a_journal(ref, when=date(2025, 6, 30)))
    assert "20250630" in info.value.reason and ref in str(info.value)
    x3.reopen_period(2025, 6)
    try:
        assert target.post_journal(a_journal(ref, when=date(2025, 6, 30))).created
    finally:
        x3.close_period(2025, 6)
    with pytest.raises(ClosedPeriod, match="not open"):  # outside the fiscal calendar
        target.post_journal(a_journal(ref + "-old", when=date(2024, 12, 31)))


def test_unbalanced_journal_is_refused(x3, target, order_ref):
    ref = f"AMZ-U{order_ref}"
    journal = a_journal(ref, lines=(JournalLine("1210", debit=Decimal("10.00")),
                                    JournalLine("4000", credit=Decimal("9.99"))))
    with pytest.raises(UnbalancedJournal, match="10.00"):
        target.post_journal(journal)
    assert x3.rows("GACCENTRY", REF=ref) == []


def test_unknown_account_and_site_are_refused(x3, target, order_ref):
    ref = f"AMZ-A{order_ref}"
    with pytest.raises(UnknownAccount, match="9999"):
        target.post_journal(a_journal(ref, lines=(JournalLine("9999", debit=Decimal("1")),
                                                  JournalLine("4000", credit=Decimal("1")))))
    with pytest.raises(UnknownSite, match="ZZ01"):
        target.post_journal(a_journal(ref, site="ZZ01"))
    assert x3.rows("GACCENTRY", REF=ref) == []


def a_note(ref: str, **changes) -> CreditNote:
    values = dict(reference=ref, customer="AMZDE", site="DE01", currency="EUR", document_date=date(2026, 11, 18),
                  lines=(CreditNoteLine("NW-PAD-UL", Decimal("1"), Decimal("52.93"), "Return & refund"),),
                  original_order_ref="303-1234567-7654321")
    values.update(changes)
    return CreditNote(**values)


def test_credit_note_is_created_once(x3, target, order_ref):
    ref = f"RF-{order_ref}"
    first = target.create_credit_note(a_note(ref))
    again = target.create_credit_note(a_note(ref))
    assert first.created and not again.created and again.document_number == first.document_number
    [head] = x3.rows("SINVOICE", INVREF=ref)
    assert (head["SIVTYP_0"], head["SNS_0"], head["AMTNOT_0"], head["BPCINV_0"]) == ("CRN", -1, Decimal("52.93"),
                                                                                      "AMZDE")
    [line] = x3.rows("SINVOICED", NUM=first.document_number)
    assert (line["ITMREF_0"], line["ITMDES1_0"]) == ("NW-PAD-UL", "Return & refund")


def test_credit_note_refusals(x3, target, order_ref):
    with pytest.raises(ClosedPeriod):
        target.create_credit_note(a_note(f"RF-C{order_ref}", document_date=date(2025, 6, 3)))
    with pytest.raises(UnknownCustomer):
        target.create_credit_note(a_note(f"RF-U{order_ref}", customer="NOBODY"))


def test_reference_longer_than_the_x3_field_is_refused_before_sending(x3, target):
    from sage_amazon.sage.errors import MalformedRequest

    ref = "AMZ-" + "9" * 30
    with pytest.raises(MalformedRequest, match="REF"):
        target.post_journal(a_journal(ref))
    assert x3.rows("GACCENTRY", REF=ref[:30]) == []
