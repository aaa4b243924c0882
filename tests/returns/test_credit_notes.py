"""(b) refunds -> Sage credit notes on both ERPs: none with `revenue: settlement` (the settlement journal carries
refunds) nor with `documents: journal_only`; with `revenue: sage_invoices` and `documents: credit_notes` one per
refund, once, or a dead letter with its reason (refund larger than the order, unmapped SKU); a refund reversed by a
later charge is charged back to the customer once with an invoice of the reversed amount (X3 SIH of type INV, Sage 500
AR invoice)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from sage_amazon.returns import credit_notes
from tests.metadata import by_partition, summed
from tests.returns.conftest import REFERENCE, materialize, query

PATH = [*REFERENCE, "sage_refund_credit_notes"]  # on the landed warehouse (conftest)


def _note_in_sage(target, reference: str) -> list[tuple]:
    """(number, customer, total, kind) of every document Sage holds under `reference`; kind "credit" (X3 SIVTYP CRN,
    Sage 500 TranType 502) or "invoice" (X3 INV, Sage 500 501)."""
    kinds = {"CRN": "credit", "INV": "invoice", 502: "credit", 501: "invoice"}
    if target.name == "x3":
        from sage_amazon.sage.x3.rest import quote_literal

        return [(r["NUM"], r.get("BPCINV"), Decimal(str(r["AMTATI"])), kinds.get(r.get("SIVTYP"))) for r in
                target.rest.query("SINVOICE", where=f"INVREF eq {quote_literal(reference)}", count=5)]
    from sqlalchemy import text

    with target._tx() as conn:
        return [(*r[:3], kinds.get(r[3])) for r in conn.execute(text(
            "SELECT i.TranNo, c.CustID, i.TranAmt, i.TranType FROM tarInvoice i JOIN tarCustomer c "
            "ON c.CustKey = i.CustKey WHERE i.TranCmnt = :r"), {"r": reference}).all()]


def test_settlement_mode_makes_no_credit_note(erp_env, amazon) -> None:
    result = materialize(erp_env, ["sage_refund_credit_notes"])
    assert all(md["revenue"] == "settlement" and md["posted"] == 0
               for md in by_partition(result, "sage_refund_credit_notes").values())
    assert query(erp_env, "SELECT count(*) FROM raw.amazon_refund_transactions")[0][0] >= 10


def test_invoice_mode_one_credit_note_per_refund_once(erp_env, amazon, monkeypatch) -> None:
    monkeypatch.setattr(credit_notes, "revenue_source", lambda: "sage_invoices")
    materialize(erp_env, PATH[:-1])
    # documents: journal_only (the shipped default): the settlement journal posts refunds to the refunds account,
    # a note would count them twice: none is made, and the asset says why
    md = by_partition(materialize(erp_env, ["sage_refund_credit_notes"]), "sage_refund_credit_notes")
    assert all(m["posted"] == 0 and "count them twice" in m["why_no_credit_notes"] for m in md.values())
    monkeypatch.setattr(credit_notes, "documents_mode", lambda: "credit_notes")
    with erp_env["warehouse"].write() as con:  # a refund reversed by a later charge, and an oversized refund
        [tid] = con.execute("SELECT transaction_id FROM raw.amazon_refund_transactions ORDER BY posted_at LIMIT 1"
                            ).fetchone()
        con.execute("INSERT INTO raw.amazon_refund_transactions SELECT posted_date, posted_at, 'REV-1', "
                    "'Order_Retrocharge', transaction_status, description, marketplace_id, amazon_order_id, '', "
                    "settlement_id, financial_event_group_id, currency, -total_amount, extracted_at "
                    "FROM raw.amazon_refund_transactions WHERE transaction_id = ?", [tid])
        con.execute("INSERT INTO raw.amazon_refund_items SELECT 'REV-1', line_no, posted_date, amazon_order_id, "
                    "marketplace_id, sku, asin, quantity, fulfillment_network, adjustment_item_id, currency, "
                    "-item_total, -principal, -shipping, -gift_wrap, -tax, -promotion, -withheld_tax, -fees, -other, "
                    "breakdowns FROM raw.amazon_refund_items WHERE transaction_id = ?", [tid])
        big = con.execute("SELECT transaction_id FROM raw.amazon_refund_transactions WHERE transaction_id <> ? "
                          "ORDER BY posted_at DESC LIMIT 1", [tid]).fetchone()[0]
        con.execute("UPDATE raw.amazon_refund_items SET principal = principal * 100 WHERE transaction_id = ?", [big])
    result = materialize(erp_env, ["sage_refund_credit_notes"])
    refunds = query(erp_env, "SELECT transaction_id, refund_id, amazon_order_id FROM raw.amazon_refund_transactions")
    ledger = dict(query(erp_env, "SELECT record_key, status FROM ops.posting_ledger WHERE flow = ?",
                        [credit_notes.FLOW]))
    letters = dict(query(erp_env, "SELECT record_key, reason FROM ops.dead_letters WHERE flow = ? "
                                  "AND resolved_at IS NULL", [credit_notes.FLOW]))
    assert all(ledger.get(t) == "posted" or t in letters for t, _, _ in refunds)  # every refund: a note or a letter
    # charged back on both ERPs: an invoice of what the reversal charges, the refund's note stands
    assert ledger["REV-1"] == "posted" and "REV-1" not in letters
    assert "is larger than order" in letters[big]
    posted = [(t, r) for t, r, _ in refunds if ledger.get(t) == "posted" and t != "REV-1"]
    assert len(posted) + 1 == summed(result, "sage_refund_credit_notes", "posted") >= 9
    # each day's partition counts the refunds posted on its day
    days = dict(query(erp_env, "SELECT transaction_id, CAST(posted_date AS VARCHAR) FROM raw.amazon_refund_transactions"))
    noted = Counter(days[t] for t, status in ledger.items() if status == "posted")
    per_day = by_partition(result, "sage_refund_credit_notes")
    assert len(noted) >= 2 and {d: md["posted"] for d, md in per_day.items() if md["posted"]} == dict(noted)
    refunded = dict(query(erp_env, "SELECT transaction_id, -sum(principal + shipping + gift_wrap + tax + promotion) "
                                   "FROM raw.amazon_refund_items GROUP BY ALL"))
    reversed_tid = tid
    target = erp_env["sage"].get_target()
    try:
        for tid, refund_id in posted:  # each note in Sage credits what Amazon refunded, to the cent
            [(number, customer, total, kind)] = _note_in_sage(target, f"AMZ-RF-{refund_id}")
            assert number and customer.startswith("AMZ") and total == refunded[tid], (tid, total, refunded[tid])
            assert kind == "credit"
        # the reversal: one invoice (X3 SIH INV, Sage 500 AR invoice) of what was charged back
        [(number, customer, total, kind)] = _note_in_sage(target, "AMZ-RV-REV-1")
        assert number and customer.startswith("AMZ") and kind == "invoice"
        assert total == refunded[reversed_tid] == -refunded["REV-1"]
    finally:
        getattr(target, "close", lambda: None)()
    again = materialize(erp_env, ["sage_refund_credit_notes"])
    assert summed(again, "sage_refund_credit_notes", "posted") == 0
    assert summed(again, "sage_refund_credit_notes", "already_posted") == len(posted) + 1
