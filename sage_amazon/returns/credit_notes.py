"""Refunds -> Sage credit notes, consistent with the revenue source (accounts.yaml `revenue`).

- `revenue: settlement` (the shipped default): the settlement journal already carries every refund (principal,
  tax, promotion back), so this flow creates **no** credit note: one would count the refund twice. The asset says
  so and posts nothing; only the stock movement (restock.py) follows a return.
- `revenue: sage_invoices` with `documents: journal_only`: the settlement journal posts refunds to the refunds
  account; no credit note either (it would count the refund twice), and the asset says so.
- `revenue: sage_invoices` with `documents: credit_notes` (the settlement's refund lines go to `receivables`, where
  they clear the notes): Sage's invoices carry revenue, so each refund transaction (Finances 2024-06-19
  listTransactions, raw.amazon_refund_items) becomes one credit note for the marketplace's Sage customer
  (marketplaces.yaml), one line per SKU with the refunded quantity and principal, the promotion taken back as the
  line's discount, the shipping and gift wrap refunded as freight and the tax refunded as tax, so the note's total is
  what Amazon refunded to the cent (X3 SIH credit memo with the original order and invoice as its origin, Sage 500
  AR credit memo through the AR import, applied to the order's invoice), through the target's `create_credit_note`.
  Its reference is `AMZ-RF-<refund id>`, the same the settlement's `credit_notes` documents use, so the two paths
  can never make two notes for one refund (each looks the reference up first and adopts). Posting ledger flow
  `refund_credit_notes`, key the transaction id.

Partial refunds carry their own quantity and amount; a refund without a return is a credit note all the same; a
return without a refund makes none (stock only). A transaction of the refund family with a positive principal (a
refund reversed by a later charge: retrocharge, reversal) is charged back to the customer (`create_debit_note`:
X3 SIH sales invoice of type INV, Sage 500 AR invoice, `AMZ-RV-<refund id>` of the amount charged back, once, never
beyond what the order's credit notes leave to reverse); beyond that it is a dead letter naming the order, never
netted silently, as are a refund larger than what the order was charged, an unknown marketplace customer and an
unmapped SKU.
A refund of shipping or tax alone is a note on its SKU's line at no price plus that freight or tax.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sage_amazon import deadletters, posting_ledger
from sage_amazon.errors import TransientError, Unfinished, one_line
from sage_amazon.money import cents
from sage_amazon.outcomes import Outcomes
from sage_amazon.returns.references import refund_reference, reversal_reference
from sage_amazon.sage import errors as sage_errors
from sage_amazon.sage.protocol import CreditNote, CreditNoteLine

FLOW = "refund_credit_notes"


def reversal_note(reference: str, customer: dict, currency: str, day: date, items: list[tuple],
                  sage_items: set[str] | None, rules: Any, order_id: str, charged: Decimal,
                  credit_left: Decimal) -> tuple[CreditNote | None, str]:
    """The debit note of a refund reversed by a later charge (refund-family items with Amazon's signs: the charge
    positive): the note of those items with the signs turned, charged back to the customer, or why none; never more
    than the order's credit notes leave to reverse (`credit_left`), so a reversal cancels a credit note once."""
    if charged > credit_left:
        return None, (f"a refund reversed by a later charge: {charged} {currency} charged back on order {order_id}, "
                      f"but its credit notes in Sage leave {credit_left} to reverse")
    turned = [(sku, qty, *(-Decimal(x) for x in amounts)) for sku, qty, *amounts in items]
    return refund_note(reference, customer, currency, day, turned, sage_items, rules, order_id, charged)


def credit_left(con: Any, order_ids: list[str]) -> dict[str, Decimal]:
    """Per Amazon order, what its posted credit notes (both flows, once per reference) credit, less the debit notes
    that reversed some of it: what a reversal may still charge back."""
    from sage_amazon.ledger import tieout

    return {order: -amount for order, amount in tieout.credited(con, order_ids).items()}


def revenue_source() -> str:
    from sage_amazon.mapping.accounts import load

    return load().revenue


def documents_mode() -> str:
    from sage_amazon.mapping.accounts import load

    return load().documents


