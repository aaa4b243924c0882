"""The listings flow as one unit: Sage items flagged for Amazon become Amazon listings, every hour."""

import dagster as dg

from assets.flow import flow_definitions
from assets.listings import FLOW, assets, checks
from sensors import listings as automation


def defs() -> dg.Definitions:
    return flow_definitions(
        FLOW,
        owners=["team:operations"],
        assets=[assets.sage_listing_items, assets.amazon_listings],
        asset_checks=[checks.listing_price_drops_held, checks.listings_all_accepted],
        jobs=[automation.listings_job],
        schedules=[automation.listings_schedule],
    )
