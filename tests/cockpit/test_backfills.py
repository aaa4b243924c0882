"""A UI backfill of order days finishes down to Sage (issue 16.7), and every day of a ranged run reports its own
row count (issue 16.8)."""

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

from sensors.backfills import backfill_finish_sensor

DAYS = ["2026-11-02", "2026-11-03", "2026-11-04"]  # anchored days, whatever the machine's clock
ENDED = 1_790_000_000.0  # the backfill's end (a fixed stamp); the sensor's cursor is just before it


@pytest.fixture(scope="module")
def defs():
    from sage_amazon.definitions import defs

    return defs


def _completed_backfill(instance, graph, backfill_id, assets, status=BulkActionStatus.COMPLETED_SUCCESS):
    """A backfill of the days as the UI stores one (its target: each asset's days)."""
    from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
    from dagster._core.definitions.events import AssetKeyPartitionKey

    target = AssetGraphSubset.from_asset_partition_set(
        {AssetKeyPartitionKey(dg.AssetKey(a), day) for a in assets for day in DAYS}, graph)
    backfill = PartitionBackfill.from_asset_graph_subset(
        backfill_id=backfill_id, backfill_timestamp=ENDED - 600, tags={}, dynamic_partitions_store=instance,
        asset_graph_subset=target, title=None, description=None, run_config=None)
    instance.add_backfill(backfill.with_status(status).with_end_timestamp(ENDED))


def _tick(instance, defs):
    context = dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def(),
                                      cursor=str(ENDED - 1))
    return backfill_finish_sensor(context), context


def test_a_backfill_of_order_days_posts_them_to_sage(defs):
    graph = defs.resolve_asset_graph()
    with dg.instance_for_test() as instance:
        _completed_backfill(instance, graph, "wkorders", ["amazon_orders", "amazon_order_items"])
        result, context = _tick(instance, defs)
        assert len(result) == 1
        request = result[0]
        selected = {k.to_user_string() for k in request.asset_selection}
        # the day models over the backfill's days, then the Sage load it left out
        assert {"stg_amazon_orders", "sage_orders", "sage_order_lines", "sage_sales_orders"} <= selected
        assert "amazon_orders" not in selected and "settlement_journal" not in selected
        assert request.tags["dagster/asset_partition_range_start"] == DAYS[0]
        assert request.tags["dagster/asset_partition_range_end"] == DAYS[-1]
        assert request.run_key == "finish-wkorders" and request.job_name == "backfill_finish_job"
        assert float(context.cursor) == ENDED
        # the next tick (its cursor moved past the backfill): nothing again
        context = dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def(),
                                          cursor=str(ENDED))
        assert isinstance(backfill_finish_sensor(context), dg.SkipReason)


def test_a_backfill_that_reached_sage_or_failed_is_left_alone(defs):
    graph = defs.resolve_asset_graph()
    with dg.instance_for_test() as instance:
        _completed_backfill(instance, graph, "failed", ["amazon_orders", "amazon_order_items"],
                            status=BulkActionStatus.COMPLETED_FAILED)
        result, _ = _tick(instance, defs)
        assert isinstance(result, dg.SkipReason)


def test_each_day_of_a_ranged_model_run_reports_its_own_rows(tmp_path):
    from assets.sql_models import sql_model_assets
    from resources.warehouse import WarehouseResource

    model = next(a for a in sql_model_assets("orders") if a.key.to_user_string() == "stg_amazon_orders")
    warehouse = WarehouseResource(path=str(tmp_path / "w.duckdb"))
    from sage_amazon.orders import raw

    with warehouse.write() as con:
        raw.ensure(con)
        cols = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema='raw' "
            "AND table_name='amazon_orders' ORDER BY ordinal_position").fetchall()]
        assert "partition_date" in cols
        per_day = {DAYS[0]: 3, DAYS[1]: 0, DAYS[2]: 1}
        n = 0
        for day, count in per_day.items():
            for _ in range(count):
                n += 1
                con.execute("INSERT INTO raw.amazon_orders (amazon_order_id, partition_date, purchase_date, "
                            "last_updated, order_status, marketplace_id, currency) VALUES "
                            "(?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), 'Shipped', 'ATVPDKIKX0DER', 'USD')",
                            [f"111-{n:07d}-0000000", day, f"{day} 10:00:00", f"{day} 11:00:00"])
    with dg.instance_for_test() as instance:
        result = dg.materialize([model], instance=instance, resources={"warehouse": warehouse},
                                tags={"dagster/asset_partition_range_start": DAYS[0],
                                      "dagster/asset_partition_range_end": DAYS[-1]})
        assert result.success
        rows = {e.materialization.partition: e.materialization.metadata["dagster/row_count"].value
                for e in result.get_asset_materialization_events()}
    assert rows == per_day


def test_each_day_of_a_ranged_inventory_run_reports_the_rows_recorded_on_it(tmp_path):
    """Amazon serves only today's FBA inventory: a range of past days keeps, and reports, each day's own rows."""
    from assets.inventory.assets import amazon_fba_inventory
    from resources.sp_api import SpApiResource
    from resources.warehouse import WarehouseResource
    from sage_amazon.inventory import fba, store

    warehouse = WarehouseResource(path=str(tmp_path / "w.duckdb"))
    per_day = {DAYS[0]: 2, DAYS[1]: 0, DAYS[2]: 3}
    with warehouse.write() as con:
        store.ensure(con)
        for day, count in per_day.items():
            for n in range(count):
                quantities = ", ".join(fba.QUANTITY_COLUMNS)
                con.execute(f"INSERT INTO {store.FBA_TABLE} (snapshot_date, marketplace_id, sku, {quantities}, source, "
                            f"observed_at) VALUES (CAST(? AS DATE), 'ATVPDKIKX0DER', ?, "
                            f"{', '.join('0' for _ in fba.QUANTITY_COLUMNS)}, 'getInventorySummaries', "
                            "CAST(? AS TIMESTAMPTZ))", [day, f"SKU-{n}", f"{day} 06:00:00+00"])
    with dg.instance_for_test() as instance:
        result = dg.materialize([amazon_fba_inventory], instance=instance,
                                resources={"warehouse": warehouse, "sp_api": SpApiResource(refresh_token="unused", lwa_app_id="unused",
                                                                    lwa_client_secret="unused")},
                                tags={"dagster/asset_partition_range_start": DAYS[0],
                                      "dagster/asset_partition_range_end": DAYS[-1]})
        assert result.success
        rows = {e.materialization.partition: e.materialization.metadata["dagster/row_count"].value
                for e in result.get_asset_materialization_events()}
    assert rows == per_day
