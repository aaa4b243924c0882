"""Order-level tie-out: per Amazon order id, what Sage invoiced against what Amazon's settlements paid.

With `revenue: sage_invoices` Sage invoices the orders flow's sales orders (a receivable on the marketplace's
customer) and the settlement journal clears that receivable; this table says, order by order, which
receivables are still open, which orders were settled but never invoiced, and where the amounts differ,
with the age of each open item. With `revenue: settlement` it shows the same matching between the sales
orders sent to Sage (fulfilment only) and the money settled, which finds orders Amazon paid that never
reached Sage.

Status of a row:
    matched               invoiced and settled, same amount
    difference            invoiced and settled, amounts differ (difference = settled - invoiced)
    open                  invoiced, not settled yet (ageing from the order date)
    settled_not_invoiced  settled by Amazon, no sales order in Sage
    refunded              settled and refunded in full, never invoiced (nothing to clear)

Refunds, beside it (`refund_status`): the settlements' refund lines (ItemPrice and Promotion of transactions other
than Order, `refunded_amount`) against the refund credit notes posted to Sage (flow `refund_credit_notes`, at the
refund transaction's principal, shipping, gift wrap, tax and promotion: what the note credits; and flow
`settlement_credit_note`, at the settlement's refund lines the note was made from; a note both flows made, one
reference, counts once: `credited_amount`), both signed as Amazon signs a refund (negative):
    refund_matched        refunded in a settlement and credited in Sage, same amount (a refund reversed by a later
                          charge nets on both sides: its debit note counts against the credit notes)
    refund_difference     both, amounts differ (refund_difference = refunded - credited)
    refund_not_credited   refunded in a settlement, no credit note in Sage
    credited_not_settled  a credit note in Sage, no refund in any settlement (yet)

"Invoiced" is the sales order the orders flow posted to Sage (ops.posting_ledger, flow `orders`), at the
order's total as sent (marts.sage_orders.lines_total: items, shipping, gift wrap and their taxes, less
promotions): what Sage invoices for it. "Settled" is the order's ItemPrice and Promotion lines of
transaction-type Order in every landed settlement; refunds are shown beside it. Ages count days up to an
explicit `as_of` day (by default the last settlement end date in the warehouse), never the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sage_amazon.returns.references import REFUND_REFERENCE_CHARS

TABLE = "marts.settlement_order_tieout"
STATUSES = ("open", "settled_not_invoiced", "difference", "matched", "refunded")
REFUND_STATUSES = ("refund_matched", "refund_difference", "refund_not_credited", "credited_not_settled")
ZERO = Decimal("0.00")

_SETTLED = """
    SELECT
        l.order_id AS amazon_order_id,
        any_value(coalesce(l.marketplace, r.marketplace)) AS marketplace,
        any_value(l.currency) AS settled_currency,
        CAST(coalesce(sum(l.amount) FILTER (WHERE l.transaction_type = 'Order'
            AND l.amount_type IN ('ItemPrice', 'Promotion')), 0) AS DECIMAL(18, 2)) AS settled_amount,
        CAST(coalesce(sum(l.amount) FILTER (WHERE l.transaction_type <> 'Order'
            AND l.amount_type IN ('ItemPrice', 'Promotion')), 0) AS DECIMAL(18, 2)) AS refunded_amount,
        CAST(coalesce(sum(l.amount) FILTER (WHERE l.amount_type NOT IN ('ItemPrice', 'Promotion')), 0)
            AS DECIMAL(18, 2)) AS fees_amount,
        min(l.posted_date) AS first_settled_on,
        max(r.deposit_date) AS last_deposit_date,
        string_agg(DISTINCT l.settlement_id, ',' ORDER BY l.settlement_id) AS settlement_ids
    FROM raw.settlement_lines AS l
    INNER JOIN raw.settlement_reports AS r ON r.settlement_id = l.settlement_id
    WHERE l.order_id IS NOT NULL AND l.order_id <> ''
    GROUP BY l.order_id
"""

_INVOICED = """
    SELECT
        o.amazon_order_id,
        o.order_date,
        o.currency AS invoiced_currency,
        CAST(o.lines_total AS DECIMAL(18, 2)) AS invoiced_amount,
        p.sage_number
    FROM marts.sage_orders AS o
    INNER JOIN ops.posting_ledger AS p ON p.flow = 'orders' AND p.record_key = o.amazon_order_id
        AND p.status = 'posted'
    WHERE o.action = 'post'
    QUALIFY row_number() OVER (PARTITION BY o.amazon_order_id ORDER BY o.partition_date DESC) = 1
