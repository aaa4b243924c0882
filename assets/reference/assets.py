"""Reference data the flows read: the mapping YAML files (orders, shipments) and the settlement account map
(accounts.yaml), plus Sage's item master, as ref.* tables (edit the YAML, re-materialize, replay dead letters)."""

import dagster as dg

from assets.retry import RETRY_POLICY, retried
from resources import pools
from resources.sage import SageResource
from resources.warehouse import WarehouseResource

LOAD_RETRY = RETRY_POLICY  # the one retry policy (assets/retry.py)


@dg.multi_asset(
    specs=[
        dg.AssetSpec("sku_map", kinds={"yaml", "duckdb"}, metadata={"dagster/table_name": "ref.sku_map"},
                     description="SKU aliases (skus.yaml) for the configured Sage target: ref.sku_map"),
        dg.AssetSpec("marketplace_map", kinds={"yaml", "duckdb"}, metadata={"dagster/table_name": "ref.marketplace_map"},
                     description="Marketplace -> Sage site, customer, currency (marketplaces.yaml): ref.marketplace_map"),
        dg.AssetSpec("order_status_map", kinds={"yaml", "duckdb"}, metadata={"dagster/table_name": "ref.order_status_map"},
                     description="Amazon status -> Sage status and load action (order_statuses.yaml)"),
        dg.AssetSpec("carrier_map", kinds={"yaml", "duckdb"}, metadata={"dagster/table_name": "ref.carrier_map"},
                     description="Amazon carrier -> Sage carrier (carriers.yaml)"),
        dg.AssetSpec("order_currencies", kinds={"yaml", "duckdb"}, metadata={"dagster/table_name": "ref.order_currencies"},
                     description="Currencies an order may have (marketplaces.yaml)"),
    ],
    pool=pools.DUCKDB_WRITE,
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


@dg.asset(kinds={"sage", "duckdb"}, pool=pools.SAGE, retry_policy=LOAD_RETRY,
          metadata={"dagster/table_name": "ref.sage_item_codes"})
@retried
def sage_item_codes(warehouse: WarehouseResource, sage: SageResource) -> dg.MaterializeResult:
    """Active items of the Sage item master (ref.sage_item_codes): a SKU equal to one maps to it exactly."""
    from sage_amazon.orders import refdata

    with sage.opened_target() as target:
        codes = refdata.active_item_codes(target)
    with warehouse.write() as con:
        n = refdata.write_item_codes(con, codes, sage.target)
    return dg.MaterializeResult(metadata={"dagster/row_count": n, "sage_target": sage.target,
                                          "items": dg.MetadataValue.md(", ".join(sorted(codes)[:50]) or "_none_")})


@dg.asset(
    kinds={"duckdb", "yaml"}, pool=pools.DUCKDB_WRITE, metadata={"dagster/table_name": "ref.settlement_account_map"},
    description="accounts.yaml compiled into ref.settlement_account_map: line patterns -> role -> GL account "
                "and tax code for the configured Sage target, plus currency rates.",
)
def settlement_account_map(warehouse: WarehouseResource) -> dg.MaterializeResult:
    from sage_amazon import config
    from sage_amazon.ledger import currency
    from sage_amazon.mapping import accounts

    amap = accounts.load()
    target = config.load().target
    with warehouse.write() as con:
        amap = currency.last_read(con, amap, target)  # currency_source: erp: the rates the last landing read
        n = accounts.write_table(con, amap, target)
    rules = "\n".join(f"| {r.no} | {r.transaction_type} | {r.amount_type} | {r.description} | {r.role} | "
                      f"{amap.account(target, r.role)} |" for r in amap.rules)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": n, "source": amap.source, "target": target,
        "company_currency": amap.company_currency,
        "rules": dg.MetadataValue.md("| # | transaction-type | amount-type | description | role | account |\n"
                                     "|---|---|---|---|---|---|\n" + rules),
    })
