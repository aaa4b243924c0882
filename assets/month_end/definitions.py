"""The month_end flow as one unit: the deferred accrual, the finance reports, their job and the monthly schedule."""

import dagster as dg

from assets.flow import flow_definitions
from assets.month_end import FLOW, deferred, reports
from sensors import month_end as automation


def defs() -> dg.Definitions:
    return flow_definitions(
        FLOW,
        owners=["team:finance"],
        assets=[deferred.deferred_accrual, reports.us_sales_tax_summary, reports.sku_margin_summary],
        jobs=[automation.month_end_job],
        schedules=[automation.month_end_schedule],
    )
