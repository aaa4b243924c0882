"""Checks on the FBA discrepancy: large differences warn (never silent), and what cannot be adjusted is counted."""

import dagster as dg

from resources import pools
from resources.sage import SageResource
from resources.warehouse import WarehouseResource

WARN = dg.AssetCheckSeverity.WARN


def _latest(con) -> list[tuple]:
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "marts.fba_discrepancy"):
        return []
    return con.execute(
        "SELECT site, item, skus, discrepancy_units, discrepancy_value, amazon_reserved, amazon_inbound, status "
        "FROM marts.fba_discrepancy WHERE snapshot_date = (SELECT max(snapshot_date) FROM marts.fba_discrepancy) "
        "ORDER BY abs(discrepancy_value) DESC, site, item").fetchall()


@dg.asset_check(asset="fba_discrepancy", pool=pools.DUCKDB_WRITE,
                description="No SKU's Sage FBA stock differs from Amazon's fulfillable units by more than "
                            "inventory.yaml's large_discrepancy (units or value): a warning, never silent")
def large_fba_discrepancy(warehouse: WarehouseResource, sage: SageResource) -> dg.AssetCheckResult:
    from decimal import Decimal

    from sage_amazon.inventory import rules as inventory_rules

    cfg = inventory_rules.load(sage.target)
    with warehouse.read() as con:
        rows = _latest(con)
    large = [r for r in rows if r[7] in ("adjust", "match")
             and (abs(r[3]) > cfg.large_units or abs(Decimal(r[4])) > cfg.large_value)]
    md = "\n".join(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]} |" for r in large[:30])
    return dg.AssetCheckResult(
        passed=not large, severity=WARN,
        metadata={"large": len(large), "limit_units": cfg.large_units, "limit_value": str(cfg.large_value),
                  "total_value": str(sum((Decimal(r[4]) for r in rows), Decimal("0"))),
                  "lines": dg.MetadataValue.md(
                      "| site | item | SKUs | units | value | reserved | inbound |\n|---|---|---|---|---|---|---|\n" + md
                      if md else "_none_")})


@dg.asset_check(asset="fba_discrepancy", pool=pools.DUCKDB_WRITE,
                description="Every FBA SKU maps to a Sage item and every marketplace to an FBA site, with sane "
                            "quantities (the others are dead letters of the adjustments, never adjusted)")
def fba_lines_processable(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.read() as con:
        rows = _latest(con)
    bad = [r for r in rows if r[7] in ("unknown_sku", "no_site", "absurd_quantity")]
    return dg.AssetCheckResult(
        passed=not bad, severity=WARN,
        metadata={"unknown_sku": sum(r[7] == "unknown_sku" for r in bad),
                  "no_site": sum(r[7] == "no_site" for r in bad),
                  "absurd_quantity": sum(r[7] == "absurd_quantity" for r in bad),
                  "lines": dg.MetadataValue.md("\n".join(f"- {r[7]}: {r[2] or r[1]} at {r[0] or '-'}"
                                                         for r in bad[:30]) or "_none_")})


CHECKS = [large_fba_discrepancy, fba_lines_processable]
