"""A flow is a unit: its assets, checks, SQL models, jobs, sensors and schedules as one `dg.Definitions`.

`flow_definitions` sets once, for every asset of the flow (Python assets and the SQL models whose
header says `-- flow: <name>`): the asset group (= the flow's name), the owners and the tag
`sage_amazon/flow`. Jobs select the flow's assets by group (`dg.AssetSelection.groups(name)`).
"""

from collections.abc import Sequence

import dagster as dg

from assets.freshness import policy_for
from assets.sql_models import sql_model_assets

FLOW_TAG = "sage_amazon/flow"  # on every asset of a flow and on every run the flow's jobs start
RUN_TAG_PREFIX = "sage_amazon/"  # every run tag the project sets starts with it
TRIGGER_TAG = "sage_amazon/trigger"  # what started the run: ORDER_CHANGE, sp-api, import, replay...
SETTLEMENT_ID_TAG = "sage_amazon/settlement_id"
ORDERS_TAG = "sage_amazon/orders"  # the order ids an ORDER_CHANGE run is for (first 200 characters)


def flow_definitions(
    name: str,
    *,
    owners: Sequence[str],
    assets: Sequence[dg.AssetsDefinition],
    asset_checks: Sequence[dg.AssetChecksDefinition] = (),
    jobs: Sequence = (),
    sensors: Sequence[dg.SensorDefinition] = (),
    schedules: Sequence[dg.ScheduleDefinition] = (),
) -> dg.Definitions:
    def _in_flow(spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.replace_attributes(group_name=name, owners=list(owners),
                                       freshness_policy=policy_for(spec)).merge_attributes(tags={FLOW_TAG: name})

    return dg.Definitions(
        assets=dg.map_asset_specs(_in_flow, [*assets, *sql_model_assets(name)]),
        asset_checks=list(asset_checks),
        jobs=list(jobs),
        sensors=list(sensors),
        schedules=list(schedules),
    )


def dead_letter_reasons(top_reasons: Sequence[tuple[str, int]]) -> dg.MetadataValue:
    """The open dead letters' top reasons as a Markdown table for an asset's metadata."""
    rows = "\n".join(f"| {reason.replace('|', '/')} | {n} |" for reason, n in top_reasons)
    return dg.MetadataValue.md("| reason | open |\n|---|---|\n" + rows if rows else "_none_")


def table_md(rows: Sequence[dict], columns: Sequence[str], limit: int = 20) -> str:
    """The first `limit` rows as a Markdown table for an asset's metadata (`_none_` when there are none)."""
    if not rows:
        return "_none_"
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "\n".join("| " + " | ".join(str(r.get(c, "")).replace("|", "/") for c in columns) + " |"
                             for r in rows[:limit])
