"""The queued run coordinator, with every run of a tenant's code location tagged before it is queued.

A run of location `tenant_<name>` (a sensor's, a schedule's, the UI's, a backfill's, a retry's) gets the tags
`sage_amazon/tenant=<name>` (the instance's tag concurrency limit per tenant applies to it) and
`dagster-celery/queue=<queue of the tenant>` (dagster-celery's CeleryRunLauncher sends it to the worker that owns
the tenant's warehouse). The queue comes from the tenants file (SAGE_AMAZON_TENANTS_FILE) of the process that
submits the run: the webserver and the daemon. Everything else is Dagster's QueuedRunCoordinator.
"""

from __future__ import annotations

from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext
from dagster._core.storage.dagster_run import DagsterRun
from dagster_celery.tags import DAGSTER_CELERY_QUEUE_TAG

from sage_amazon.tenants.location import TENANT_TAG
from sage_amazon.tenants.tenants_file import load

LOCATION_PREFIX = "tenant_"


def tenant_tags(location_name: str | None) -> dict[str, str]:
    """The run tags of a tenant's location (none for another location)."""
    if not location_name or not location_name.startswith(LOCATION_PREFIX):
        return {}
    name = location_name[len(LOCATION_PREFIX):]
    for tenant in load():
        if tenant.name == name:
            return {TENANT_TAG: tenant.name, DAGSTER_CELERY_QUEUE_TAG: tenant.queue}
    return {}


class TenantRunCoordinator(QueuedRunCoordinator):
    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        origin = run.remote_job_origin
        location = origin.location_name if origin is not None else None
        missing = {k: v for k, v in tenant_tags(location).items() if run.tags.get(k) != v}
        if missing:
            self._instance.add_run_tags(run.run_id, missing)
            run = self._instance.get_run_by_id(run.run_id) or run
        return super().submit_run(SubmitRunContext(run, context.workspace))
