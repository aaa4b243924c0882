"""The FBA shipments flow's job. Its runs are requested by the order sensor (an FBA order shipped, at most
one fulfilled-shipments report every 15 minutes) and by the nightly order catch-up."""

import dagster as dg

from assets import shipments
from assets.flow import FLOW_TAG

order_shipments_job = dg.define_asset_job(
    "order_shipments_job",
    selection=dg.AssetSelection.groups(shipments.FLOW),
    description="Read the fulfilled-shipments report for the last two days and record new FBA shipments in Sage",
    tags={FLOW_TAG: shipments.FLOW},
    executor_def=dg.in_process_executor,
)
