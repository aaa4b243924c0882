"""Settlement discovery sensor, daily reconciliation schedule and the settlement job.

- `settlement_discovery_sensor` lists settlement reports with getReports (and reads
  REPORT_PROCESSING_FINISHED notifications for settlement report types from the queue), downloads
  each new document at once (its URL expires in 5 minutes), keeps it under the data dir, adds the
  settlement id as a dynamic partition and requests its run with run key = settlement id and content
  (sha256): a report Amazon reissues for the same settlement is seen, never deduplicated away. Unreadable
  files and reissues of posted settlements are put on hold first (sage_amazon/ledger/reissue.screen).
- `settlement_reconciliation_schedule` runs daily: every settlement partition whose journals are
  not all posted (failed runs, dead letters such as a closed period) or whose reissue is being
  corrected is requested again, so no report is lost when a run fails; settlements on hold are not.
"""


import json
from datetime import UTC, datetime

import dagster as dg

from assets import settlements
from assets.flow import FLOW_TAG, SETTLEMENT_ID_TAG, TRIGGER_TAG
from assets.partitions import settlement_partitions
from assets.settlements.assets import settlement_lines_gx
from resources.notifications import SqsResource
from resources.sage import SageResource
from resources.sp_api import SpApiResource
from resources.warehouse import WarehouseResource

settlement_job = dg.define_asset_job(
    "settlement_job",
    # the Great Expectations suite runs after, in its own run: its start-up never delays a posting
    selection=dg.AssetSelection.groups(settlements.FLOW) - dg.AssetSelection.checks(settlement_lines_gx),
    description="Land, validate, journalise, reconcile and post one settlement (partition = settlement id).",
    tags={FLOW_TAG: settlements.FLOW},
    executor_def=dg.in_process_executor,  # one process for the run: no interpreter start per step
)

settlement_expectations_job = dg.define_asset_job(
    "settlement_expectations_job",
    selection=dg.AssetSelection.checks(settlement_lines_gx),
    description="The Great Expectations suite on one settlement's landed lines (run tag sage_amazon/settlement_id)",
    tags={FLOW_TAG: settlements.FLOW},
    executor_def=dg.in_process_executor,
)


MAX_MESSAGES = 100  # notifications read from the settlements queue per tick


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[settlement_job],
                      request_job=settlement_expectations_job, default_status=dg.DefaultSensorStatus.RUNNING,
                      description="After each successful settlement run: its Great Expectations suite, in a run of its own")
def settlement_expectations_sensor(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    sid = run.tags.get("dagster/partition") or run.tags.get(SETTLEMENT_ID_TAG)
    if not sid:
        return dg.SkipReason(f"run {run.run_id} names no settlement")
    return dg.RunRequest(run_key=f"expectations-{run.run_id}",
                         tags={SETTLEMENT_ID_TAG: sid, TRIGGER_TAG: f"after run {run.run_id}"})


def _raw_dir():
    from sage_amazon import config

    return config.load().raw_dir


def _queue_documents(context, queue) -> tuple[list[str], list[str]]:
    """Settlement REPORT_PROCESSING_FINISHED notifications on the settlements queue: (document ids, receipt handles,
    deleted once the documents are stored). Anything else there (reports of other types, which nothing consumes)
    is deleted at once, so it never clogs the queue."""
    from sage_amazon.ledger import intake

    try:
        messages = queue.receive_batch(limit=MAX_MESSAGES, wait_seconds=0, visibility_timeout=120)
    except Exception as exc:  # no queue reachable: getReports polling still finds every report
        context.log.info(f"notification queue not read: {type(exc).__name__}")
        return [], []
    docs, handles = intake.settlement_documents(messages)
    mine = set(handles)
    others = [m.receipt_handle for m in messages if m.receipt_handle not in mine]
    if others:
        try:
            queue.delete(others)
            context.log.info(f"deleted {len(others)} notification(s) of reports nothing consumes")
        except Exception as exc:  # noqa: BLE001 - they come back after their visibility timeout
            context.log.warning(f"could not delete unconsumed notifications: {exc}")
    return docs, handles


def run_key(settlement_id: str, sha256: str) -> str:
    """A settlement run's key: the settlement and its file's content (a reissue is another run)."""
    return f"{settlement_id}:{sha256[:16]}" if sha256 else settlement_id


def evaluate_discovery(context, api, raw_dir, instance, document_ids=None, warehouse_path=None):
    """The sensor's work, callable from tests with any SP-API client object. With `warehouse_path`,
    unreadable files and reissues are put on hold (ledger/reissue.screen) and held settlements not run."""
    from sage_amazon.ledger import intake

    cursor = json.loads(context.cursor) if context.cursor else {}
    found = intake.discover(api, raw_dir, cursor, document_ids=document_ids or [])
    for error in found.errors:
        context.log.warning(error)
    held: set[str] = set()
    if warehouse_path is not None:  # unreadable files and reissues on hold, visible as dead letters
        from sage_amazon.ledger import holds, reissue
        from sage_amazon.warehouse import Warehouse

        try:  # within the sensor's 60 s: a warehouse busy longer leaves the screening to the next tick
            for line in reissue.screen(raw_dir, warehouse_path, found.rejected, lock_timeout=20):
                context.log.warning(line)
            with Warehouse(warehouse_path, lock_timeout=20).read() as con:
                held = set(holds.held(con))
        except Exception as exc:  # noqa: BLE001 - the runs still start; the landing refuses a bad file
            context.log.warning(f"settlements not screened for holds and reissues: {exc}")
    # keyed by settlement AND content: a report Amazon reissues for the same settlement id is a new run
    contents = {s.settlement_id: s.sha256 for s in found.stored if not s.unreadable and s.settlement_id not in held}
    ids = sorted(contents)
    existing = set(instance.get_dynamic_partitions(settlement_partitions.name))
    new = [i for i in ids if i not in existing]
    requests = [dg.RunRequest(run_key=run_key(i, contents[i]), partition_key=i,
                              tags={SETTLEMENT_ID_TAG: i, TRIGGER_TAG: "sp-api"}) for i in ids]
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[settlement_partitions.build_add_request(new)] if new else [],
        cursor=json.dumps(found.cursor, sort_keys=True),
        skip_reason=None if requests else dg.SkipReason(
            "no new settlement report" + (f" ({len(found.errors)} error(s): {found.errors[0]})" if found.errors else "")),
    )


