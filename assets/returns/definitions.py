"""The returns flow as one unit: FBA and merchant returns and refund transactions by day, tied to their orders."""

import dagster as dg

from assets.flow import flow_definitions
from assets.returns import FLOW, assets, checks
from sensors import returns as automation


def defs() -> dg.Definitions:
    return flow_definitions(
        FLOW,
        owners=["team:operations"],
        assets=[assets.amazon_fba_returns, assets.amazon_mfn_returns, assets.amazon_refund_transactions,
                assets.sage_return_receipts, assets.sage_refund_credit_notes],
        asset_checks=checks.CHECKS,
        jobs=[automation.returns_job, automation.refund_transactions_job],
        sensors=[automation.transaction_update_sensor],
        schedules=[automation.returns_schedule],
    )
