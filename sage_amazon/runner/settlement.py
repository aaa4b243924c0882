"""`sage-amazon settlement import [--run]`: one settlement's partition, and its job run in this process."""

from __future__ import annotations

import dagster as dg

from assets.flow import SETTLEMENT_ID_TAG, TRIGGER_TAG
from assets.partitions import settlement_partitions

from .execution import execute
from .progress import progress_logger
from .session import begin, embedded_instance, project_defs, refresh_reader_snapshot


def add_settlement_partition(settlement_id: str, instance: dg.DagsterInstance | None = None) -> bool:
    """Add the settlement id as a partition of `settlement_ids`; False if it was there already."""
    from sqlalchemy.exc import IntegrityError

    instance = instance or embedded_instance()
    if instance.has_dynamic_partition(settlement_partitions.name, settlement_id):
        return False
    try:
        instance.add_dynamic_partitions(settlement_partitions.name, [settlement_id])
    except IntegrityError:  # another command added it since the look (several imports at once): it is there
        if instance.has_dynamic_partition(settlement_partitions.name, settlement_id):
            return False
        raise
    return True


def run_settlement(settlement_id: str, instance: dg.DagsterInstance | None = None) -> tuple[bool, str]:
    """Run the settlement job for one partition in this process: (success, run id)."""
    instance = instance or embedded_instance()
    begin(instance, own_warehouse=True)
    # one progress line per step, like `run` (not Dagster's DEBUG console log)
    run_defs = dg.Definitions.merge(project_defs(), dg.Definitions(loggers={"progress": progress_logger}))
    try:
        result = execute(run_defs.resolve_job_def("settlement_job"), instance, partition_key=settlement_id,
                         run_config={"loggers": {"progress": {}}},
                         tags={SETTLEMENT_ID_TAG: settlement_id, TRIGGER_TAG: "import"})
    finally:
        refresh_reader_snapshot()
    return result.success, result.run_id
