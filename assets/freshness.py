"""Freshness policies of the Sage-facing assets (issue 16.9): how long each may go without a materialization before
the UI shows it late (WARN) and failing (FAIL), from the cadence of what feeds it.

Applied by `flow_definitions` to every asset named here; evaluated by the daemon (`freshness: enabled: true` in the
instance's dagster.yaml: sage_amazon/instance.py, deploy/dagster.yaml). The alert sensor mails a FAIL.
"""

from datetime import timedelta

import dagster as dg

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def _policy(fail: timedelta, warn: timedelta) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.time_window(fail_window=fail, warn_window=warn)


NIGHTLY = _policy(26 * HOUR, 13 * HOUR)  # ORDER_CHANGE runs all day and the 02:15 UTC catch-up every night
POLICIES: dict[str, dg.FreshnessPolicy] = {
    "sage_sales_orders": NIGHTLY,
    "sage_shipment_updates": NIGHTLY,
    "sage_item_codes": _policy(2 * DAY, 26 * HOUR),  # read from Sage by the nightly catch-up
    "amazon_shipment_confirmations": _policy(2 * HOUR, 30 * timedelta(minutes=1)),  # every 15 minutes
    "sage_stock": _policy(3 * HOUR, HOUR),  # the 30-minute inventory schedule
    "sage_fba_adjustments": _policy(3 * HOUR, HOUR),
    "sage_return_receipts": _policy(13 * HOUR, 7 * HOUR),  # the 6-hour returns schedule
    "sage_refund_credit_notes": _policy(13 * HOUR, 7 * HOUR),
    # Amazon closes a settlement about every 14 days per marketplace (amazon-sp-api notes); a day or two late is
    # usual, three is a missing report or a blocked one
    "settlement_journal_postings": _policy(17 * DAY, 15 * DAY),
    "settlement_cogs": _policy(17 * DAY, 15 * DAY),
}


def policy_for(spec: dg.AssetSpec) -> dg.FreshnessPolicy | None:
    return POLICIES.get(spec.key.to_user_string(), spec.freshness_policy)
