"""Money helpers shared by the product and the sandboxes: Decimal only, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def to_money(value: object) -> Decimal:
    """Parse a money amount exactly ("12.30", 12, Decimal) and quantize to cents.

    Floats are refused: a float has already lost the cent.
    """
    if isinstance(value, float):
        raise TypeError(f"money must not be a float: {value!r}")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def cents(amount: Decimal) -> Decimal:
    """Round an exact Decimal to cents, half up (accounting rounding)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