def why_no_notes(revenue: str, documents: str) -> str:
    """Why accounts.yaml makes no credit note for refunds ("" when it does: sage_invoices with credit_notes)."""
    if revenue != "sage_invoices":
        return f"revenue: {revenue}: refunds are in the settlement journal; no credit note is created"
    if documents != "credit_notes":
        return (f"revenue: sage_invoices with documents: {documents}: the settlement journal posts refunds to the "
                "refunds account, a credit note would count them twice; no credit note is created (documents: "
                "credit_notes makes them, and the settlement's refund lines then clear them in receivables)")
    return ""


@dataclass(frozen=True)
class Planned:
    key: str  # transaction id
    note: CreditNote | None
    problem: str = ""
    payload: dict = field(default_factory=dict)
    debit: bool = False  # a refund reversed by a later charge: the note is charged back (target.create_debit_note)
    day: date | None = None  # the refund's posted day (its partition)


@dataclass
class NoteResult(Outcomes):
    revenue: str = ""


ORDERED = """
SELECT sum(coalesce(item_price, 0) + coalesce(item_tax, 0) + coalesce(shipping_price, 0) + coalesce(shipping_tax, 0)
           + coalesce(gift_wrap_price, 0) + coalesce(gift_wrap_tax, 0) - coalesce(promotion_discount, 0)
           - coalesce(shipping_discount, 0))
FROM (SELECT *, row_number() OVER (PARTITION BY amazon_order_id, order_item_id
                                   ORDER BY last_updated DESC NULLS LAST, extracted_at DESC) AS rn
      FROM raw.amazon_order_items WHERE amazon_order_id = ?) WHERE rn = 1
"""


def plan(con: Any, days: list[date], target: str, sage_items: set[str] | None) -> list[Planned]:
    """The notes the days' refund transactions call for. A refund reversed by a later charge is a debit note of the
    amount charged back (target.create_debit_note), planned after every credit note and never beyond what the
    order's credit notes leave to reverse (else a dead letter naming the order)."""
    from sage_amazon.mapping.orders import marketplace_rows, sku_rules
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "raw.amazon_refund_transactions"):
        return []
    heads = con.execute("SELECT transaction_id, transaction_type, posted_date, marketplace_id, amazon_order_id, "
                        "refund_id, currency, total_amount FROM raw.amazon_refund_transactions "
                        "WHERE posted_date IN (SELECT unnest(?::DATE[])) ORDER BY posted_at, transaction_id",
                        [days]).fetchall()
    customers = {r["marketplace_id"]: r for r in marketplace_rows(target)}
    rules = sku_rules(target)
    orders_read = table_exists(con, "raw.amazon_order_items")
    out: list[Planned] = []
    reversals: list[tuple] = []
    for tid, ttype, day, mp, order_id, refund_id, currency, total in heads:
        items = con.execute("SELECT sku, quantity, principal, shipping, gift_wrap, tax, promotion "
                            "FROM raw.amazon_refund_items WHERE transaction_id = ? ORDER BY line_no", [tid]).fetchall()
        payload = {"transaction_id": tid, "type": ttype, "order_id": order_id, "refund_id": refund_id,
                   "total": str(total), "currency": currency,
                   "items": [{"sku": s, "qty": q, "principal": str(p), "shipping": str(sh), "gift_wrap": str(g),
                              "tax": str(t), "promotion": str(pr)} for s, q, p, sh, g, t, pr in items]}
        principal = sum((Decimal(i[2]) for i in items), Decimal("0"))
        refunded = -sum((Decimal(i[2]) + Decimal(i[3]) + Decimal(i[4]) + Decimal(i[5]) + Decimal(i[6])
                         for i in items), Decimal("0"))
        if principal > 0 or (principal == 0 and refunded < 0):
            reversals.append((tid, ttype, day, mp, order_id, refund_id, currency, items, payload, -refunded))
            continue
        if refunded == 0:
            continue  # fees only: nothing for the customer's account
        ordered = con.execute(ORDERED, [order_id]).fetchone()[0] if orders_read and order_id else None
        if ordered is not None and refunded > Decimal(ordered) + Decimal("0.01"):
            out.append(Planned(tid, None, f"refund of {refunded} {currency} is larger than order {order_id} "
                                          f"({ordered})", payload, day=day))
            continue
        customer = customers.get(mp)
        if customer is None or not customer["customer"]:
            out.append(Planned(tid, None, f"no Sage customer for marketplace {mp} in marketplaces.yaml ({target})",
                               payload, day=day))
            continue
        note, problem = refund_note(refund_reference(refund_id or tid), customer, currency, day, items, sage_items,
                                    rules, order_id, refunded)
        out.append(Planned(tid, note, problem, payload, day=day))
    if reversals:
        out += _plan_reversals(con, reversals, out, customers, sage_items, rules, target)
    return out


