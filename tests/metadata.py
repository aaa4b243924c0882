"""Asset metadata as a user reads it in the UI: one materialization per partition of a run."""

from __future__ import annotations

from typing import Any

import dagster as dg


def by_partition(result: dg.ExecuteInProcessResult, node: str) -> dict[str, dict[str, Any]]:
    """Partition key -> that partition's metadata values, for one asset of a run."""
    return {m.partition: {k: v.value for k, v in m.metadata.items()}
            for m in result.asset_materializations_for_node(node)}


def summed(result: dg.ExecuteInProcessResult, node: str, name: str) -> int:
    """A count over every partition of the run (each partition reports its own day)."""
    return sum(md.get(name, 0) for md in by_partition(result, node).values())
