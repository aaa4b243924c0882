"""The reference flow: the partner-edited mapping YAML files and Sage's item master as ref.* tables that
the other flows read. No automation of its own: the order catch-up and `sage-amazon run` refresh them."""

import dagster as dg

from assets.flow import flow_definitions
from assets.reference import FLOW, assets


def defs() -> dg.Definitions:
    return flow_definitions(
        FLOW,
        owners=["team:finance", "team:operations"],
        assets=[assets.order_mappings, assets.sage_item_codes, assets.settlement_account_map],
    )
