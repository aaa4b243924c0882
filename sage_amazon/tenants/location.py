"""One code location per tenant: `sage_amazon.tenants.location` with the tenant's name as attribute.

    load_from:
      - python_module: {module_name: sage_amazon.tenants.location, attribute: acme, location_name: tenant_acme}

Loading the attribute `acme` makes this process acme's (its settings from the tenants file, `tenants_file.apply`)
and builds the project's own Definitions: the same assets, checks, jobs, sensors and schedules, with acme's pools
(`acme/sp_api_eu`...), the in-process executor (a run executes whole in the Celery worker that owns the tenant's
warehouse: DuckDB's one writer), and the jobs `sage-amazon run` executes (`tenant_stage_<i>`,
`tenant_settlement_discovery`) so the tenants' runner can launch them through the webserver. The attribute is
also what a Celery worker loads to execute the run, so the tenant travels with the run's code origin.
A process serves one tenant: the project reads some settings when its modules are imported.
"""

from __future__ import annotations

import json
import sys

import dagster as dg

from sage_amazon.tenants.tenants_file import Tenant, apply, find

TENANT_TAG = "sage_amazon/tenant"
STAGE_JOB = "tenant_stage_{}"
DISCOVERY_JOB = "tenant_settlement_discovery"
PENDING_METADATA = "pending settlements"

_served: dict[str, dg.Definitions] = {}


def __getattr__(name: str) -> dg.Definitions:
    if name.startswith("__"):
        raise AttributeError(name)
    if name in _served:
        return _served[name]
    if _served or "resources.pools" in sys.modules:
        served = next(iter(_served), "the project's own settings")
        raise dg.DagsterInvariantViolationError(
            f"this process already serves {served}; tenant {name} needs its own process (one code location each)")
    tenant = find(name)
    apply(tenant)
    _served[name] = tenant_definitions(tenant)
    return _served[name]


def tenant_definitions(tenant: Tenant) -> dg.Definitions:
    from sage_amazon.definitions import defs as project

    tags = {TENANT_TAG: tenant.name}
    graph = project.resolve_asset_graph()
    from sage_amazon.runner.planning import STAGE_SETTLEMENT, plan_stages

    stages = plan_stages(graph)
    jobs = []
    for i, (group, keys) in enumerate(stages):
        keys = [k for k in keys if graph.get(k).is_executable]  # an external asset is observed, never run
        kind = group if group == STAGE_SETTLEMENT else (
            "daily" if any(graph.get(k).partitions_def is not None for k in keys) else "unpartitioned")
        jobs.append(dg.define_asset_job(f"{STAGE_JOB.format(i)}_{kind}", selection=keys, tags=tags,
                                        description=f"`sage-amazon run` stage {i} ({kind}) for tenant {tenant.name}"))
    settlement = next((keys for group, keys in stages if group == STAGE_SETTLEMENT), None)
    if settlement is not None:
        jobs.append(_discovery_job(graph.get(settlement[0]).partitions_def, tags))
    automation = {"sensors": project.sensors, "schedules": project.schedules} if tenant.automation else {}
    own = dg.Definitions(assets=project.assets, asset_checks=project.asset_checks, jobs=[*(project.jobs or []), *jobs],
                         resources=project.resources, loggers=project.loggers, executor=dg.in_process_executor,
                         **automation)
    return own


def _discovery_job(pdef: dg.DynamicPartitionsDefinition, tags: dict[str, str]) -> dg.JobDefinition:
    from resources import pools

    @dg.op(name="settlement_discovery", pool=pools.SP_API)
    def settlement_discovery(context) -> list[str]:
        """What `sage-amazon run` does before its settlement stage: new settlement reports fetched and stored,
        a partition for each, then every settlement not landed or not fully posted yet."""
        from sage_amazon.runner.discovery import pending_settlements

        pending = pending_settlements(context.instance, pdef)
        context.add_output_metadata({PENDING_METADATA: dg.MetadataValue.json(json.loads(json.dumps(pending)))})
        return pending

    @dg.job(name=DISCOVERY_JOB, tags=tags, executor_def=dg.in_process_executor,
            description="settlement discovery, as `sage-amazon run` does it before the settlement stage")
    def discovery() -> None:
        settlement_discovery()

    return discovery
