"""The cockpit's jobs: its assets refreshed after other flows' runs (and after a replay), and the dead-letter replay
launchable from the UI (Launchpad config: flow, reason), which runs `sage-amazon deadletter replay`, the one replay."""

import dagster as dg

from assets import cockpit
from assets.cockpit.assets import dead_letter_metadata
from assets.flow import FLOW_TAG, SETTLEMENT_ID_TAG, TRIGGER_TAG
from assets.partitions import settlement_partitions
from resources.warehouse import WarehouseResource

FIGURES = dg.AssetSelection.assets("settlement_figures")  # per settlement: its own job, by partition

cockpit_job = dg.define_asset_job(
    "cockpit_job",
    selection=dg.AssetSelection.groups(cockpit.FLOW) - FIGURES,
    description="The cockpit's tables and numbers: the settlements overview, per-flow counts, open dead letters",
    tags={FLOW_TAG: cockpit.FLOW},
    executor_def=dg.in_process_executor,
)

settlement_figures_job = dg.define_asset_job(
    "settlement_figures_job",
    selection=dg.AssetSelection.groups(cockpit.FLOW) & FIGURES,
    partitions_def=settlement_partitions,
    description="One settlement's figures (totals, fees by kind, fee rate, units) for the Plots tab",
    tags={FLOW_TAG: cockpit.FLOW},
    executor_def=dg.in_process_executor,
)


def _settlements_of(instance: dg.DagsterInstance, runs) -> list[str]:
    """The settlement partitions the runs were for (the settlement job's runs, `run`'s and imports' runs)."""
    found = set()
    for run in runs:
        sid = run.tags.get(SETTLEMENT_ID_TAG) or run.tags.get("dagster/partition")
        if sid and run.status == dg.DagsterRunStatus.SUCCESS and instance.has_dynamic_partition(
                settlement_partitions.name, sid):
            found.add(sid)
    return sorted(found)


@dg.sensor(jobs=[cockpit_job, settlement_figures_job], minimum_interval_seconds=120,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="After other runs end (succeeded or failed), at most every 2 minutes: the cockpit's "
                       "settlements overview, per-flow counts and dead-letter list brought up to date, and the "
                       "figures of each settlement a run succeeded for (first tick: of every settlement without them)")
def cockpit_refresh_sensor(context: dg.SensorEvaluationContext):
    """One cockpit run for all the runs of other flows that ended since the last one (cursor: storage id)."""
    after = int(context.cursor) if context.cursor else None
    newest, ended = after or 0, []
    for event_type in (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE):
        records = context.instance.fetch_run_status_changes(
            dg.RunStatusChangeRecordsFilter(event_type, after_storage_id=after), limit=200,
            ascending=after is not None).records
        for record in records:
            newest = max(newest, record.storage_id)
            ended.append(record.run_id)
    context.update_cursor(str(newest))
    tags = {TRIGGER_TAG: "sensor"}
    if after is None:  # first tick: one refresh for whatever happened before the sensor was on
        done = context.instance.get_materialized_partitions(dg.AssetKey("settlement_figures"))
        missing = [sid for sid in context.instance.get_dynamic_partitions(settlement_partitions.name)
                   if sid not in done]
        return [dg.RunRequest(run_key=f"cockpit-{newest}", job_name="cockpit_job", tags=tags),
                *(dg.RunRequest(run_key=f"figures-{sid}-{newest}", job_name="settlement_figures_job",
                                partition_key=sid, tags=tags) for sid in missing)]
    runs = context.instance.get_runs(dg.RunsFilter(run_ids=ended)) if ended else []
    others = [run for run in runs if run.tags.get(FLOW_TAG) != cockpit.FLOW]
    if not others:
        return dg.SkipReason("no run of another flow ended since the last refresh")
    return [dg.RunRequest(run_key=f"cockpit-{newest}", job_name="cockpit_job", tags=tags),
            *(dg.RunRequest(run_key=f"figures-{sid}-{newest}", job_name="settlement_figures_job", partition_key=sid,
                            tags=tags) for sid in _settlements_of(context.instance, others))]


class ReplayConfig(dg.Config):
    """Which open dead letters to replay; both empty replays every open one."""

    flow: str | None = None  # orders, order_shipments, settlement, mfn_shipments, ... (an unknown flow fails)
    reason: str | None = None  # only dead letters whose reason contains this text (case-insensitive)


STOP_GRACE_SECONDS = 150.0  # the replay command finishes the chunk in flight (its own grace is 120 s), then ends


