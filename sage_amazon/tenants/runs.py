"""What `sage-amazon run` does, for many tenants at once, through the deployment: each run is launched on the
webserver (GraphQL), queued by the daemon (tag concurrency per tenant, pools per tenant) and executed by the
Celery worker of the tenant's queue. Stage by stage as `sage-amazon run` plans them (`tenant_stage_<i>_<kind>`
jobs of the tenant's code location), settlement discovery, then one run per pending settlement. A run that
failed and that Dagster retries (a killed worker's) is followed to its retry.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.storage.tags import PARENT_RUN_ID_TAG, WILL_RETRY_TAG

from sage_amazon.tenants.location import DISCOVERY_JOB, PENDING_METADATA, STAGE_JOB
from sage_amazon.tenants.tenants_file import Tenant

REPOSITORY = "__repository__"
STAGE = re.compile(r"^tenant_stage_(\d+)_(daily|settlement|unpartitioned)$")
RETRY_PATIENCE = 600.0  # seconds a failed run marked will_retry may wait for the daemon to queue its retry


class Stopped(RuntimeError):
    """The command was interrupted (Ctrl-C): the runs launched go on in the deployment."""


@dataclass
class TenantOutcome:
    tenant: str
    runs: list[tuple[str, bool, str]] = field(default_factory=list)  # (label, succeeded, final run id)
    queue_waits: list[float] = field(default_factory=list)  # seconds each run waited queued before it started

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(ok for _, ok, _ in self.runs)


def stage_job_name(i: int, kind: str) -> str:
    return f"{STAGE_JOB.format(i)}_{kind}"


def stage_jobs(client, tenant: Tenant) -> list[tuple[str, str]]:
    """(job name, kind) of the tenant's stage jobs, in order, read from its code location on the webserver."""
    query = """query($selector: RepositorySelector!) { repositoryOrError(repositorySelector: $selector) {
        __typename ... on Repository { jobs { name } } ... on PythonError { message } } }"""
    answer = client._execute(query, {"selector": {"repositoryLocationName": tenant.location,
                                                   "repositoryName": REPOSITORY}})["repositoryOrError"]
    if answer["__typename"] != "Repository":
        raise RuntimeError(f"tenant {tenant.name}: code location {tenant.location} not loaded: "
                           f"{answer.get('message', answer['__typename'])}")
    found = [(int(m.group(1)), j["name"], m.group(2)) for j in answer["jobs"] if (m := STAGE.match(j["name"]))]
    return [(name, kind) for _, name, kind in sorted(found)]


def wait_final(instance: dg.DagsterInstance, run_id: str, deadline: float,
               stop: threading.Event | None = None) -> dg.DagsterRun:
    """The run once finished, or its last retry's (Dagster's run retries of a run whose worker died)."""
    stop = stop or threading.Event()

    def pause() -> None:
        if stop.wait(2):
            raise Stopped(f"stopped while waiting for run {run_id[:8]}")

    while True:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            if run.status == dg.DagsterRunStatus.FAILURE and run.tags.get(WILL_RETRY_TAG) == "true":
                retry_deadline = min(deadline, time.monotonic() + RETRY_PATIENCE)
                child = None
                while child is None and time.monotonic() < retry_deadline:
                    children = instance.get_runs(dg.RunsFilter(tags={PARENT_RUN_ID_TAG: run_id}), limit=1)
                    child = children[0] if children else None
                    if child is None:
                        pause()
                if child is not None:
                    run_id = child.run_id
                    continue
            return run
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id[:8]} not finished in time (status {run.status.value if run else '?'})")
        pause()


def queue_wait(instance: dg.DagsterInstance, run_id: str) -> float:
    """Seconds the run waited in the queue: from created to started (the run's record)."""
    records = instance.get_run_records(dg.RunsFilter(run_ids=[run_id]), limit=1)
    if not records or records[0].start_time is None:
        return 0.0
    return max(0.0, records[0].start_time - records[0].create_timestamp.timestamp())


def run_tenant(client, instance: dg.DagsterInstance, tenant: Tenant, start: str, end: str,
               timeout: float = 3600.0, say: Callable[[str], None] = print,
               stop: threading.Event | None = None, settlements: int | None = None) -> TenantOutcome:
    """settlements: at most this many pending settlements (the first listed), all when None."""
    deadline = time.monotonic() + timeout
    outcome = TenantOutcome(tenant.name)

    def launch(job: str, label: str, tags: dict[str, str] | None = None) -> dg.DagsterRun:
        run_id = client.submit_job_execution(job, repository_location_name=tenant.location,
                                             repository_name=REPOSITORY, run_config={}, tags=tags or {})
        final = wait_final(instance, run_id, deadline, stop)
        outcome.queue_waits.append(queue_wait(instance, run_id))
        ok = final.status == dg.DagsterRunStatus.SUCCESS
        outcome.runs.append((label, ok, final.run_id))
        say(f"{tenant.name}: {label}: {final.status.value} ({final.run_id[:8]})")
        return final

    for job, kind in stage_jobs(client, tenant):
        if kind == "settlement":
            found = launch(DISCOVERY_JOB, "settlement discovery")
            for settlement_id in _pending(instance, found)[:settlements]:
                launch(job, f"settlement {settlement_id}", {"dagster/partition": settlement_id})
        elif kind == "daily":
            launch(job, f"days {start}..{end}", {"dagster/asset_partition_range_start": start,
                                                 "dagster/asset_partition_range_end": end})
        else:
            launch(job, "unpartitioned")
    return outcome


def _pending(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    if run.status != dg.DagsterRunStatus.SUCCESS:
        return []
    for record in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_OUTPUT).records:
        event = record.event_log_entry.dagster_event
        for name, value in (event.step_output_data.metadata or {}).items():
            if name == PENDING_METADATA:
                return [str(s) for s in value.value]
    return []


def run_tenants(webserver: str, tenants: list[Tenant], start: str, end: str, timeout: float = 3600.0,
                say: Callable[[str], None] = print, settlements: int | None = None) -> list[TenantOutcome]:
    """Every tenant at once (a thread each), each stage by stage: one tenant's wait never holds another's."""
    from dagster_graphql import DagsterGraphQLClient

    host, _, port = webserver.rpartition(":")
    stop = threading.Event()
    with dg.DagsterInstance.get() as instance:
        pool = ThreadPoolExecutor(max(1, len(tenants)))
        try:
            futures = [pool.submit(run_tenant, DagsterGraphQLClient(host, port_number=int(port), timeout=600),
                                   instance, tenant, start, end, timeout, say, stop, settlements)
                       for tenant in tenants]
            return [f.result() for f in futures]
        except BaseException:
            stop.set()  # Ctrl-C or one tenant's error: the other threads stop waiting too
            raise
        finally:
            pool.shutdown(wait=True)
