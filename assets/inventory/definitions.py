"""The inventory flow as one unit: FBA inventory and Sage stock by day, the discrepancy, the FBA site adjustments."""

import dagster as dg

from assets.flow import flow_definitions
from assets.inventory import FLOW, assets, checks
from sensors import inventory as automation


def defs() -> dg.Definitions:
    return flow_definitions(
        FLOW,
        owners=["team:operations"],
        assets=[assets.amazon_fba_inventory, assets.sage_stock, assets.fba_site_map, assets.sage_fba_adjustments,
                assets.amazon_mfn_quantities],
        asset_checks=checks.CHECKS,
        jobs=[automation.inventory_job, automation.fba_inventory_changes_job],
        sensors=[automation.fba_inventory_sensor],
        schedules=[automation.inventory_schedule],
    )
