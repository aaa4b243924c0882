"""The returns flow's job and schedule: every day after midnight UTC, the previous day's FBA and merchant returns and
refund transactions are read (and the current day's so far every 6 hours), the returns tied to their orders."""

import dagster as dg

from assets import returns
from assets.flow import FLOW_TAG, TRIGGER_TAG

returns_job = dg.define_asset_job(
    "returns_job",
    selection=dg.AssetSelection.groups(returns.FLOW),
    description="FBA and merchant returns and refund transactions of a day, tied to their orders",
    tags={FLOW_TAG: returns.FLOW},
    executor_def=dg.in_process_executor,
)


@dg.schedule(job=returns_job, cron_schedule="30 */6 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every 6 hours: the current UTC day's returns and refunds; at 00:30 the day before, whole")
def returns_schedule(context: dg.ScheduleEvaluationContext):
    from datetime import UTC, timedelta

    at = context.scheduled_execution_time.astimezone(UTC)
    day = (at - timedelta(hours=1)).date().isoformat()  # 00:30 closes yesterday; later ticks read today
    return dg.RunRequest(run_key=None, partition_key=day, tags={TRIGGER_TAG: "schedule"})
