"""Check results that mean what they say (issue 16.5): each names its settlement (partitioned checks) or its days,
a check a sensor's run leaves out says why in the UI, a fee warning stays until the fee is fixed."""

from __future__ import annotations

import dagster as dg
import pytest

from tests.settlements.test_anomalies_cli import _settlement

# the Great Expectations suite runs in its own run after each settlement run (settlement_expectations_job, by run
# tag): its results carry the settlement in their description and metadata instead
NAMED_IN_DESCRIPTION = {"gx_amount_not_null", "gx_currency_iso", "gx_posted_date_not_null",
                        "gx_transaction_type_not_null"}


@pytest.fixture(scope="module")
def graph():
    from sage_amazon.definitions import defs

    return defs.resolve_asset_graph()


def test_every_check_of_a_settlement_asset_is_per_settlement(graph):
    from assets.partitions import settlement_partitions

    checked = []
    for key in graph.asset_check_keys:
        if graph.get(key.asset_key).partitions_def != settlement_partitions or key.name in NAMED_IN_DESCRIPTION:
            continue
        assert graph.get_check_spec(key).partitions_def == settlement_partitions, key  # its results name the id
        checked.append(key.name)
    assert {"settlement_totals_match", "settlement_fee_anomalies", "settlement_reconciliation_ties_out"} <= set(checked)


def test_a_check_of_a_settlement_run_names_the_settlement_in_the_ui():
    from assets.partitions import settlement_partitions

    @dg.asset(partitions_def=settlement_partitions,
              check_specs=[dg.AssetCheckSpec("ok", asset="lines", partitions_def=settlement_partitions)])
    def lines():
        yield dg.MaterializeResult(check_results=[dg.AssetCheckResult(check_name="ok", passed=True)])

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(settlement_partitions.name, ["24123456789"])
        result = dg.materialize([lines], instance=instance, partition_key="24123456789")
        evaluations = result.get_asset_check_evaluations()
    assert [e.partition for e in evaluations] == ["24123456789"]  # not "Partition —"


def test_checks_an_order_change_run_leaves_out_say_why(graph):
    from sensors.orders import ORDER_CHANGE_SELECTION

    in_runs = ORDER_CHANGE_SELECTION.resolve_checks(graph)
    assert {"one_row_per_order", "one_line_per_item"} <= {key.name for key in in_runs}  # structural: every run
    left_out = {key for key in graph.asset_check_keys if graph.get(key.asset_key).group_name == "orders"} - in_runs
    assert left_out, "the record-level checks are not in ORDER_CHANGE runs"
    for key in left_out:
        assert "not evaluated by ORDER_CHANGE runs" in (graph.get_check_spec(key).description or ""), key


def test_a_fee_warning_stays_when_later_settlements_arrive(tmp_path):
    import duckdb

    from sage_amazon.ledger import anomalies, settlements

    con = duckdb.connect()
    history = [(f"111-{i}", "SKU-A", "100.00", "-15.00", "-3.00") for i in range(4)]
    (tmp_path / "h.txt").write_text(_settlement("100", history, "2026-05-01"))
    settlements.preview(tmp_path / "h.txt", "x3", con=con)
    current = [("222-1", "SKU-A", "100.00", "-15.00", "-3.00"), ("222-2", "SKU-A", "100.00", "-30.00", "-3.00")]
    (tmp_path / "c.txt").write_text(_settlement("200", current, "2026-06-16"))
    settlements.preview(tmp_path / "c.txt", "x3", con=con)
    first = [(a.order_id, a.fee) for a in anomalies.find(con, "200")]
    assert first == [("222-2", "referral_rate")]
    # later settlements (more of the high rate) arrive, then the sensor checks 200 again: same warning
    later = [(f"333-{i}", "SKU-A", "100.00", "-30.00", "-3.00") for i in range(9)]
    (tmp_path / "l.txt").write_text(_settlement("300", later, "2026-07-01"))
    settlements.preview(tmp_path / "l.txt", "x3", con=con)
    assert [(a.order_id, a.fee) for a in anomalies.find(con, "200")] == first
