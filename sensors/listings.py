"""The listings flow's job and schedule: Sage items flagged for Amazon are listed, and kept in step, every hour."""

import dagster as dg

from assets import listings
from assets.flow import FLOW_TAG

listings_job = dg.define_asset_job(
    "listings_job",
    selection=dg.AssetSelection.groups(listings.FLOW),
    description="Read the Sage items flagged for Amazon and create or update their Amazon listings (only changes)",
    tags={FLOW_TAG: listings.FLOW},
    executor_def=dg.in_process_executor,
)

listings_schedule = dg.ScheduleDefinition(
    name="listings_schedule",
    job=listings_job,
    cron_schedule="17 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour: Sage item and price changes reach the Amazon listings",
)
