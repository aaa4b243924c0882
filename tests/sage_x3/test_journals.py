"""Journals (GACCENTRY through the GAS publication), credit and debit notes (SIH), both layouts."""

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


def _sage_invoices_the_order(x3, order_ref: str, sales_order: str) -> str:
    """What X3 itself does with the order (sandbox side, not the connector): a clerk delivers it, X3 invoices the
    delivery (an SIH invoice carrying the Amazon order id, numbered after the connector's documents: X3 invoiced the
    order later), without sales tax."""
    from sage_amazon.sandbox.x3.invoicing import deliver_order, invoice_deliveries

    assert deliver_order(x3.engine, order_ref, date(2026, 11, 21)) == sales_order
    [number] = invoice_deliveries(x3.engine, customer_order_ref=order_ref, sales_tax_rate=Decimal(0))
    return number


def test_debit_note_is_an_invoice_made_once_and_never_taken_for_the_orders_invoice(x3, target, order_ref):
    """Issue 15.2: a refund reversed by a later charge is an SIH sales invoice (INV) of what was charged back, linked
    to the order but naming no origin invoice (X3 takes one on a credit memo only), made once; the order's credit
    notes after it still name the invoice X3 made for the order, never the debit note."""
    from sage_amazon.sage.protocol import SalesOrder, SalesOrderLine

    order = target.create_sales_order(SalesOrder(
        order_ref, "AMZUS", "US01", date(2026, 11, 20), "USD",
        (SalesOrderLine(1, "NW-TENT-2P", Decimal("1"), Decimal("60.00")),))).sage_number
    charged = a_note(f"AMZ-RV-{order_ref}", customer="AMZUS", site="US01", currency="USD",
                     lines=(CreditNoteLine("NW-TENT-2P", Decimal("1"), Decimal("20.00"), "Refund charged back"),),
                     original_order_ref=order_ref, freight=Decimal("3.00"), tax=Decimal("1.84"))
    first = target.create_debit_note(charged)
    again = target.create_debit_note(charged)
    assert first.created and not again.created and again.document_number == first.document_number
    assert first.applied_to == order
    [head] = x3.rows("SINVOICE", INVREF=charged.reference)
    assert (head["NUM_0"], head["SIVTYP_0"], head["SNS_0"], head["AMTATI_0"], head["YAMZORDREF_0"]) == (
        first.document_number, "INV", 1, Decimal("24.84"), order_ref)
    [line] = x3.rows("SINVOICED", NUM=first.document_number)
    assert (line["SOHNUM_0"], line["SIHORINUM_0"]) == (order, "")

    invoice = _sage_invoices_the_order(x3, order_ref, order)
    assert invoice > first.document_number  # the debit note comes first among the order's invoices
    refund = a_note(f"AMZ-RF-{order_ref}", customer="AMZUS", site="US01", currency="USD",
                    lines=(CreditNoteLine("NW-TENT-2P", Decimal("1"), Decimal("20.00")),), original_order_ref=order_ref)
    credit = target.create_credit_note(refund)
    [line] = x3.rows("SINVOICED", NUM=credit.document_number)
    assert credit.applied_to == invoice and line["SIHORINUM_0"] == invoice


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