@dg.op(description="`sage-amazon deadletter replay --flow F --reason R`: re-runs the flows of the matching dead "
                   "letters (a fixed mapping takes effect), then reports what it resolved and what is still open "
                   "under which reason. Its runs appear in the UI.",
       tags={TRIGGER_TAG: "replay"})
def replay_dead_letters(context: dg.OpExecutionContext, config: ReplayConfig, warehouse: WarehouseResource):
    import subprocess

    from sage_amazon.cockpit import deadletters as cockpit_letters

    with warehouse.write() as con:
        try:
            cockpit_letters.check_flow(con, config.flow)
        except cockpit_letters.UnknownFlow as exc:
            raise dg.Failure(description=str(exc)) from None
    argv = cockpit_letters.replay_argv(config.flow, config.reason)
    context.log.info("running " + " ".join(["sage-amazon", *argv[3:]]))
    output: list[str] = []
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:
            output.append(line.rstrip("\n"))
            context.log.info(output[-1])
        code = proc.wait()
    finally:  # the run was terminated from the UI: the command stops as on Ctrl-C (a posting is never cut)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
    report = _report(output)
    with warehouse.write() as con:
        context.log_event(dg.AssetMaterialization(asset_key="open_dead_letters", metadata=dead_letter_metadata(con)))
    metadata = {**report, "output": dg.MetadataValue.md("```\n" + "\n".join(output[-200:]) + "\n```")}
    if code != 0:
        raise dg.Failure(description=f"deadletter replay ended with exit code {code}: "
                                     + (output[-1] if output else "no output"), metadata=metadata)
    context.add_output_metadata(metadata)
    return report.get("resolved", dg.MetadataValue.int(0)).value


def _report(output: list[str]) -> dict:
    """The replay's counts from its report line ("N resolved, M still open.")."""
    import re

    found: dict = {}
    for line in output:
        match = re.fullmatch(r"(\d+) resolved, (\d+) still open\.", line.strip())
        if match:
            found = {"resolved": dg.MetadataValue.int(int(match[1])),
                     "still_open": dg.MetadataValue.int(int(match[2]))}
    found["on_hold"] = dg.MetadataValue.int(sum(line.strip().startswith("on hold, not replayed") for line in output))
    also = [line for line in output if line.startswith("Also posted while the replay ran: ")]
    if also:  # the loads re-ran whole: what else went to Sage
        found["also_posted"] = dg.MetadataValue.text(also[-1].split(": ", 1)[1])
    return found


@dg.job(description="Replay dead letters from the UI: Launchpad config `ops: replay_dead_letters: config: "
                    "{flow: orders, reason: NW-FILTER-SQ}` (either may be left out). Runs `sage-amazon deadletter "
                    "replay`; the list in open_dead_letters is refreshed after it.",
        tags={FLOW_TAG: cockpit.FLOW, TRIGGER_TAG: "replay"}, executor_def=dg.in_process_executor)
def deadletter_replay_job():
    replay_dead_letters()


MAX_ALERTS_PER_MAIL = 100
ALERT_LOCK_SECONDS = 20.0  # a busy warehouse: the dead letters wait for the next tick


def _failed_run_alert(instance: dg.DagsterInstance, record):
    from sage_amazon.cockpit import alerts

    run = instance.get_run_by_id(record.run_id)
    tags = run.tags if run else {}
    where = tags.get("sage_amazon/settlement_id") or tags.get("dagster/partition") or ""
    if not where and tags.get("dagster/asset_partition_range_start"):
        where = f"{tags['dagster/asset_partition_range_start']}..{tags.get('dagster/asset_partition_range_end', '')}"
    steps = instance.all_logs(record.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    name = run.job_name if run else "run"
    if name.startswith("__"):  # materialized from the UI (an implicit asset job): the assets say more
        selected = sorted(key.to_user_string() for key in (run.asset_selection or ())) if run else []
        name = ", ".join(selected or sorted({entry.step_key for entry in steps if entry.step_key})) or name
    title = f"{name} (run {record.run_id[:8]})" + (f" [{where}]" if where else "")
    reasons = []
    for entry in steps[:3]:
        error = entry.dagster_event.step_failure_data.error
        while error is not None and error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
            error = error.cause  # the product's own error, not Dagster's wrapper around it
        text = (error.message if error else entry.message or "").strip().splitlines()
        reasons.append(f"{entry.step_key}: {text[0] if text else ''}")
    return alerts.Alert("failed run", title, "; ".join(reasons) or (record.event_log_entry.message or ""))


def _failed_check_alert(entry):
    """A failed ERROR-severity check evaluation (an event log entry of a run), or None."""
    from sage_amazon.cockpit import alerts

    evaluation = entry.dagster_event.event_specific_data
    if evaluation.passed or evaluation.severity != dg.AssetCheckSeverity.ERROR:
        return None
    partition = evaluation.partition or entry.dagster_event.partition or ""
    title = f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}" + (f" [{partition}]" if partition else "")
    detail = evaluation.description or "; ".join(
        f"{k}: {v.value}" for k, v in evaluation.metadata.items() if isinstance(v.value, str | int | float))[:500]
    return alerts.Alert("failed check", title, detail)


