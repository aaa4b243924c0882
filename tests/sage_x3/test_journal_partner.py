"""Issue 12.2: a journal line on a collective (control) account carries its business partner (GACCENTRYD BPR),
so each marketplace customer's receivable clears in X3; the sandbox refuses such a line without one, as X3 does."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from sage_amazon.ledger import settlements
from sage_amazon.mapping import DEFAULTS_DIR
from sage_amazon.posting_ledger import payload_hash
from sage_amazon.sage.errors import SageBusinessError
from sage_amazon.sage.protocol import Journal, JournalLine

FILES = Path(__file__).parents[1] / "settlements" / "files"


def _journal(ref: str, partner: str) -> Journal:
    return Journal(reference=ref, accounting_date=date(2026, 11, 15), currency="USD", site="US01",
                   description="Amazon settlement", lines=(
                       JournalLine("1210", debit=Decimal("100.00"), description="Amazon clearing"),
                       JournalLine("1100", credit=Decimal("100.00"), description="Receivable", partner=partner)))


def test_a_receivable_line_carries_its_customer(x3, target, order_ref):
    number = target.post_journal(_journal(f"AMZ-BP{order_ref}", "AMZUS")).document_number
    lines = x3.rows("GACCENTRYD", NUM=number)
    assert [(ln["ACC_0"], ln["BPR_0"]) for ln in lines] == [("1210", ""), ("1100", "AMZUS")]


def test_a_control_account_line_without_a_partner_is_refused(x3, target, order_ref):
    with pytest.raises(SageBusinessError, match=r"BPR\(2\) : Mandatory field \(collective account 1100\)"):
        target.post_journal(_journal(f"AMZ-NB{order_ref}", ""))
    with pytest.raises(SageBusinessError, match=r"BPR\(2\) : NOSUCH : Record does not exist"):
        target.post_journal(_journal(f"AMZ-UB{order_ref}", "NOSUCH"))
    assert x3.rows("GACCENTRY", REF=f"AMZ-NB{order_ref}") == []


def test_sage_invoices_journal_lines_to_receivables_name_the_marketplace_customer(tmp_path, monkeypatch):
    data = yaml.safe_load((DEFAULTS_DIR / "accounts.yaml").read_text())
    data.update(revenue="sage_invoices", documents="credit_notes")
    (tmp_path / "accounts.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path))
    p = settlements.preview(FILES / "na-unified.txt", "x3")
    receivable = [ln for j in p.journals for ln in j.lines if ln.account == "1100"]
    others = [ln for j in p.journals for ln in j.lines if ln.account != "1100"]
    assert receivable and {ln.partner for ln in receivable} == {"AMZUS"}  # the USD settlement's customer
    assert {ln.partner for ln in others} == {""}
    assert settlements.receivable_partners("x3")["UK"] == "AMZGB"
    assert settlements.receivable_partners("sage500")["DE"] == "AMZDE"


def test_a_journal_without_partners_keeps_the_digest_it_was_posted_with():
    journal = _journal("AMZ-1", "")
    before = asdict(journal)
    for line in before["lines"]:
        del line["partner"]  # what a journal looked like before partners existed
    assert settlements.journal_digest(journal) == payload_hash(before)
    assert settlements.journal_digest(_journal("AMZ-1", "AMZUS")) != payload_hash(before)
