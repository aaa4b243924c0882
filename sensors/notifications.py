"""What every queue-reading sensor does with the runs it requested (sage_amazon.amazon.notification_runs): look a
batch's run up by its tag, carry out the queue actions, wait while its runs wait to start."""

import json
from datetime import UTC, datetime

import dagster as dg

from resources.notifications import SqsResource


def run_status(instance: dg.DagsterInstance, tag: str, batch_key: str) -> str | None:
    """The status of the run requested for a batch (its tag `tag` = the batch key), None when none exists."""
    runs = instance.get_runs(dg.RunsFilter(tags={tag: batch_key}), limit=1)
    return runs[0].status.value if runs else None


def start_tick(context, queue: SqsResource, ledger_class, tag: str, trigger: str, what: str):
    """(ledger, now, result) at the start of a tick: the ledger read from the cursor, its runs settled (the
    notifications of succeeded runs deleted, those of failed ones hidden for their back-off, the rest kept hidden
    while their runs wait or run). `result` is the SensorResult to return at once while runs of this trigger wait
    to start (new notifications stay on the queue: the next run takes them all at once), else None."""
    now = datetime.now(UTC)
    ledger = ledger_class(json.loads(context.cursor) if context.cursor else {})
    apply(context, queue, ledger.settle(lambda key: run_status(context.instance, tag, key), now))
    pending = waiting(context.instance, trigger)
    if pending:
        return ledger, now, dg.SensorResult(skip_reason=f"{pending} {what} run(s) still waiting to start: batching",
                                            cursor=json.dumps(ledger.to_cursor()))
    return ledger, now, None


def apply(context, queue: SqsResource, actions) -> None:
    if actions.delete:
        queue.delete(actions.delete)
    for seconds, handles in actions.hide.items():
        queue.release(handles, visibility_timeout=seconds)
    for line in actions.log:
        context.log.info(line)


def waiting(instance: dg.DagsterInstance, trigger: str) -> int:
    """Runs of this trigger (the TRIGGER_TAG value) queued or not started yet."""
    from assets.flow import TRIGGER_TAG

    return instance.get_runs_count(dg.RunsFilter(
        tags={TRIGGER_TAG: trigger}, statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]))
