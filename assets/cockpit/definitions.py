"""The cockpit flow as one unit: the settlements overview, open dead letters per flow and their replay from the
UI, e-mail alerts and the daily digest; backfills of days finished down to Sage (sensors/backfills.py)."""

import dagster as dg

from assets.cockpit import FLOW, assets
from assets.flow import flow_definitions
from sensors import backfills
from sensors import cockpit as automation


def defs() -> dg.Definitions:
    return flow_definitions(
        FLOW,
        owners=["team:operations", "team:finance"],
        assets=[assets.open_dead_letters, assets.settlement_overview, assets.settlement_figures,
                assets.mapping_review],
        jobs=[automation.cockpit_job, automation.settlement_figures_job, automation.deadletter_replay_job,
              automation.cockpit_digest_job, backfills.backfill_finish_job],
        sensors=[automation.cockpit_refresh_sensor, automation.cockpit_alerts_sensor, backfills.backfill_finish_sensor],
        schedules=[automation.cockpit_digest_schedule],
    )
