"""`sage-amazon deadletter replay [--reason ...]` for the order flows: re-process open dead letters after a
mapping (or Sage) was fixed.

Replaying = reload the mapping tables from YAML and the Sage item master, rebuild the order models,
then run the load for just the dead-lettered orders. The load goes through the posting ledger, so a
replayed order is posted once, however often replay runs; a letter is resolved when its order posts.

Two ways to call it:
- `replay(reason=...)` here, without Dagster (what the CLI can call directly);
- materialize `REPLAY_ASSET_KEYS` in Dagster (every load run retries what is not yet posted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sage_amazon import deadletters
from sage_amazon.orders import load, refdata

FLOWS = (load.FLOW, load.SHIPMENT_FLOW)
ORDER_MODELS = ("staging/stg_amazon_orders.sql", "staging/stg_amazon_order_items.sql",
                "staging/stg_amazon_fba_shipments.sql", "marts/sage_order_lines.sql", "marts/sage_orders.sql",
                "marts/sage_order_shipments.sql")
REPLAY_ASSET_KEYS = ("sku_map", "marketplace_map", "order_status_map", "carrier_map", "order_currencies",
                     "sage_item_codes", "stg_amazon_orders", "stg_amazon_order_items", "stg_amazon_fba_shipments",
                     "sage_order_lines", "sage_orders", "sage_order_shipments", "sage_sales_orders",
                     "sage_shipment_updates")


@dataclass
class ReplayResult:
    selected: int = 0  # open letters matching the filter
    resolved: int = 0  # of those, now resolved (posted, or no longer needed)
    still_open: list[tuple[str, str, str]] = field(default_factory=list)  # (flow, key, reason)
    counts: Counter = field(default_factory=Counter)


def build_target(settings: Any = None):  # noqa: ANN201 - a SageTarget
    """The configured Sage target, from the same settings the Dagster resource uses."""
    from sage_amazon import config

    settings = settings or config.load()
    if settings.target == "x3":
        from sage_amazon.sage.x3 import X3Target

        return X3Target.from_settings(url=settings.x3_url, user=settings.x3_user,
                                      password=config.get("SAGE_X3_PASSWORD"), pool=settings.x3_pool,
                                      folder=settings.x3_folder, pool_size=settings.x3_pool_size)
    from sage_amazon.sage.sage500 import Sage500Target

    return Sage500Target.from_settings({"sage500_db_url": settings.sage500_db_url})


def rebuild_models(con: Any, target: Any, target_name: str | None = None) -> None:
    """Mapping tables from YAML and the item master, then the order models, in dependency order."""
    from sage_amazon import sql_models

    refdata.write_mappings(con, target_name)
    refdata.write_item_codes(con, refdata.active_item_codes(target), target_name)
    for rel in ORDER_MODELS:
        sql_models.materialize(con, sql_models.parse_model(sql_models.SQL_ROOT / rel))


def replay(reason: str | None = None, *, warehouse: Any = None, target: Any = None,
           target_name: str | None = None) -> ReplayResult:
    """Re-process the open order dead letters (all, or those whose reason contains `reason`)."""
    from sage_amazon import config
    from sage_amazon.warehouse import Warehouse

    settings = None
    if warehouse is None or target is None or target_name is None:
        settings = config.load()
    warehouse = warehouse or Warehouse(settings.warehouse_path)
    target = target or build_target(settings)
    target_name = target_name or getattr(target, "name", None) or settings.target
    result = ReplayResult()
    with warehouse.write() as con:
        letters = [letter for flow in FLOWS for letter in deadletters.open_letters(con, flow, reason)]
        result.selected = len(letters)
        if not letters:
            return result
        rebuild_models(con, target, target_name)
        order_ids = {letter.record_key for letter in letters if letter.flow == load.FLOW}
        shipment_orders = {letter.record_key.split("/")[0] for letter in letters if letter.flow == load.SHIPMENT_FLOW}
        if order_ids:
            result.counts.update(load.load_orders(con, target, order_ids=order_ids).counts)
        if shipment_orders or order_ids:
            result.counts.update(load.load_shipments(con, target, order_ids=shipment_orders | order_ids).counts)
        still = {(d.flow, d.record_key): d.reason for flow in FLOWS for d in deadletters.open_letters(con, flow)}
    for letter in letters:
        key = (letter.flow, letter.record_key)
        if key in still:
            result.still_open.append((letter.flow, letter.record_key, still[key]))
        else:
            result.resolved += 1
    return result