"""

# One row per credit note posted to Sage, keyed by its Sage reference (AMZ-RF-<refund id>, returns.credit_notes.
# refund_reference): the returns flow's notes at the refund transaction's amounts, the settlement's notes (flow
# settlement_credit_note, ledger/documents.py) at the refund lines they were made from; a note both flows made (the
# same reference: Sage holds it once) counts once, at the returns flow's amount.
_NOTES_FROM_REFUNDS = f"""
    SELECT any_value(t.amazon_order_id) AS amazon_order_id,
        left(CASE WHEN sum(i.principal + i.shipping + i.gift_wrap + i.tax + i.promotion) > 0 THEN 'AMZ-RV-'
                  ELSE 'AMZ-RF-' END || coalesce(nullif(any_value(t.refund_id), ''), t.transaction_id),
             {REFUND_REFERENCE_CHARS}) AS reference,
        sum(i.principal + i.shipping + i.gift_wrap + i.tax + i.promotion) AS amount
    FROM raw.amazon_refund_transactions AS t
    INNER JOIN raw.amazon_refund_items AS i ON i.transaction_id = t.transaction_id
    INNER JOIN ops.posting_ledger AS p ON p.flow = 'refund_credit_notes' AND p.record_key = t.transaction_id
        AND p.status = 'posted'
    WHERE t.amazon_order_id IS NOT NULL AND t.amazon_order_id <> ''
    GROUP BY t.transaction_id
"""

_NOTES_FROM_SETTLEMENTS = f"""
    SELECT any_value(g.order_id) AS amazon_order_id, p.record_key AS reference, sum(g.amount) AS amount
    FROM (
        -- per settlement and refund, as ledger/documents.py plans them: a credit note (AMZ-RF-) of what was
        -- refunded, or the debit note (AMZ-RV-) of a refund reversed by a later charge
        SELECT l.settlement_id, coalesce(l.adjustment_id, l.order_id) AS ref, any_value(l.order_id) AS order_id,
            sum(l.amount) AS amount
        FROM raw.settlement_lines AS l
        WHERE l.transaction_type ILIKE '%refund%' AND l.amount_type IN ('ItemPrice', 'Promotion')
            AND l.order_id IS NOT NULL AND l.order_id <> ''
        GROUP BY ALL
    ) AS g
    INNER JOIN ops.posting_ledger AS p ON p.flow = 'settlement_credit_note' AND p.status = 'posted'
        AND p.record_key = left(CASE WHEN g.amount > 0 THEN 'AMZ-RV-' ELSE 'AMZ-RF-' END || g.ref,
                                {REFUND_REFERENCE_CHARS})
    GROUP BY p.record_key
"""

_NO_NOTES = """
    SELECT CAST(NULL AS VARCHAR) AS amazon_order_id, CAST(NULL AS VARCHAR) AS reference,
           CAST(NULL AS DECIMAL(18, 2)) AS amount
    WHERE false
"""

_CREDITED = """
    SELECT n.amazon_order_id, CAST(sum(n.amount) AS DECIMAL(18, 2)) AS credited_amount,
        count(DISTINCT n.reference) AS credit_notes
    FROM (
        SELECT * FROM ({returns}) AS r
        UNION ALL
        SELECT * FROM ({settlements}) AS s WHERE s.reference NOT IN (SELECT x.reference FROM ({returns}) AS x)
    ) AS n
    GROUP BY n.amazon_order_id
"""

_NO_CREDIT_NOTES = """
    SELECT CAST(NULL AS VARCHAR) AS amazon_order_id, CAST(NULL AS DECIMAL(18, 2)) AS credited_amount,
           CAST(NULL AS BIGINT) AS credit_notes
    WHERE false
"""

_NO_INVOICES = """
    SELECT CAST(NULL AS VARCHAR) AS amazon_order_id, CAST(NULL AS DATE) AS order_date,
           CAST(NULL AS VARCHAR) AS invoiced_currency, CAST(NULL AS DECIMAL(18, 2)) AS invoiced_amount,
           CAST(NULL AS VARCHAR) AS sage_number
    WHERE false
"""


def select_sql(con) -> str:
    """The tie-out as one SELECT (parameter: the as-of day); works before the orders flow ever ran."""
    from sage_amazon.warehouse import table_exists

    invoiced = _INVOICED if (table_exists(con, "marts.sage_orders")
                             and table_exists(con, "ops.posting_ledger")) else _NO_INVOICES
    credited = _credited_sql(con) or _NO_CREDIT_NOTES
    return f"""
