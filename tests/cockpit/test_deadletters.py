"""Dead letters in the UI (issue 16.6): the open ones per flow as an asset with counts and a list, and a replay
launchable from the UI with flow and reason as config, which runs the same replay as the CLI."""

from __future__ import annotations

import dagster as dg
import pytest

from sage_amazon import deadletters


def _seed(warehouse) -> None:
    with warehouse.write() as con:
        deadletters.record(con, "orders", "111-0000001", "unmapped SKU: NW-FILTER-SQ", {"sku": "NW-FILTER-SQ"})
        deadletters.record(con, "orders", "111-0000002", "unmapped SKU: NW-CHAIR-FLD", {})
        deadletters.record(con, "orders", "111-0000002", "unmapped SKU: NW-CHAIR-FLD", {})  # a second attempt
        deadletters.record(con, "orders", "111-0000003", "unmapped SKU: NW-LAMP-300", {})
        deadletters.resolve(con, "orders", "111-0000003")  # posted since: not open any more
        deadletters.record(con, "settlement", "24123456789:reissue",
                           "reissue on hold, changed after posting: total 582.89 in Sage, 583.89 now", {})


def _materialize(warehouse, instance) -> dg.MaterializeResult:
    from assets.cockpit.assets import open_dead_letters
    from resources.warehouse import WarehouseResource

    result = dg.materialize([open_dead_letters], instance=instance,
                            resources={"warehouse": WarehouseResource(path=str(warehouse.path))})
    assert result.success
    return result.asset_materializations_for_node("open_dead_letters")[0]


def test_the_asset_lists_open_dead_letters_and_counts_them_per_flow(warehouse, instance):
    _seed(warehouse)
    md = _materialize(warehouse, instance).metadata
    assert md["open_total"].value == 3 and md["dagster/row_count"].value == 3
    assert md["open_orders"].value == 2 and md["open_settlement"].value == 1
    assert md["open_mfn_shipments"].value == 0  # every flow has its count, so its plot shows the zeros too
    assert isinstance(md["open_orders"], dg.IntMetadataValue)
    rows = [r.data for r in md["open_dead_letters"].records]
    assert [(r["flow"], r["record"], r["attempts"]) for r in rows] == [
        ("orders", "111-0000001", 1), ("orders", "111-0000002", 2), ("settlement", "24123456789:reissue", 1)]
    assert rows[2]["reason"].endswith("583.89 now")  # whole, not cut
    assert "deadletter_replay_job" in md["replay"].value
    with warehouse.read() as con:  # the same list for a SQL client
        assert con.execute("SELECT flow, record_key FROM marts.open_dead_letters ORDER BY 1, 2").fetchall() == [
            ("orders", "111-0000001"), ("orders", "111-0000002"), ("settlement", "24123456789:reissue")]


def _replay(warehouse, instance, **config):
    from resources.warehouse import WarehouseResource
    from sensors.cockpit import deadletter_replay_job

    # this test's warehouse (the code location's resources were built for the data dir of the first import)
    job = dg.Definitions(jobs=[deadletter_replay_job],
                         resources={"warehouse": WarehouseResource(path=str(warehouse.path))}
                         ).resolve_job_def("deadletter_replay_job")
    return job.execute_in_process(instance=instance, raise_on_error=False,
                                  run_config={"ops": {"replay_dead_letters": {"config": config}}})


def test_replay_of_an_unknown_flow_is_an_error_naming_the_flows(warehouse, instance):
    _seed(warehouse)
    result = _replay(warehouse, instance, flow="nonsense")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data.error)
    assert "unknown flow 'nonsense'" in message and "orders" in message and "settlement" in message


def test_replay_from_the_ui_runs_the_cli_replay_and_refreshes_the_list(warehouse, instance):
    """A held settlement is not replayed (a replay cannot fix a file): the UI job says so, as the CLI does."""
    _seed(warehouse)
    result = _replay(warehouse, instance, flow="settlement")
    assert result.success
    logs = [e.message for e in instance.all_logs(result.run_id) if e.message]
    assert any("on hold, not replayed: 24123456789:reissue" in m for m in logs), logs
    done = next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT").event_specific_data
    assert done.metadata["on_hold"].value == 1
    refreshed = instance.get_latest_materialization_event(dg.AssetKey("open_dead_letters")).asset_materialization
    assert refreshed.metadata["open_settlement"].value == 1 and refreshed.metadata["open_orders"].value == 2


@pytest.mark.parametrize("flow", ["orders", "settlement"])
def test_cli_and_ui_agree_on_the_flows(warehouse, flow):
    from sage_amazon.cockpit import deadletters as cockpit
    from sage_amazon.deadletter_cli import known_flows

    assert known_flows() == cockpit.known_flows() and flow in known_flows()
    with warehouse.write() as con:
        cockpit.check_flow(con, flow)
        with pytest.raises(cockpit.UnknownFlow, match="the flows are"):
            cockpit.check_flow(con, flow + "x")


def test_the_list_is_read_after_every_asset_that_writes_dead_letters():
    from assets.cockpit.assets import DEAD_LETTER_WRITERS
    from sage_amazon.definitions import defs

    graph = defs.resolve_asset_graph()
    writers = {key.to_user_string() for key in graph.get_all_asset_keys()
               if graph.get(key).tags.get(deadletters.FLOW_TAG)}
    assert set(DEAD_LETTER_WRITERS) == writers
    parents = {key.to_user_string() for key in graph.get(dg.AssetKey("open_dead_letters")).parent_keys}
    assert parents == writers


@dg.asset
def some_order_load() -> None:
    pass


def test_the_cockpit_is_refreshed_once_after_other_flows_runs(instance):
    from sensors.cockpit import cockpit_refresh_sensor

    def tick(cursor):
        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        return cockpit_refresh_sensor(context), context.cursor

    instance.add_dynamic_partitions("settlement_ids", ["24123456789"])
    first, cursor = tick(None)  # just turned on: one refresh, and the figures of settlements that have none
    assert [(r.job_name, r.partition_key) for r in first] == [("cockpit_job", None),
                                                              ("settlement_figures_job", "24123456789")]
    idle, cursor = tick(cursor)
    assert isinstance(idle, dg.SkipReason)
    dg.materialize([some_order_load], instance=instance)
    dg.materialize([some_order_load], instance=instance, tags={"sage_amazon/settlement_id": "24123456789"})
    after, cursor = tick(cursor)  # one refresh for both runs; the settlement's figures again
    assert [(r.job_name, r.partition_key) for r in after] == [("cockpit_job", None),
                                                              ("settlement_figures_job", "24123456789")]
    assert after[0].run_key == f"cockpit-{cursor}"
    dg.materialize([some_order_load], instance=instance, tags={"sage_amazon/flow": "cockpit"})
    own, cursor = tick(cursor)  # its own runs do not start another refresh
    assert isinstance(own, dg.SkipReason)
