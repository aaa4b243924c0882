"""(a) the daily datasets: amazon_fba_inventory from getInventorySummaries and sage_stock from X3 / Sage 500."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sage_amazon.inventory import fba
from tests.inventory.conftest import materialize, query, today


def _amazon_truth(amazon) -> dict[tuple[str, str], dict]:
    return {tuple(k.split("|")): v for k, v in amazon.world.state["inventory"].items()}


def test_fba_inventory_every_page_of_every_marketplace(env, amazon) -> None:
    day_before = today()  # the run may cross midnight (make test-dates starts a clock at 23:58)
    result = materialize(env, ["amazon_fba_inventory"], partition=day_before)
    sql = ("SELECT marketplace_id, sku, fulfillable, reserved_total, inbound_shipped, unfulfillable_total,"
           " total_quantity, snapshot_date FROM raw.amazon_fba_inventory ORDER BY 1, 2")
    rows = query(env, sql)
    if not rows and today() != day_before:  # midnight passed before the step began: its day was past, kept empty
        result = materialize(env, ["amazon_fba_inventory"], partition=today())
        rows = query(env, sql)
    truth = _amazon_truth(amazon)
    assert len(rows) == len(truth) == 30  # 10 FBA SKUs x 3 marketplaces, pages of 4
    for mp, sku, fulfillable, reserved, inbound, unf, total, day in rows:
        inv = truth[(mp, sku)]
        assert (fulfillable, reserved, unf) == (inv["fulfillable"], inv["reserved"], inv["unfulfillable"])
        assert inbound == sum(s["qty"] for s in inv["inbound"])
        assert total == fulfillable + reserved + unf + inv["researching"] + inbound
        assert day.isoformat() in {day_before, today()}
    md = result.asset_materializations_for_node("amazon_fba_inventory")[0].metadata
    assert md["pages"].value == 3 * 3  # ceil(10 / 4) pages per marketplace
    # a re-run replaces the day: same rows, no duplicates
    materialize(env, ["amazon_fba_inventory"])
    assert query(env, "SELECT count(*) FROM raw.amazon_fba_inventory")[0][0] == 30


def test_past_day_keeps_what_was_recorded(env) -> None:
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()  # clock-ok
    result = materialize(env, ["amazon_fba_inventory", "sage_stock"], partition=yesterday)
    assert result.success
    assert query(env, "SELECT count(*) FROM raw.amazon_fba_inventory")[0][0] == 0
    assert query(env, "SELECT count(*) FROM raw.sage_stock")[0][0] == 0


def test_sage_stock_per_site_and_item(env) -> None:
    materialize(env, ["sage_stock"])
    rows = {(s, i): (p, a, v, c) for s, i, p, a, v, c in query(
        env, "SELECT site, item, physical, allocated, available, unit_cost FROM raw.sage_stock")}
    target = env["sage"].target
    # both sandboxes seed the same quantities: 20 + (catalog index * 7 + site index * 13) % 60, allocated index % 3
    tent = "NW-TENT-2P"
    assert rows[("US01", tent)][:3] == (Decimal(20), Decimal(0), Decimal(20))
    assert rows[("FBAUS", tent)][:3] == (Decimal(33), Decimal(0), Decimal(33))
    assert rows[("FBAEU", tent)][:3] == (Decimal(46), Decimal(0), Decimal(46))
    bag = "NW-BAG-20F"  # catalog index 2: allocated 2
    assert rows[("US01", bag)] [:3] == (Decimal(34), Decimal(2), Decimal(32))
    assert rows[("US01", bag)][3] == Decimal("71.5")
    assert {s for s, _ in rows} == {"US01", "FBAUS", "FBAEU"}
    lamp = "NW-HL300" if target == "x3" else "NW-LAMP-300"  # X3 renamed two items
    assert ("FBAUS", lamp) in rows
    assert not any(i == "NW-FILTER-SQ" for _, i in rows)  # deliberately missing from Sage


def test_notification_rows() -> None:
    body = {"NotificationType": "FBA_INVENTORY_AVAILABILITY_CHANGES", "EventTime": "2026-11-22T10:00:00Z",
            "Payload": {"SellerId": "S", "FNSKU": "X0", "ASIN": "B0", "SKU": "NW-TENT-2P",
                        "FulfillmentInventoryByMarketplace": [{
                            "MarketplaceId": "ATVPDKIKX0DER", "ItemName": "Tent",
                            "FulfillmentInventory": {"InboundQuantityBreakdown": {"Working": 1, "Shipped": 2,
                                                                                  "Receiving": 3},
                                                     "Fulfillable": 40, "Unfulfillable": 4, "Researching": 5,
                                                     "ReservedQuantityBreakdown": {"WarehouseProcessing": 6,
                                                                                   "WarehouseTransfer": 7,
                                                                                   "PendingCustomerOrder": 8}}}]}}
    [row] = fba.notification_rows(body)
    assert row["snapshot_date"] == date(2026, 11, 22)
    assert (row["fulfillable"], row["reserved_total"], row["total_quantity"]) == (40, 21, 40 + 6 + 21 + 5 + 4)