WITH settled AS ({_SETTLED}),
invoiced AS ({invoiced}),
credited AS ({credited}),
joined AS (
    SELECT
        coalesce(i.amazon_order_id, s.amazon_order_id, c.amazon_order_id) AS amazon_order_id,
        s.marketplace,
        coalesce(i.invoiced_currency, s.settled_currency) AS currency,
        i.sage_number,
        i.order_date,
        i.invoiced_amount,
        s.settled_amount,
        s.refunded_amount,
        s.fees_amount,
        s.first_settled_on,
        s.last_deposit_date,
        s.settlement_ids,
        c.credited_amount,
        coalesce(c.credit_notes, 0) AS credit_notes
    FROM invoiced AS i
    FULL OUTER JOIN settled AS s ON s.amazon_order_id = i.amazon_order_id
    FULL OUTER JOIN credited AS c ON c.amazon_order_id = coalesce(i.amazon_order_id, s.amazon_order_id)
),
graded AS (
    SELECT
        j.*,
        CAST(coalesce(j.settled_amount, 0) - coalesce(j.invoiced_amount, 0) AS DECIMAL(18, 2)) AS difference,
        CASE
            WHEN j.invoiced_amount IS NOT NULL AND coalesce(j.settled_amount, 0) = 0 THEN 'open'
            WHEN j.invoiced_amount IS NULL AND coalesce(j.settled_amount, 0) = 0 THEN 'refunded'
            WHEN j.invoiced_amount IS NULL THEN 'settled_not_invoiced'
            WHEN j.settled_amount <> j.invoiced_amount THEN 'difference'
            ELSE 'matched'
        END AS status,
        CAST(coalesce(j.refunded_amount, 0) - coalesce(j.credited_amount, 0) AS DECIMAL(18, 2)) AS refund_difference,
        CASE
            WHEN coalesce(j.refunded_amount, 0) = 0 AND j.credited_amount IS NULL THEN ''
            WHEN j.credited_amount IS NULL THEN 'refund_not_credited'
            WHEN j.refunded_amount = j.credited_amount THEN 'refund_matched'  -- also a refund and its reversal
            WHEN coalesce(j.refunded_amount, 0) = 0 THEN 'credited_not_settled'
            WHEN j.refunded_amount <> j.credited_amount THEN 'refund_difference'
            ELSE 'refund_matched'
        END AS refund_status,
        CAST($as_of AS DATE) - coalesce(j.order_date, j.first_settled_on) AS age_days
    FROM joined AS j
)
SELECT
    g.*,
    CASE
        WHEN g.status = 'matched' THEN ''
        WHEN g.age_days <= 30 THEN '0-30'
        WHEN g.age_days <= 60 THEN '31-60'
        WHEN g.age_days <= 90 THEN '61-90'
        ELSE 'over 90'
    END AS ageing
FROM graded AS g
"""


def _credited_sql(con) -> str | None:
    """The credited-per-order query over the tables this warehouse has (None before any posting ledger)."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "ops.posting_ledger"):
        return None
    returns = _NOTES_FROM_REFUNDS if all(table_exists(con, t) for t in (
        "raw.amazon_refund_transactions", "raw.amazon_refund_items")) else _NO_NOTES
    from_settlements = _NOTES_FROM_SETTLEMENTS if table_exists(con, "raw.settlement_lines") else _NO_NOTES
    return _CREDITED.format(returns=returns, settlements=from_settlements)


def credited(con, order_ids: list[str]) -> dict[str, Decimal]:
    """Per Amazon order, what its credit notes posted to Sage credit (negative, as Amazon signs a refund), the debit
    notes of reversed refunds taken off; orders without a note are left out."""
    sql = _credited_sql(con) if order_ids else None
    if sql is None:
        return {}
    rows = con.execute(f"SELECT c.amazon_order_id, c.credited_amount FROM ({sql}) AS c "
                       "WHERE c.amazon_order_id IN (SELECT unnest(?::VARCHAR[]))", [order_ids]).fetchall()
    return {order: Decimal(amount) for order, amount in rows}


def default_as_of(con) -> date | None:
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "raw.settlement_reports"):
        return None
    return con.execute("SELECT max(coalesce(settlement_end_date, deposit_date)) FROM raw.settlement_reports"
                       ).fetchone()[0]


def rows(con, as_of: date | None = None) -> list[dict[str, Any]]:
    """The tie-out rows (read-only: runs on a read connection)."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "raw.settlement_lines"):
        return []
    as_of = as_of or default_as_of(con)
    cur = con.execute(select_sql(con).replace("$as_of", "?") + " ORDER BY status, age_days DESC, amazon_order_id",
                      [as_of])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def build(con, as_of: date | None = None) -> int:
    """(Re)create marts.settlement_order_tieout; returns its row count."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "raw.settlement_lines"):
        return 0
    as_of = as_of or default_as_of(con)
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS {select_sql(con).replace('$as_of', '?')}", [as_of])
    return int(con.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0])


