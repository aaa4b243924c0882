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
