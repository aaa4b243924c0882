"""The mcf flow as one unit: Sage orders of other channels shipped by Amazon MCF, tracking back to Sage."""

import dagster as dg

from assets.flow import flow_definitions
from assets.mcf import FLOW, assets, checks
from sensors import mcf as automation


def defs() -> dg.Definitions:
    return flow_definitions(
        FLOW,
        owners=["team:operations"],
        assets=[assets.sage_mcf_orders, assets.amazon_mcf_orders, assets.sage_mcf_deliveries],
        asset_checks=checks.CHECKS,
        jobs=[automation.mcf_job, automation.mcf_status_job],
        sensors=[automation.fulfillment_order_status_sensor],
        schedules=[automation.mcf_schedule],
    )
