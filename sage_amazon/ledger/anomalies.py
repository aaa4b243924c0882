"""Fees that deviate from their usual rate: a referral fee at 30% where it is usually 15%, an FBA fee
per unit that jumped. Non-blocking evidence for finance, computed from marts.settlement_fee_rates.

The usual rate of a fee is the median over the SKU's order items in every landed settlement of the
same marketplace (this one included); a SKU with fewer than `min_history` items falls back to the
marketplace-wide median of the fee (the "category" the file gives us). An item is flagged when its
rate differs from the usual one by more than `tolerance` (relative) and more than an absolute floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class FeeAnomaly:
    settlement_id: str
    order_id: str
    order_item_code: str
    sku: str
    fee: str  # referral_rate | fba_fee_per_unit
    observed: Decimal
    usual: Decimal
    basis: str  # sku | marketplace
    history: int  # items behind the usual value
    amount: Decimal  # the fee charged on the item

    def as_dict(self) -> dict[str, str | int]:
        return {"order_id": self.order_id, "order_item_code": self.order_item_code, "sku": self.sku,
                "fee": self.fee, "observed": str(self.observed), "usual": str(self.usual), "basis": self.basis,
                "history": self.history, "fee_amount": str(self.amount)}


FEES = {
    # fee column -> (amount column, absolute floor)
    "referral_rate": ("referral_fee", Decimal("0.02")),
    "fba_fee_per_unit": ("fba_fee", Decimal("0.50")),
}


def find(con, settlement_id: str, tolerance: Decimal = Decimal("0.25"), min_history: int = 3,
         limit: int = 200) -> list[FeeAnomaly]:
    out: list[FeeAnomaly] = []
    for fee, (amount_col, floor) in FEES.items():
        rows = con.execute(
            f"""
            WITH cur AS (
                SELECT * FROM marts.settlement_fee_rates WHERE settlement_id = $sid AND {fee} IS NOT NULL
            ),
            hist AS (
                SELECT h.sku, h.{fee} AS v FROM marts.settlement_fee_rates h
                WHERE h.{fee} IS NOT NULL
                  AND h.marketplace IS NOT DISTINCT FROM (SELECT any_value(marketplace) FROM cur)
                  -- the usual rate is what came before this settlement, not itself nor later ones: the same
                  -- settlement checked again (a sensor re-run) gives the same warning until the fee is fixed
                  AND h.settlement_id <> $sid AND h.posted_date < (SELECT min(posted_date) FROM cur)
            ),
            by_sku AS (SELECT sku, median(v) AS usual, count(*) AS n FROM hist GROUP BY sku),
            overall AS (SELECT median(v) AS usual, count(*) AS n FROM hist)
            SELECT c.order_id, c.order_item_code, c.sku, c.{fee},
                   CASE WHEN s.n >= $min THEN s.usual ELSE o.usual END AS usual,
                   CASE WHEN s.n >= $min THEN 'sku' ELSE 'marketplace' END AS basis,
                   CASE WHEN s.n >= $min THEN s.n ELSE o.n END AS n,
                   c.{amount_col}
            FROM cur c LEFT JOIN by_sku s USING (sku), overall o
            """,
            {"sid": settlement_id, "min": min_history},
        ).fetchall()
        for order_id, item, sku, observed, usual, basis, n, amount in rows:
            if usual is None or n < min_history:
                continue
            observed, usual = Decimal(observed), Decimal(usual)
            diff = abs(observed - usual)
            if diff > floor and (usual == 0 or diff / abs(usual) > tolerance):
                out.append(FeeAnomaly(settlement_id, order_id or "", item or "", sku or "", fee,
                                      observed, usual.quantize(Decimal("0.0001")), basis, int(n), Decimal(amount)))
    out.sort(key=lambda a: (-(abs(a.observed - a.usual) / (abs(a.usual) or 1)), a.order_id))
    return out[:limit]
