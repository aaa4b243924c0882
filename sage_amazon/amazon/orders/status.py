"""Amazon's order statuses in one spelling, whichever API or report they came from."""

from __future__ import annotations

STATUSES = ("PENDING", "PENDING_AVAILABILITY", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED",
            "UNFULFILLABLE", "INVOICE_UNCONFIRMED")
_STATUS_ALIASES = {
    "CANCELED": "CANCELLED",
    "SHIPPING": "UNSHIPPED",
    "SHIPPEDDELIVEREDTOBUYER": "SHIPPED",
    "SHIPPEDRETURNEDTOSELLER": "SHIPPED",
    "SHIPPEDLETTERSHIPPED": "SHIPPED",
    "SHIPPEDPICKEDUP": "SHIPPED",
    "SHIPPEDOUTFORDELIVERY": "SHIPPED",
    "SHIPPEDINTRANSIT": "SHIPPED",
    "SHIPPEDDELIVERED": "SHIPPED",
}
_SQUASHED = {s.replace("_", ""): s for s in STATUSES}


def canonical_status(value: str | None) -> str:
    """Amazon's status in one spelling, whichever API or report it came from ('' when unknown)."""
    if not value:
        return ""
    squashed = "".join(ch for ch in value.upper() if ch.isalnum())
    if squashed in _STATUS_ALIASES:
        return _STATUS_ALIASES[squashed]
    return _SQUASHED.get(squashed, squashed)
