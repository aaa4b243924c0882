"""Credit notes for refunds, when the account map asks for them (`documents: credit_notes`).

Default (`journal_only`): refunds are journal lines on the refunds account and no document is made.
With `credit_notes`: every refund of a settlement (one per Amazon adjustment, lines per SKU at the
refunded principal) becomes a Sage credit note for the marketplace's customer (marketplaces.yaml),
and the settlement journal posts the refunded principal to the receivables account instead, so the
credit note and the settlement clear each other in receivables. With `revenue: sage_invoices` the journal sends
every refunded amount to receivables, so the note carries them all (promotion taken back as line discounts,
shipping and gift wrap as freight, tax), like the returns flow's note of the same refund (same reference). Invoices for orders stay with the
orders flow (Sage invoices its sales orders); the settlement never duplicates them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sage_amazon.money import cents
from sage_amazon.returns.references import refund_reference, reversal_reference
from sage_amazon.sage.protocol import CreditNote, CreditNoteLine

JOURNAL_ONLY, CREDIT_NOTES = "journal_only", "credit_notes"
MODES = (JOURNAL_ONLY, CREDIT_NOTES)
FLOW = "settlement_credit_note"


@dataclass(frozen=True)
class Planned:
    reference: str
    note: CreditNote | None
    problem: str = ""  # why no credit note can be made (unknown customer, unmapped SKU): a dead letter
    payload: dict | None = None
    debit: bool = False  # a refund reversed by a later charge: the note is charged back (target.create_debit_note)


def _customer(settlement_marketplace_name: str, currency: str, target: str) -> dict[str, str] | None:
    from sage_amazon.mapping.orders import marketplace_rows

    rows = marketplace_rows(target)
    name = (settlement_marketplace_name or "").lower().removeprefix("www.")
    for row in rows:
        if row["sales_channel"].lower().removeprefix("www.") == name and row["customer"]:
            return row
    same_currency = [r for r in rows if r["currency"] == currency and r["customer"]]
    return same_currency[0] if len(same_currency) == 1 else None


_FULL = """
    SELECT l.order_id, coalesce(l.adjustment_id, l.order_id) AS ref, l.sku,
           max(abs(coalesce(l.quantity_purchased, 1))) AS qty,
           coalesce(sum(l.amount) FILTER (WHERE l.amount_type = 'ItemPrice' AND l.amount_description NOT IN
               ('Shipping', 'GiftWrap', 'Tax', 'ShippingTax', 'GiftWrapTax')), 0) AS principal,
           coalesce(sum(l.amount) FILTER (WHERE l.amount_type = 'ItemPrice' AND l.amount_description = 'Shipping'), 0),
           coalesce(sum(l.amount) FILTER (WHERE l.amount_type = 'ItemPrice' AND l.amount_description = 'GiftWrap'), 0),
           coalesce(sum(l.amount) FILTER (WHERE l.amount_type = 'ItemPrice'
               AND l.amount_description IN ('Tax', 'ShippingTax', 'GiftWrapTax')), 0),
           coalesce(sum(l.amount) FILTER (WHERE l.amount_type = 'Promotion'), 0),
           min(l.posted_date) AS day, any_value(r.currency),
           any_value(coalesce(lower(l.marketplace_name), r.marketplace_name))
    FROM raw.settlement_lines l JOIN raw.settlement_reports r USING (settlement_id)
    WHERE l.settlement_id = ? AND l.transaction_type ILIKE '%refund%' AND l.amount_type IN ('ItemPrice', 'Promotion')
    GROUP BY ALL HAVING sum(l.amount) <> 0 ORDER BY ref, l.sku"""


def plan(con, settlement_id: str, target: str, sage_items: set[str] | None,
         full: bool | None = None) -> list[Planned]:
    """The credit notes a settlement's refunds call for (nothing if the map says journal_only). `full` (default: with
    `revenue: sage_invoices`, where the journal sends every refunded amount to receivables): the note carries the
    refunded principal, the promotion taken back, shipping, gift wrap and tax, as the returns flow's notes do;
    otherwise the refunded principal only (the only part the journal sends to receivables). With full notes, a refund
    reversed by a later charge is the debit note of what was charged back (AMZ-RV-<refund>, target.create_debit_note),
    planned after the credit notes and never beyond what the order's credit notes leave to reverse (else a dead
    letter)."""
    from sage_amazon.mapping.orders import map_sku, sku_rules

    if full is None:
        from sage_amazon.mapping.accounts import load

        full = load().revenue == "sage_invoices"
    if full:
        return _plan_full(con, settlement_id, target, sage_items)
    rows = con.execute(
        """SELECT l.order_id, coalesce(l.adjustment_id, l.order_id) AS ref, l.sku,
                  max(abs(coalesce(l.quantity_purchased, 1))) AS qty, -sum(l.amount) AS principal,
                  min(l.posted_date) AS day, any_value(r.currency),
                  any_value(coalesce(lower(l.marketplace_name), r.marketplace_name))
           FROM raw.settlement_lines l JOIN raw.settlement_reports r USING (settlement_id)
           WHERE l.settlement_id = ? AND l.transaction_type ILIKE '%refund%'
             AND l.amount_type = 'ItemPrice' AND l.amount_description = 'Principal'
           GROUP BY ALL HAVING sum(l.amount) <> 0 ORDER BY ref, l.sku""", [settlement_id]).fetchall()
    by_ref: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        by_ref[row[1]].append(row)
    rules = sku_rules(target)
    out: list[Planned] = []
    for ref, lines in by_ref.items():
        # a refund's transaction charging principal back (a reversal by a later charge): the journal debits
        # receivables, so the note is a debit note of that principal under its own reference, never the refund's
        debit = sum(Decimal(r[4]) for r in lines) < 0
        reference = reversal_reference(ref) if debit else refund_reference(ref)
        order_id, currency, market_name, day = lines[0][0], lines[0][6], lines[0][7], min(r[5] for r in lines)
        payload = {"settlement_id": settlement_id, "order_id": order_id, "refund": ref,
                   "lines": [{"sku": r[2], "qty": int(r[3]), "principal": str(r[4])} for r in lines]}
        customer = _customer(market_name, currency, target)
        if customer is None:
            out.append(Planned(reference, None, f"no Sage customer for marketplace {market_name!r} in "
                                                f"marketplaces.yaml ({target})", payload, debit=debit))
            continue
        if any((Decimal(r[4]) < 0) != debit for r in lines if Decimal(r[4])):
            out.append(Planned(reference, None, f"refund {ref} on order {order_id} both refunds and charges back "
                                                "principal: settle it in Sage by hand", payload, debit=debit))
            continue
        note_lines, missing = [], []
        for _, _, sku, qty, principal, *_ in lines:
            item, _rule = map_sku(sku or "", sage_items, rules)
            if item is None:
                missing.append(sku or "(no sku)")
                continue
            qty, principal = Decimal(int(qty) or 1), abs(Decimal(principal))
            unit = principal / qty
            if cents(unit) * qty != principal:  # not evenly divisible: one line at the refunded total
                qty, unit = Decimal(1), principal
            note_lines.append(CreditNoteLine(item=item, quantity=qty, net_price=cents(unit),
                                             description=f"Amazon refund {order_id}"))
        if missing:
            out.append(Planned(reference, None, f"SKU(s) {', '.join(missing)} have no Sage item (skus.yaml)",
                               payload, debit=debit))
            continue
        out.append(Planned(reference, CreditNote(
            reference=reference, customer=customer["customer"], site=customer["site"], currency=currency,
            document_date=day, lines=tuple(note_lines), original_order_ref=order_id or ""), "", payload,
            debit=debit))
    return out


def _plan_full(con, settlement_id: str, target: str, sage_items: set[str] | None) -> list[Planned]:
    from sage_amazon.mapping.orders import sku_rules
    from sage_amazon.returns.credit_notes import refund_note

    by_ref: dict[str, list[tuple]] = defaultdict(list)
    for row in con.execute(_FULL, [settlement_id]).fetchall():
        by_ref[row[1]].append(row)
    rules = sku_rules(target)
    out: list[Planned] = []
    reversals: list[tuple] = []
    for ref, lines in by_ref.items():
        reference = refund_reference(ref)
        order_id, day, currency, market_name = lines[0][0], min(r[9] for r in lines), lines[0][10], lines[0][11]
        items = [(r[2], r[3], *(Decimal(x) for x in r[4:9])) for r in lines]
        refunded = -sum((sum(i[2:], Decimal("0")) for i in items), Decimal("0"))
        payload = {"settlement_id": settlement_id, "order_id": order_id, "refund": ref, "lines": [
            {"sku": i[0], "qty": int(i[1]), **{k: str(v) for k, v in zip(
                ("principal", "shipping", "gift_wrap", "tax", "promotion"), i[2:], strict=True)}} for i in items]}
        customer = _customer(market_name, currency, target)
        if customer is None:
            out.append(Planned(reference, None, f"no Sage customer for marketplace {market_name!r} in "
                                                f"marketplaces.yaml ({target})", payload))
            continue
        if refunded < 0:
            reversals.append((ref, order_id, day, currency, customer, items, payload, -refunded))
            continue
        if refunded == 0:
            out.append(Planned(reference, None, f"refund {ref} on order {order_id} credits nothing ({refunded}): "
                                                "no credit note", payload))
            continue
        note, problem = refund_note(reference, customer, currency, day, items, sage_items, rules, order_id, refunded)
        out.append(Planned(reference, note, problem, payload))
    if reversals:
        out += _plan_reversals(con, reversals, out, sage_items, rules)
    return out


def _plan_reversals(con, reversals: list[tuple], credits: list[Planned], sage_items: set[str] | None,
                    rules) -> list[Planned]:
    """Debit notes of the settlement's refunds reversed by a later charge (see plan), after its credit notes."""
    from sage_amazon import posting_ledger
    from sage_amazon.returns.credit_notes import credit_left, reversal_note

    left = credit_left(con, sorted({r[1] for r in reversals if r[1]}))
    for p in credits:  # this settlement's notes not in Sage yet are posted before its reversals
        entry = posting_ledger.get(con, FLOW, p.reference)
        if p.note is not None and p.note.original_order_ref and (entry is None or entry.status != "posted"):
            left[p.note.original_order_ref] = left.get(p.note.original_order_ref, Decimal("0")) + p.note.total
    out: list[Planned] = []
    for ref, order_id, day, currency, customer, items, payload, charged in reversals:
        reference = reversal_reference(ref)
        entry = posting_ledger.get(con, FLOW, reference)
        already = entry is not None and entry.status == "posted"
        room = charged if already else left.get(order_id, Decimal("0"))
        note, problem = reversal_note(reference, customer, currency, day, items, sage_items, rules, order_id, charged,
                                      room)
        if note is not None and not already:
            left[order_id] = room - charged
        out.append(Planned(reference, note, problem, payload, debit=True))
    return out
