"""The sandbox builds its history on any day, including a day whose first hours bring no order."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sage_amazon.sandbox.amazon.server import running_sandbox


def test_history_whose_first_hours_have_no_order(tmp_path: Path) -> None:
    """Seed 17 with 20 days of history to 2027-05-15 12:00Z (the regional sandbox of tests/connect under
    `make test-dates`' 2027-05-15 clock): no order in the first six-hour step of 2027-04-25. Starting it
    failed ('World' object has no attribute '_open_orders')."""
    now = datetime(2027, 5, 15, 12, 0, tzinfo=UTC)
    with running_sandbox(tmp_path, seed=17, history_days=20, regions=True, now=now, clock=lambda: now,
                         ticking=False) as sb:
        orders = sb.world.state["orders"].values()
        assert sb.world.meta["history_start"] == "2027-04-25T00:00:00Z"
        assert min(o["purchase_date"] for o in orders) >= "2027-04-25T06:00:00Z"  # the first step had none
        assert {o["marketplace_id"] for o in orders} == set(sb.world.options.marketplace_ids)