def _late_asset_alert(record):
    """A Sage-facing asset whose freshness policy (assets/freshness.py) turned FAIL: nothing reached Sage in time."""
    from sage_amazon.cockpit import alerts

    change = record.event_log_entry.dagster_event.asset_freshness_state_change_data
    if change.new_state.value != "FAIL":
        return None
    return alerts.Alert("late asset", change.key.to_user_string(),
                        f"not materialized within its freshness policy (was {change.previous_state.value}): "
                        "its schedule or sensor is off, its runs fail, or what feeds it stopped")


ENDED = (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE)


def _event_records(instance: dg.DagsterInstance, kind: str, after: int | None, limit: int) -> list:
    """Run failures ("runs"), runs ended ("check_runs") or freshness changes after a storage id (None: the newest
    one only), oldest first. Run status changes and freshness changes are in every storage's cross-run index; check
    evaluations are not (the embedded SQLite instance keeps them in each run's file and refuses a cross-run
    cursor), so the checks are read from the runs that ended."""
    if kind == "freshness":
        records_filter = dg.EventRecordsFilter(dg.DagsterEventType.FRESHNESS_STATE_CHANGE, after_cursor=after)
        return list(instance.get_event_records(records_filter, limit=limit, ascending=after is not None))
    found, cutoff = [], None
    for event_type in ((dg.DagsterEventType.RUN_FAILURE,) if kind == "runs" else ENDED):
        records_filter = dg.RunStatusChangeRecordsFilter(event_type, after_storage_id=after)
        records = list(instance.fetch_run_status_changes(records_filter, limit=limit, ascending=after is not None)
                       .records)
        if after is not None and len(records) == limit:  # more to come: nothing past it is taken this tick
            cutoff = min(cutoff or records[-1].storage_id, records[-1].storage_id)
        found += records
    found.sort(key=lambda record: record.storage_id)
    if after is None:
        return found[-1:]
    return [record for record in found if cutoff is None or record.storage_id <= cutoff]


def _check_alerts(instance: dg.DagsterInstance, record) -> list:
    """The failed checks of a run that ended."""
    entries = instance.all_logs(record.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return [alert for alert in map(_failed_check_alert, entries) if alert is not None]


def _event_alerts(instance: dg.DagsterInstance, cursor: dict, new_cursor: dict) -> list:
    """Failed runs, failed (ERROR) checks of the runs that ended and late assets after the cursor's storage ids; a
    first tick only takes the ids."""
    alerts_of = {"runs": lambda record: [_failed_run_alert(instance, record)],
                 "check_runs": lambda record: _check_alerts(instance, record),
                 "freshness": lambda record: [alert for alert in [_late_asset_alert(record)] if alert is not None]}
    found: list = []
    for kind in ("runs", "check_runs", "freshness"):
        after = cursor.get(kind)
        if after is None:  # watching from now: the history was not news
            latest = _event_records(instance, kind, None, 1)
            new_cursor[kind] = latest[0].storage_id if latest else 0
            continue
        for record in _event_records(instance, kind, after, 500):
            found += alerts_of[kind](record)
            new_cursor[kind] = record.storage_id
    new_cursor.pop("checks", None)  # the cross-run check cursor of earlier versions
    return found


def _letter_alerts(warehouse: WarehouseResource, cursor: dict, new_cursor: dict) -> list:
    from datetime import datetime

    from sage_amazon.cockpit import alerts
    from sage_amazon.warehouse import Warehouse, WarehouseBusy

    try:
        with Warehouse(warehouse.path, lock_timeout=ALERT_LOCK_SECONDS).read() as con:
            if "letters" not in cursor:  # watching from now
                _, newest = alerts.dead_letter_alerts(con, None)
                new_cursor["letters"] = newest.isoformat() if newest else ""
                return []
            since = datetime.fromisoformat(cursor["letters"]) if cursor["letters"] else None
            found, newest = alerts.dead_letter_alerts(con, since)
    except WarehouseBusy:
        return []
    if newest is not None:
        new_cursor["letters"] = newest.isoformat()
    return found


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="E-mails the operators (SAGE_AMAZON_SMTP_HOST, SAGE_AMAZON_ALERT_TO...; see "
                       "sage_amazon/cockpit/alerts.py) when a run fails, a blocking-severity check fails, a Sage-facing "
                       "asset fails its freshness policy (assets/freshness.py), or a dead letter opens (a settlement blocked or on hold, an order Sage refused). One message "
                       "per tick; an e-mail that cannot be sent is tried again on the next tick.")
