"""The code location: every flow's Definitions merged, with the shared resources. Nothing else lives here.

A flow lives in assets/<flow>/ (assets, checks, definitions.py) and sensors/<flow>.py (jobs, sensors,
schedules); its SQL models are the files of dbt_like_sql/ whose header says `-- flow: <flow>`.
Running the graph without the UI is sage_amazon/runner/. See docs/architecture.md.
"""

import dagster as dg

from assets import (
    cockpit,
    inventory,
    listings,
    mcf,
    mfn,
    month_end,
    orders,
    reference,
    returns,
    settlements,
    shipments,
)
from assets.cockpit.definitions import defs as cockpit_defs
from assets.inventory.definitions import defs as inventory_defs
from assets.listings.definitions import defs as listings_defs
from assets.mcf.definitions import defs as mcf_defs
from assets.mfn.definitions import defs as mfn_defs
from assets.month_end.definitions import defs as month_end_defs
from assets.orders.definitions import defs as orders_defs
from assets.reference.definitions import defs as reference_defs
from assets.returns.definitions import defs as returns_defs
from assets.settlements.definitions import defs as settlements_defs
from assets.shipments.definitions import defs as shipments_defs
from assets.sql_models import check_sql_models
from resources import build_resources

FLOWS = {
    orders.FLOW: orders_defs,
    shipments.FLOW: shipments_defs,
    mfn.FLOW: mfn_defs,
    settlements.FLOW: settlements_defs,
    reference.FLOW: reference_defs,
    inventory.FLOW: inventory_defs,
    returns.FLOW: returns_defs,
    cockpit.FLOW: cockpit_defs,
    mcf.FLOW: mcf_defs,
    listings.FLOW: listings_defs,
    month_end.FLOW: month_end_defs,
}


def build_defs() -> dg.Definitions:
    merged = dg.Definitions.merge(*(flow() for flow in FLOWS.values()), dg.Definitions(resources=build_resources()))
    # every SQL model belongs to a flow and reads only tables that something produces
    check_sql_models(FLOWS, {key.path[-1] for key in merged.resolve_all_asset_keys()})
    return merged


defs = build_defs()
