"""The blocking structural checks of an ORDER_CHANGE run look at the day the run rebuilt, not all history."""

import dagster as dg

from sage_amazon import sql_models
from tests.foundation.test_sql_models import ORDER_MODELS, _order_warehouse


def test_the_structural_checks_count_the_runs_days_only(tmp_path, monkeypatch):
    from assets.orders.checks import one_line_per_item, one_row_per_order
    from resources.warehouse import WarehouseResource

    warehouse = _order_warehouse(tmp_path, monkeypatch)  # one order on each of two days
    models = [sql_models.parse_model(sql_models.SQL_ROOT / rel) for rel in ORDER_MODELS]
    with warehouse.write() as con:
        for day in ("2026-11-01", "2026-11-02"):
            for model in models:
                sql_models.materialize(con, model, day)
    days = dg.DailyPartitionsDefinition(start_date="2026-01-01")

    @dg.asset(name="sage_orders", partitions_def=days)
    def sage_orders() -> None: ...

    @dg.asset(name="sage_order_lines", partitions_def=days)
    def sage_order_lines() -> None: ...

    resources = {"warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb"))}
    with dg.instance_for_test() as instance:
        one_day = dg.materialize([sage_orders, sage_order_lines, one_row_per_order, one_line_per_item],
                                 partition_key="2026-11-01", instance=instance, resources=resources)
        both = dg.materialize([sage_orders, sage_order_lines, one_row_per_order, one_line_per_item],
                              instance=instance, resources=resources,
                              tags={"dagster/asset_partition_range_start": "2026-11-01",
                                    "dagster/asset_partition_range_end": "2026-11-02"})
    # each result names the days it counted (issue 16.5)
    for result, n, days in ((one_day, 1, "days 2026-11-01"), (both, 2, "days 2026-11-01..2026-11-02")):
        found = {e.check_name: (e.passed, {k: v.value for k, v in e.metadata.items()})
                 for e in result.get_asset_check_evaluations()}
        assert found == {
            "one_row_per_order": (True, {"days": days, "mart_rows": n, "distinct_orders": n, "staged_orders": n}),
            "one_line_per_item": (True, {"days": days, "lines": n, "staged_items": n})}
