"""The cockpit's jobs: its assets refreshed every 15 minutes (and after a replay), and the dead-letter replay
launchable from the UI (Launchpad config: flow, reason), which runs `sage-amazon deadletter replay`, the one replay."""

import dagster as dg

from assets import cockpit
from assets.cockpit.assets import dead_letter_metadata
from assets.flow import FLOW_TAG, TRIGGER_TAG
from resources.warehouse import WarehouseResource

cockpit_job = dg.define_asset_job(
    "cockpit_job",
    selection=dg.AssetSelection.groups(cockpit.FLOW),
    description="The cockpit's tables and numbers: the settlements overview, per-flow counts, open dead letters",
    tags={FLOW_TAG: cockpit.FLOW},
    executor_def=dg.in_process_executor,
)


@dg.schedule(job=cockpit_job, cron_schedule="*/15 * * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every 15 minutes: the cockpit's dead-letter list and counts")
def cockpit_schedule(context: dg.ScheduleEvaluationContext):
    return dg.RunRequest(run_key=None, tags={TRIGGER_TAG: "schedule"})


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
    return found


@dg.job(description="Replay dead letters from the UI: Launchpad config `ops: replay_dead_letters: config: "
                    "{flow: orders, reason: NW-FILTER-SQ}` (either may be left out). Runs `sage-amazon deadletter "
                    "replay`; the list in open_dead_letters is refreshed after it.",
        tags={FLOW_TAG: cockpit.FLOW, TRIGGER_TAG: "replay"}, executor_def=dg.in_process_executor)
def deadletter_replay_job():
    replay_dead_letters()
