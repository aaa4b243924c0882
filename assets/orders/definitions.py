"""The orders flow as one unit: Amazon orders -> staging/marts SQL -> Sage sales orders, with its checks,
the ORDER_CHANGE sensor and the nightly catch-up."""

import dagster as dg

from assets.flow import flow_definitions
from assets.orders import FLOW, assets, checks
from sensors import orders as automation


def defs() -> dg.Definitions:
    return flow_definitions(
        FLOW,
        owners=["team:operations"],
        assets=[assets.amazon_orders, assets.sage_sales_orders],
        asset_checks=[*checks.STRUCTURAL, *checks.RECORD_LEVEL],
        jobs=[automation.order_changes_job, automation.order_changes_first_job, automation.orders_catchup_job],
        sensors=[automation.order_change_sensor],
        schedules=[automation.orders_catchup_schedule],
    )