def cockpit_alerts_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    import json
    import os

    from sage_amazon.cockpit import alerts

    try:
        settings = alerts.settings_from_env()
    except alerts.AlertConfigError as exc:
        return dg.SkipReason(f"no alerts sent: {exc}")
    if settings is None:
        return dg.SkipReason("no alerts: SAGE_AMAZON_SMTP_HOST is not set (see sage_amazon/cockpit/alerts.py)")
    cursor = json.loads(context.cursor) if context.cursor else {}
    new_cursor = dict(cursor)
    found = _event_alerts(context.instance, cursor, new_cursor) + _letter_alerts(warehouse, cursor, new_cursor)
    if not found:
        context.update_cursor(json.dumps(new_cursor))
        return dg.SkipReason("nothing new" if cursor else "watching from now on")
    shown = found[:MAX_ALERTS_PER_MAIL]
    if len(found) > len(shown):
        shown.append(alerts.Alert("more", f"{len(found) - len(shown)} more", "see the Dagster UI"))
    message = alerts.compose(shown, settings, os.environ.get("SAGE_AMAZON_UI_URL", ""))
    try:
        alerts.send(settings, message)
    except Exception as exc:  # noqa: BLE001 - SMTP down or refusing: the cursor stays, the next tick tries again
        return dg.SkipReason(f"alert e-mail not sent to {settings.where()}: {type(exc).__name__}: {exc}"[:500])
    context.update_cursor(json.dumps(new_cursor))
    return dg.SkipReason(f"sent {message['Subject']!r} to {len(settings.recipients)} recipient(s)")


class DigestConfig(dg.Config):
    """The window of "posted since": the schedule passes the previous day's tick; by hand, the last 24 hours."""

    since: str | None = None  # ISO date-time (UTC); empty: 24 hours before the run starts


@dg.op(description="E-mails the daily digest (SMTP settings as for the alerts): what was posted to Sage since the "
                   "last digest per flow, the settlements waiting, on hold or blocked and why, open dead letters.")
def send_daily_digest(context: dg.OpExecutionContext, config: DigestConfig, warehouse: WarehouseResource):
    import os
    from datetime import UTC, datetime, timedelta

    from sage_amazon.cockpit import alerts

    settings = alerts.settings_from_env()  # a bad setting fails the run, naming it
    if settings is None:
        context.log.warning("no digest sent: SAGE_AMAZON_SMTP_HOST is not set (see sage_amazon/cockpit/alerts.py)")
        return None
    since = (datetime.fromisoformat(config.since) if config.since
             else datetime.now(UTC) - timedelta(hours=24))  # by hand: the last 24 hours
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with warehouse.write() as con:
        message = alerts.digest(con, since, settings, os.environ.get("SAGE_AMAZON_UI_URL", ""))
    alerts.send(settings, message)  # an SMTP failure fails the run (the alerts sensor then says so)
    context.log.info(f"sent {message['Subject']!r} to {len(settings.recipients)} recipient(s)")
    context.add_output_metadata({"subject": message["Subject"]})
    return message["Subject"]


@dg.job(description="The daily digest by e-mail: posted, waiting and why, dead letters", tags={FLOW_TAG: cockpit.FLOW},
        executor_def=dg.in_process_executor)
def cockpit_digest_job():
    send_daily_digest()


@dg.schedule(job=cockpit_digest_job, cron_schedule="0 7 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="07:00 UTC: the daily digest of the 24 hours before (nothing sent without SMTP settings)")
def cockpit_digest_schedule(context: dg.ScheduleEvaluationContext):
    from datetime import timedelta

    since = context.scheduled_execution_time - timedelta(days=1)
    return dg.RunRequest(run_config={"ops": {"send_daily_digest": {"config": {"since": since.isoformat()}}}},
                         tags={TRIGGER_TAG: "schedule"})