def _plan_reversals(con: Any, reversals: list[tuple], credits: list[Planned], customers: dict, sage_items: Any,
                    rules: Any, target: str) -> list[Planned]:
    """Debit notes of refunds reversed by a later charge, after the credit notes: what an order's notes leave to
    reverse counts the notes posted before and the ones planned in this run (a reversal posted before is counted
    there already, and a note already in the ledger is never re-made: its reference is looked up first)."""
    left = credit_left(con, sorted({r[4] for r in reversals if r[4]}))
    for p in credits:
        if p.note is not None and p.note.original_order_ref:
            ref = p.note.original_order_ref
            entry = posting_ledger.get(con, FLOW, p.key)
            if entry is None or entry.status != posting_ledger.POSTED:
                left[ref] = left.get(ref, Decimal("0")) + p.note.total
    out: list[Planned] = []
    for tid, ttype, day, mp, order_id, refund_id, currency, items, payload, charged in reversals:
        entry = posting_ledger.get(con, FLOW, tid)
        already = entry is not None and entry.status == posting_ledger.POSTED
        customer = customers.get(mp)
        if customer is None or not customer["customer"]:
            out.append(Planned(tid, None, f"no Sage customer for marketplace {mp} in marketplaces.yaml ({target})",
                               payload, debit=True, day=day))
            continue
        # a reversal posted before is in Sage already (create adopts it): no room to judge
        room = charged if already else left.get(order_id, Decimal("0"))
        note, problem = reversal_note(reversal_reference(refund_id or tid), customer, currency, day, items,
                                      sage_items, rules, order_id, charged, room)
        if note is not None and not already:
            left[order_id] = room - charged
        out.append(Planned(tid, note, problem and f"{ttype}: {problem}", payload, debit=True, day=day))
    return out


def refund_note(reference: str, customer: dict, currency: str, day: date, items: list[tuple],
                sage_items: set[str] | None, rules: Any, order_id: str,
                refunded: Decimal) -> tuple[CreditNote | None, str]:
    """The credit note of a refund's items for the marketplace's customer (its marketplaces.yaml row), or why none
    can be made; never a note whose total differs from what was refunded."""
    lines, amounts = note_lines(items, sage_items, rules, order_id)
    if isinstance(amounts, str):
        return None, amounts
    freight, tax = amounts
    note = CreditNote(reference=reference, customer=customer["customer"], site=customer["site"], currency=currency,
                      document_date=day, lines=tuple(lines), original_order_ref=order_id or "", freight=freight,
                      tax=tax)
    if note.total != refunded:
        return None, f"credit note of {note.total} would not equal the refund of {refunded} {currency} on order {order_id}"
    return note, ""


