"""`sage-amazon run`: the whole graph in stage order, daily ranges in one run, settlements one by one."""

import dagster as dg

from sage_amazon.runner import plan_stages, run_pipeline

daily = dg.DailyPartitionsDefinition(start_date="2026-11-01", timezone="UTC")
settlements = dg.DynamicPartitionsDefinition(name="settlement_ids")
seen: list[tuple[str, tuple[str, ...]]] = []


@dg.asset(partitions_def=daily, backfill_policy=dg.BackfillPolicy.single_run())
def raw_orders(context: dg.AssetExecutionContext) -> None:
    seen.append(("raw_orders", tuple(context.partition_keys)))


@dg.asset(deps=[raw_orders])
def stg_orders() -> None:
    seen.append(("stg_orders", ()))


@dg.asset(partitions_def=settlements, deps=[stg_orders])
def settlement_lines(context: dg.AssetExecutionContext) -> None:
    seen.append(("settlement_lines", (context.partition_key,)))


@dg.asset(deps=[settlement_lines])
def reconciliation() -> None:
    seen.append(("reconciliation", ()))


@dg.asset(deps=[stg_orders])
def failing_load() -> None:
    raise RuntimeError("Sage said no")


def test_stages_follow_partitioning_and_dependencies():
    defs = dg.Definitions(assets=[raw_orders, stg_orders, settlement_lines, reconciliation])
    stages = plan_stages(defs.resolve_asset_graph())
    assert [(group, [k.to_user_string() for k in keys]) for group, keys in stages] == [
        ("time", ["raw_orders", "stg_orders"]),
        ("settlement", ["settlement_lines"]),
        ("time", ["reconciliation"]),
    ]


def test_run_materializes_everything_in_order_and_reports_failures(capsys):
    seen.clear()
    defs = dg.Definitions(assets=[raw_orders, stg_orders, settlement_lines, reconciliation, failing_load])
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("settlement_ids", ["S1", "S2"])
        outcomes = run_pipeline(
            "2026-11-01",
            "2026-11-03",
            instance,
            definitions=defs,
            settlements_to_run=lambda inst, pdef: pdef.get_partition_keys(dynamic_partitions_store=inst),
        )
    assert seen == [
        ("raw_orders", ("2026-11-01", "2026-11-02", "2026-11-03")),
        ("stg_orders", ()),
        ("settlement_lines", ("S1",)),
        ("settlement_lines", ("S2",)),
        ("reconciliation", ()),
    ]
    assert [(label, ok) for label, ok, _ in outcomes] == [
        ("days 2026-11-01..2026-11-03", False),  # failing_load shares the first stage
        ("settlement S1", True),
        ("settlement S2", True),
        ("unpartitioned", True),
    ]
    out = capsys.readouterr().out
    assert "✓ raw_orders" in out and "✗ failing_load" in out and "Sage said no" in out
