"""Reference data shared by the order and shipment flows: the mapping YAML files and Sage's item master
as ref.* tables (edit the YAML, re-materialize, replay dead letters)."""

import dagster as dg

from resources.sage import SageResource
from resources.warehouse import WarehouseResource

LOAD_RETRY = dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


@dg.multi_asset(
    specs=[
        dg.AssetSpec("sku_map", group_name="mapping", kinds={"yaml", "duckdb"},
                     description="SKU aliases (skus.yaml) for the configured Sage target: ref.sku_map"),
        dg.AssetSpec("marketplace_map", group_name="mapping", kinds={"yaml", "duckdb"},
                     description="Marketplace -> Sage site, customer, currency (marketplaces.yaml): ref.marketplace_map"),
        dg.AssetSpec("order_status_map", group_name="mapping", kinds={"yaml", "duckdb"},
                     description="Amazon status -> Sage status and load action (order_statuses.yaml)"),
        dg.AssetSpec("carrier_map", group_name="mapping", kinds={"yaml", "duckdb"},
                     description="Amazon carrier -> Sage carrier (carriers.yaml)"),
        dg.AssetSpec("order_currencies", group_name="mapping", kinds={"yaml", "duckdb"},
                     description="Currencies an order may have (marketplaces.yaml)"),
    ],
    pool="duckdb_write",
)
def order_mappings(warehouse: WarehouseResource, sage: SageResource):
    """The order mapping YAML files as ref tables (edit the YAML, re-materialize, replay dead letters)."""
    from sage_amazon.orders import refdata

    with warehouse.write() as con:
        counts = refdata.write_mappings(con, sage.target)
        previews = {name: con.execute(f"SELECT * FROM ref.{name} LIMIT 20").fetchall() for name in counts}
    for name, n in counts.items():
        rows = previews[name]
        md = "\n".join("| " + " | ".join(str(v) for v in r) + " |" for r in rows) or "_empty_"
        yield dg.MaterializeResult(asset_key=name, metadata={"dagster/row_count": n,
                                                             "preview": dg.MetadataValue.md(md)})


@dg.asset(group_name="mapping", kinds={"sage", "duckdb"}, pool="duckdb_write", retry_policy=LOAD_RETRY)
def sage_item_codes(warehouse: WarehouseResource, sage: SageResource) -> dg.MaterializeResult:
    """Active items of the Sage item master (ref.sage_item_codes): a SKU equal to one maps to it exactly."""
    from sage_amazon.orders import refdata

    codes = refdata.active_item_codes(sage.get_target())
    with warehouse.write() as con:
        n = refdata.write_item_codes(con, codes, sage.target)
    return dg.MaterializeResult(metadata={"dagster/row_count": n, "sage_target": sage.target,
                                          "items": dg.MetadataValue.md(", ".join(sorted(codes)[:50]) or "_none_")})