@dg.sensor(job=settlement_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING,
           description="New Amazon settlement reports (getReports + REPORT_PROCESSING_FINISHED) -> partitions and runs.")
def settlement_discovery_sensor(context: dg.SensorEvaluationContext, sp_api: SpApiResource,
                                settlements_queue: SqsResource):
    from sage_amazon import config

    docs, handles = _queue_documents(context, settlements_queue)
    result = evaluate_discovery(context, sp_api.get_client(), _raw_dir(), context.instance, docs,
                                warehouse_path=config.load().warehouse_path)
    if handles:
        try:
            settlements_queue.delete(handles)  # the documents are on disk now (or getReports lists them again)
        except Exception as exc:
            context.log.warning(f"could not delete settlement notifications: {exc}")
    return result


def reconciliation_requests(instance, warehouse_path, day: str) -> list[dg.RunRequest]:
    """A run for every settlement partition not fully posted yet (landing failed, dead letters, never run)."""
    from sage_amazon.ledger import posting
    from sage_amazon.warehouse import Warehouse

    keys = list(instance.get_dynamic_partitions(settlement_partitions.name))
    if not keys:
        return []
    from sage_amazon.ledger import holds, reissue

    with Warehouse(warehouse_path, lock_timeout=60).read() as con:
        landed = posting.unposted_settlements(con)
        from sage_amazon.warehouse import table_exists

        known = set()
        if table_exists(con, "raw.settlement_reports"):
            known = {r[0] for r in con.execute("SELECT settlement_id FROM raw.settlement_reports").fetchall()}
        held = holds.held(con)  # unreadable file, reissue on hold: visible dead letters, not run
        correcting = set(reissue.correcting(con))  # a reissue whose difference journal is still to post
    pending = [k for k in keys if (k not in known or k in set(landed) or k in correcting) and k not in held]
    return [dg.RunRequest(run_key=f"reconcile-{k}-{day}", partition_key=k,
                          tags={SETTLEMENT_ID_TAG: k, TRIGGER_TAG: "daily-reconciliation"}) for k in sorted(pending)]


settlement_cogs_job = dg.define_asset_job(
    "settlement_cogs_job",
    selection=dg.AssetSelection.groups(settlements.FLOW) & dg.AssetSelection.assets("settlement_cogs"),
    partitions_def=settlement_partitions,
    description="One settlement's COGS journals (partition = settlement id): run by settlement_cogs_retry_sensor "
                "once the Sage item or cost a period waited for exists.",
    tags={FLOW_TAG: settlements.FLOW},
    executor_def=dg.in_process_executor,
)


def cogs_retry_requests(warehouse, sage) -> list[dg.RunRequest]:
    """A settlement_cogs run for each settlement whose waiting COGS rows Sage can now value (run key: the
    settlement and what was found, so one run per change)."""
    from sage_amazon.ledger import cogs

    with warehouse.read() as con:
        found = cogs.waiting(con)
    if not found:
        return []
    with sage.opened_target() as target:
        due = cogs.ready_to_retry(found, target, sage.target)
    return [dg.RunRequest(run_key=f"cogs-ready-{sid}-{key}", partition_key=sid,
                          tags={SETTLEMENT_ID_TAG: sid, TRIGGER_TAG: "cogs cost found in Sage"})
            for sid, key in sorted(due.items())]


@dg.sensor(job=settlement_cogs_job, minimum_interval_seconds=900, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Every 15 minutes: a settlement whose COGS waits for a Sage item or cost is posted as soon "
                       "as Sage has it (asks Sage only while something waits)")
def settlement_cogs_retry_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                                 sage: SageResource):
    from sage_amazon.errors import one_line

    try:
        requests = cogs_retry_requests(warehouse, sage)
    except Exception as exc:  # Sage unreachable: asked again at the next tick
        return dg.SkipReason(f"Sage not asked for the COGS waiting: {one_line(exc)}")
    return requests or dg.SkipReason("no COGS waits for a Sage item or cost that Sage now has")


@dg.schedule(job=settlement_job, cron_schedule="0 6 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Daily: reconcile and post every settlement not yet posted (retries dead letters).")
def settlement_reconciliation_schedule(context: dg.ScheduleEvaluationContext):
    from sage_amazon import config

    day = (context.scheduled_execution_time or datetime.now(UTC)).strftime("%Y-%m-%d")
    requests = reconciliation_requests(context.instance, config.load().warehouse_path, day)
    if not requests:
        return dg.SkipReason("every settlement is posted")
    return requests
