"""The MFN flow's job and schedule: shipments recorded in Sage are confirmed to Amazon every 15 minutes
(Sage 500; with Sage X3 the run reports the flow unsupported and does nothing)."""

import dagster as dg

from assets import mfn
from assets.flow import FLOW_TAG

mfn_confirmations_job = dg.define_asset_job(
    "mfn_confirmations_job",
    selection=dg.AssetSelection.groups(mfn.FLOW),
    description="Confirm to Amazon (confirmShipment) the merchant-fulfilled shipments recorded in Sage",
    tags={FLOW_TAG: mfn.FLOW},
    executor_def=dg.in_process_executor,
)

mfn_confirmations_schedule = dg.ScheduleDefinition(
    name="mfn_confirmations_schedule",
    job=mfn_confirmations_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 15 minutes: confirm new merchant-fulfilled shipments to Amazon",
)
