"""The MFN flow as one unit: shipments recorded in Sage confirmed to Amazon, every 15 minutes."""

import dagster as dg

from assets.flow import flow_definitions
from assets.mfn import FLOW, assets
from sensors import mfn as automation


def defs() -> dg.Definitions:
    return flow_definitions(
        FLOW,
        owners=["team:operations"],
        assets=[assets.amazon_shipment_confirmations],
        jobs=[automation.mfn_confirmations_job],
        schedules=[automation.mfn_confirmations_schedule],
    )
