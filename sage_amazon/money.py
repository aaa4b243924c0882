"""Money helpers shared by the product and the sandboxes: Decimal only, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    """Round an exact Decimal to cents, half up (accounting rounding)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