@dataclass
class Summary:
    as_of: date | None
    revenue: str
    counts: dict[str, int] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)  # open: invoiced; difference: sum of differences
    open_over_60_days: int = 0
    refund_counts: dict[str, int] = field(default_factory=dict)  # refund_status -> orders
    refund_amounts: dict[str, Decimal] = field(default_factory=dict)  # refunded (or credited) per refund_status
    documents: str = "credit_notes"  # accounts.yaml documents: refund credit notes exist only with credit_notes

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat() if self.as_of else None, "revenue": self.revenue,
                "counts": self.counts, "amounts": {k: f"{v:.2f}" for k, v in self.amounts.items()},
                "open_over_60_days": self.open_over_60_days, "refund_counts": self.refund_counts,
                "refund_amounts": {k: f"{v:.2f}" for k, v in self.refund_amounts.items()}}


def summarize(tie: list[dict[str, Any]], as_of: date | None, revenue: str, documents: str = "credit_notes") -> Summary:
    out = Summary(as_of, revenue, {s: 0 for s in STATUSES}, {s: ZERO for s in STATUSES}, documents=documents)
    for row in tie:
        status = row["status"]
        out.counts[status] += 1
        amount = (row["invoiced_amount"] if status == "open" else row["difference"] if status == "difference"
                  else row["settled_amount"]) or ZERO
        out.amounts[status] += Decimal(amount)
        if status == "open" and (row["age_days"] or 0) > 60:
            out.open_over_60_days += 1
        refund = row.get("refund_status") or ""
        if refund:
            out.refund_counts[refund] = out.refund_counts.get(refund, 0) + 1
            value = (row["refund_difference"] if refund == "refund_difference" else row["credited_amount"]
                     if refund == "credited_not_settled" else row["refunded_amount"]) or ZERO
            out.refund_amounts[refund] = out.refund_amounts.get(refund, ZERO) + Decimal(value)
    for refund in REFUND_STATUSES:
        out.refund_counts.setdefault(refund, 0)
        out.refund_amounts.setdefault(refund, ZERO)
    return out


def outcomes(summary: Summary) -> list:
    """Non-blocking checks on the tie-out (the settlement posts regardless; finance follows these up)."""
    from sage_amazon.ledger.settlements import Outcome

    invoiced_mode = summary.revenue == "sage_invoices"
    never = summary.counts["settled_not_invoiced"]
    diff = summary.counts["difference"]
    stale = summary.open_over_60_days
    notes_mode = invoiced_mode and summary.documents == "credit_notes"
    uncredited = summary.refund_counts.get("refund_not_credited", 0)
    refund_diff = summary.refund_counts.get("refund_difference", 0)
    return [
        Outcome("tieout_settled_not_invoiced", never == 0 or not invoiced_mode, False,
                f"{never} order(s) settled by Amazon with no sales order in Sage "
                f"({summary.amounts['settled_not_invoiced']:.2f})"
                + ("" if invoiced_mode else " (revenue: settlement: revenue is the settlement's, orders serve stock)"),
                {"orders": never, "amount": f"{summary.amounts['settled_not_invoiced']:.2f}"}),
        Outcome("tieout_amount_differences", diff == 0, False,
                f"{diff} order(s) settled for another amount than invoiced (net {summary.amounts['difference']:.2f})",
                {"orders": diff, "net_difference": f"{summary.amounts['difference']:.2f}"}),
        Outcome("tieout_refunds_credited", not notes_mode or not (uncredited or refund_diff), False,
                f"{uncredited} order(s) refunded in a settlement with no credit note in Sage "
                f"({summary.refund_amounts['refund_not_credited']:.2f}), {refund_diff} credited for another amount "
                f"(net {summary.refund_amounts['refund_difference']:.2f}), "
                f"{summary.refund_counts['credited_not_settled']} credit note(s) not refunded in a settlement yet"
                + ("" if notes_mode else " (no refund credit notes under this revenue / documents setting: the "
                   "settlement journal carries refunds)"),
                {"refunded_not_credited": uncredited, "credited_other_amount": refund_diff,
                 "credited_not_settled": summary.refund_counts["credited_not_settled"],
                 "refund_matched": summary.refund_counts["refund_matched"]}),
        Outcome("tieout_open_items_ageing", stale == 0, False,
                f"{summary.counts['open']} open item(s) ({summary.amounts['open']:.2f}), {stale} older than 60 days "
                f"as of {summary.as_of}",
                {"open_items": summary.counts["open"], "open_amount": f"{summary.amounts['open']:.2f}",
                 "older_than_60_days": stale}),
    ]
