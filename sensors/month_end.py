"""The month_end flow's job and schedule: every day at 06:30 UTC the previous month's deferred accrual is asked
for again (it posts, once, on the first run after a settlement covering the month end is landed; a posted month
posts nothing more) and the finance reports are rebuilt."""

from datetime import UTC, datetime

import dagster as dg

from assets import month_end
from assets.flow import FLOW_TAG, TRIGGER_TAG
from assets.month_end.deferred import last_month

month_end_job = dg.define_asset_job(
    "month_end_job",
    selection=dg.AssetSelection.groups(month_end.FLOW),
    description="A month's deferred accrual and reversal (config ops.deferred_accrual.config.month: YYYY-MM) and "
                "the finance reports (US sales tax per state, COGS and margin per SKU).",
    tags={FLOW_TAG: month_end.FLOW},
    executor_def=dg.in_process_executor,
)


@dg.schedule(job=month_end_job, cron_schedule="30 6 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Daily: the previous month's deferred accrual (posted once, when its settlements are in) "
                         "and the finance reports")
def month_end_schedule(context: dg.ScheduleEvaluationContext):
    when = context.scheduled_execution_time or datetime.now(UTC)
    month = last_month(when.date())
    return dg.RunRequest(run_key=f"month_end-{when:%Y-%m-%d}",
                         run_config={"ops": {"deferred_accrual": {"config": {"month": month}}}},
                         tags={TRIGGER_TAG: "schedule"})