def note_lines(items: list[tuple], sage_items: set[str] | None, rules: Any,
               order_id: str) -> tuple[list[CreditNoteLine], str | tuple[Decimal, Decimal]]:
    """The note's lines from a refund's items (sku, qty, principal, shipping, gift wrap, tax, promotion; Amazon's
    signs: a refund is negative, the promotion taken back positive), and (freight, tax) refunded, or a reason.
    Each SKU's principal refunded is its line at the unit price (one unit at the total when it does not divide);
    the promotion taken back is the line's discount (beyond the line, it reduces the freight); shipping and gift
    wrap are the freight; tax is the tax refunded. A refund of shipping or tax only keeps its SKU's line at 0."""
    from sage_amazon.mapping.orders import map_sku

    zero = Decimal("0")
    lines: list[CreditNoteLine] = []
    missing: list[str] = []
    freight = tax = freight_discount = zero
    first_item: tuple[str, Decimal] | None = None
    for sku, qty, line_principal, shipping, gift_wrap, line_tax, promotion in items:
        gross, discount = -Decimal(line_principal), Decimal(promotion)
        if discount < 0:  # a promotion refunded on top: more credit on the line
            gross, discount = gross - discount, zero
        if discount > gross:
            freight_discount += discount - gross
            discount = gross
        freight -= Decimal(shipping) + Decimal(gift_wrap)
        tax -= Decimal(line_tax)
        if not gross and not (Decimal(shipping) or Decimal(gift_wrap) or Decimal(line_tax)):
            continue
        item, _rule = map_sku(sku or "", sage_items, rules)
        if item is None:
            missing.append(sku or "(no sku)")
            continue
        quantity = Decimal(int(qty or 0) or 1)
        if first_item is None:
            first_item = (item, quantity)
        if not gross:
            continue
        unit = gross / quantity
        if cents(unit) * quantity != gross or cents(discount / quantity) * quantity != discount:
            quantity, unit = Decimal(1), gross  # not evenly divisible per unit: one line at the refunded total
        lines.append(CreditNoteLine(item=item, quantity=quantity, net_price=cents(unit), discount=discount,
                                    description=f"Amazon refund {order_id}"))
    if missing:
        return [], f"SKU(s) {', '.join(missing)} have no Sage item (skus.yaml)"
    freight -= freight_discount
    if freight < 0 or tax < 0:
        return [], (f"refund on order {order_id} takes back more shipping or tax than it refunds (freight "
                    f"{freight}, tax {tax}): a charge, not a credit note")
    if not lines and first_item is not None:  # shipping or tax refunded alone: its SKU's line at no price
        lines.append(CreditNoteLine(item=first_item[0], quantity=first_item[1], net_price=zero,
                                    description=f"Amazon refund {order_id}"))
    if not lines:
        return [], f"refund on order {order_id} names no SKU to credit"
    return lines, (freight, tax)


def create(open_write: Any, target: Any, days: list[date], revenue: str | None = None,
           documents: str | None = None) -> NoteResult:
    revenue = revenue or revenue_source()
    documents = documents or documents_mode()
    result = NoteResult(revenue=revenue)
    if why_no_notes(revenue, documents):  # the settlement journal carries refunds: a note would count them twice
        return result
    sage_items = {i.code for i in target.read_items()}
    with open_write() as con:
        posting_ledger.bind(con, target)
        deadletters.ensure(con)
        planned = plan(con, days, target.name, sage_items)
        for p in planned:
            if p.note is None:
                deadletters.record(con, FLOW, p.key, p.problem, p.payload)
                result.add("dead_lettered", p.key, p.problem, p.day)
        states = {p.key: posting_ledger.get(con, FLOW, p.key) for p in planned if p.note is not None}
    try:
        for p in planned:
            if p.note is None:
                continue
            entry = states.get(p.key)
            if entry is not None and entry.status == "posted":
                result.tally("already_posted", p.day)
                continue
            with open_write() as con:
                posting_ledger.start(con, FLOW, p.key, posting_ledger.payload_hash(p.payload))
            try:
                # each looks its reference up first: adopts, never twice
                made = target.create_debit_note(p.note) if p.debit else target.create_credit_note(p.note)
            except sage_errors.SageBusinessError as exc:
                with open_write() as con:
                    posting_ledger.failed(con, FLOW, p.key, one_line(exc))
                    deadletters.record(con, FLOW, p.key, one_line(exc), p.payload)
                result.add("dead_lettered", p.key, one_line(exc), p.day)
                continue
            with open_write() as con:
                posting_ledger.posted(con, FLOW, p.key, made.document_number)
                deadletters.resolve(con, FLOW, p.key)
            result.add("posted" if made.created else "adopted", p.key,
                       f"{made.document_number} {p.note.reference} {p.note.currency}", p.day)
    except TransientError as exc:
        raise Unfinished(f"refund credit notes stopped: {one_line(exc)}", result) from exc
    return result
