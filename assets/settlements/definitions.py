"""The settlements flow as one unit: settlement file -> landing -> SQL journals -> reconciliation -> Sage,
with its checks, the discovery sensor and the daily reconciliation schedule."""

import dagster as dg

from assets.flow import flow_definitions
from assets.settlements import FLOW, assets, cogs, tax, tieout, vat
from sensors import settlements as automation


def defs() -> dg.Definitions:
    return flow_definitions(
        FLOW,
        owners=["team:finance"],
        assets=[assets.settlement_landing, assets.settlement_journal_postings, assets.settlement_open_items,
                tieout.settlement_order_tieout,
                tax.facilitator_tax_by_state, cogs.settlement_cogs, vat.settlement_vat, vat.settlement_vat_journals,
                vat.vat_return_summary],
        asset_checks=[assets.settlement_lines_gx, assets.settlement_journal_checks,
                      assets.settlement_reconciliation_ties_out, assets.settlement_fee_anomalies],
        jobs=[automation.settlement_job, automation.settlement_expectations_job, automation.settlement_cogs_job],
        sensors=[automation.settlement_discovery_sensor, automation.settlement_expectations_sensor,
                 automation.settlement_cogs_retry_sensor],
        schedules=[automation.settlement_reconciliation_schedule],
    )
