"""The FBA shipments flow as one unit: the fulfilled-shipments report -> SQL -> Sage delivery status."""

import dagster as dg

from assets.flow import flow_definitions
from assets.shipments import FLOW, assets
from sensors import shipments as automation


def defs() -> dg.Definitions:
    return flow_definitions(
        FLOW,
        owners=["team:operations"],
        assets=[assets.amazon_fba_shipments, assets.sage_shipment_updates],
        jobs=[automation.order_shipments_job],
    )
