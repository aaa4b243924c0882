"""Checks on the listings flow: held price cuts and listings Amazon refused. Warnings: nothing is lost, each is
either held (price) or a dead letter until Sage or the mapping is fixed."""

import dagster as dg

from resources import pools
from resources.warehouse import WarehouseResource

WARN = dg.AssetCheckSeverity.WARN


@dg.asset_check(asset="amazon_listings", pool=pools.DUCKDB_WRITE,
                description="No price cut from Sage is held back: a cut larger than listings.yaml's "
                            "price_guard.max_drop_percent is not pushed until corrected in Sage or approved "
                            "(run config approve_price_drops)")
def listing_price_drops_held(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from sage_amazon.listings import push

    with warehouse.write() as con:
        holds = push.open_holds(con)
    rows = "\n".join(f"| {mp} | {sku} | {accepted} | {sage} {cur or ''} | {drop} % |"
                     for mp, sku, accepted, sage, cur, drop in holds[:30])
    return dg.AssetCheckResult(passed=not holds, severity=WARN, metadata={
        "held": len(holds),
        "holds": dg.MetadataValue.md("| marketplace | SKU | price on Amazon | price in Sage | drop |\n"
                                     "|---|---|---|---|---|\n" + rows if rows else "_none_")})


@dg.asset_check(asset="amazon_listings", pool=pools.DUCKDB_WRITE,
                description="Every flagged Sage item is listed in every marketplace: none is a dead letter (Amazon's "
                            "issue, or no price in Sage)")
def listings_all_accepted(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from sage_amazon import deadletters
    from sage_amazon.listings import FLOW

    with warehouse.write() as con:
        letters = deadletters.open_letters(con, FLOW)
    rows = "\n".join(f"| {d.record_key} | {d.reason.replace('|', '/')[:300]} |" for d in letters[:30])
    return dg.AssetCheckResult(passed=not letters, severity=WARN, metadata={
        "refused": len(letters),
        "listings": dg.MetadataValue.md("| listing | reason |\n|---|---|\n" + rows if rows else "_none_")})
