"""Planning `sage-amazon run`: the asset graph split into stages Dagster can run in order (one ranged run
for the daily and unpartitioned assets, then one run per settlement partition).
"""

from __future__ import annotations

import dagster as dg

from .session import project_defs

STAGE_TIME, STAGE_SETTLEMENT = "time", "settlement"


def stage_kind(asset_node) -> str:
    pdef = asset_node.partitions_def
    if pdef is None:
        return "none"
    return STAGE_SETTLEMENT if isinstance(pdef, dg.DynamicPartitionsDefinition) else STAGE_TIME


def plan_stages(graph=None) -> list[tuple[str, list[dg.AssetKey]]]:
    """Split the asset graph into runs that can execute in order.

    Unpartitioned and daily assets share a run (one ranged run over the days), then settlement assets
    run once per settlement id; an asset downstream of a settlement asset starts the next stage.
    """
    graph = graph or project_defs().resolve_asset_graph()
    index: dict[dg.AssetKey, int] = {}
    for level in graph.toposorted_asset_keys_by_level:
        for key in level:
            node = graph.get(key)
            kind = stage_kind(node)
            stage = 0
            for parent in node.parent_keys:
                if parent not in index:
                    continue
                # within a stage the time run goes first, so only leaving the settlement runs needs a new stage
                parent_kind = stage_kind(graph.get(parent))
                compatible = parent_kind != STAGE_SETTLEMENT or kind == STAGE_SETTLEMENT
                stage = max(stage, index[parent] + (0 if compatible else 1))
            index[key] = stage
    stages: dict[tuple[int, str], list[dg.AssetKey]] = {}
    for key, stage in index.items():
        group = STAGE_SETTLEMENT if stage_kind(graph.get(key)) == STAGE_SETTLEMENT else STAGE_TIME
        stages.setdefault((stage, group), []).append(key)
    order = sorted(stages, key=lambda sg: (sg[0], sg[1] == STAGE_SETTLEMENT))
    return [(group, sorted(stages[(stage, group)])) for stage, group in order]
