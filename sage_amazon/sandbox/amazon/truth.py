"""Ground truth of the generated seller: what each settlement must post, per category.

Tests of the settlement flow import `settlement_truths(world)` and compare the journal the product
posts with these figures. Sum of `categories` == `total` == sum of the file's detail amounts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

CATEGORY_BY_DESCRIPTION = {
    "Subscription Fee": "subscription_fee",
    "Storage Fee": "storage_fee",
    "Previous Reserve Amount Balance": "reserve_previous",
    "Current Reserve Amount": "reserve_current",
}


def category(transaction_type: str, amount_type: str, description: str) -> str:
    if amount_type == "ItemWithheldTax":
        return "marketplace_facilitator_tax"
    if amount_type == "FBA Inventory Reimbursement":
        return "reimbursement"
    if amount_type == "Cost of Advertising":
        return "advertising"
    if amount_type == "other-transaction":
        return CATEGORY_BY_DESCRIPTION.get(description, "other")
    if transaction_type == "Refund":
        if description == "RefundCommission":
            return "refund_commission"
        if description == "Commission":
            return "referral_fee_refund"
        return "refund"
    if amount_type == "ItemPrice":
        return {"Principal": "principal", "Shipping": "shipping", "GiftWrap": "gift_wrap"}.get(description, "tax")
    if amount_type == "Promotion":
        return "promotion"
    if description == "Commission":
        return "referral_fee"
    if description.startswith("FBA"):
        return "fba_fee"
    return "other"


@dataclass
class SettlementTruth:
    settlement_id: str
    marketplace_id: str
    currency: str
    start: str
    end: str
    deposit: str
    total: Decimal
    line_count: int
    categories: dict[str, Decimal] = field(default_factory=dict)
    by_line_type: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)
    order_ids: set[str] = field(default_factory=set)


def settlement_truth(world: Any, settlement: dict[str, Any]) -> SettlementTruth:
    cats: dict[str, Decimal] = defaultdict(Decimal)
    types: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    orders: set[str] = set()
    lines = world.settlement_lines(settlement)
    for line in lines:
        amount = Decimal(line["amount"])
        tt, at, ad = line["transaction_type"], line["amount_type"], line["amount_description"]
        cats[category(tt, at, ad)] += amount
        types[(tt, at, ad)] += amount
        if line.get("order_id"):
            orders.add(line["order_id"])
    return SettlementTruth(settlement["settlement_id"], settlement["marketplace_id"], settlement["currency"],
                           settlement["start"], settlement["end"], settlement["deposit"],
                           Decimal(settlement["total"]), len(lines), dict(cats), dict(types), orders)


def settlement_truths(world: Any) -> list[SettlementTruth]:
    with world.lock:
        return [settlement_truth(world, s) for s in sorted(world.state["settlements"].values(),
                                                            key=lambda s: (s["end"], s["marketplace_id"]))]


def truth_as_json(truth: SettlementTruth) -> dict[str, Any]:
    """A JSON-able ground truth (amounts as strings, exact)."""
    return {"settlement_id": truth.settlement_id, "marketplace_id": truth.marketplace_id,
            "currency": truth.currency, "start": truth.start, "end": truth.end, "deposit": truth.deposit,
            "total": str(truth.total), "line_count": truth.line_count,
            "categories": {k: str(v) for k, v in sorted(truth.categories.items())},
            "by_line_type": [{"transaction_type": k[0], "amount_type": k[1], "amount_description": k[2],
                              "amount": str(v)} for k, v in sorted(truth.by_line_type.items())],
            "order_ids": sorted(truth.order_ids)}


def write_settlement_files(world: Any, out_dir: Any, version: int = 2) -> list[tuple[Any, SettlementTruth]]:
    """Write every published settlement of `world` as a flat file (V2 or V1) into out_dir; returns
    (path, ground truth) pairs. For settlement-flow tests that need files without a running server."""
    from pathlib import Path

    from sage_amazon.sandbox.amazon.report_content import settlement_text

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for truth in settlement_truths(world):
        path = folder / f"settlement-{truth.settlement_id}-v{version}.txt"
        with world.lock:
            text = settlement_text(world, world.state["settlements"][truth.settlement_id], version)
        path.write_text(text, encoding="utf-8")
        out.append((path, truth))
    return out
