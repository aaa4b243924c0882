"""The settlement assets in Dagster: land, check, journalise, reconcile and post to the X3 sandbox;
a blocking failure posts nothing; a closed period is a dead letter that posts after reopening."""

from __future__ import annotations

import dagster as dg
import pytest

from tests.settlements.conftest import V1_SAMPLE, V2_SAMPLE

SID = "28471003921"
# each test runs the whole settlement flow (now with COGS, VAT, trace and tie-out steps) once or more: 258 s
# measured alone for the reclass test on a loaded machine, over the suite's 300 s default
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _defs():
    """The settlements flow as the code location builds it, with the account map it reads."""
    from assets.reference.assets import settlement_account_map
    from assets.settlements.definitions import defs

    flow = defs()
    return [settlement_account_map, *flow.assets, *flow.asset_checks]


@pytest.fixture
def env(tmp_path, monkeypatch, data_dir):
    from resources.sage import SageResource
    from resources.warehouse import WarehouseResource
    from sage_amazon import config
    from sage_amazon.sandbox.x3 import running_x3

    with running_x3(tmp_path / "x3") as x3:
        resources = {
            "warehouse": WarehouseResource(path=str(config.load().warehouse_path)),
            "sage": SageResource(target="x3", x3_url=x3.url, x3_user=x3.user, x3_password=x3.password,
                                 x3_pool=x3.pool, x3_folder=x3.folder),
        }
        with dg.instance_for_test() as instance:
            yield x3, resources, instance, config.load()


def _import(path, settings, instance, text=None, check="refuse"):
    from sage_amazon.ledger import intake
    from sage_amazon.runner import add_settlement_partition

    if text is not None:
        path = settings.data_dir / "upload.txt"
        path.write_text(text)
    stored = intake.store(path, settings.raw_dir, origin="import", check=check)
    add_settlement_partition(stored.settlement_id, instance)
    return stored.settlement_id


def _run(sid, resources, instance):
    return dg.materialize(_defs(), partition_key=sid, resources=resources, instance=instance,
                          raise_on_error=False)


def _below_the_landing() -> dg.AssetSelection:
    """What leads to the posting, without the landing (the flow's roots: raw settlement reports and lines)."""
    from assets.settlements import FLOW

    flow = dg.AssetSelection.groups(FLOW)
    return (dg.AssetSelection.assets("settlement_journal_postings").upstream() & flow) - flow.roots()


def _checks(result):
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_settlement_posts_with_finance_metadata(env):
    x3, resources, instance, settings = env
    sid = _import(V2_SAMPLE, settings, instance)
    result = _run(sid, resources, instance)
    assert result.success
    checks = _checks(result)
    for name in ("settlement_totals_match", "settlement_single_currency", "settlement_journals_balanced",
                 "settlement_not_posted_twice", "settlement_reconciliation_ties_out", "gx_amount_not_null"):
        assert checks[name].passed, name
    posting = [m for m in result.get_asset_materialization_events()
               if m.asset_key == dg.AssetKey("settlement_journal_postings")][0]
    md = posting.materialization.metadata
    assert md["variance"].value == "0.00" and md["total_amount"].value == "582.89"
    assert md["deposit"].value == "582.89" and md["sum_journal_lines"].value == "582.89"
    assert "| 4000 | sales |" in md["per_account"].value
    assert sorted(md["posted"].value) == [f"AMZ-{sid}-202606", f"AMZ-{sid}-202607"]
    headers = x3.rows("GACCENTRY")
    assert sorted(h["REF_0"] for h in headers) == [f"AMZ-{sid}-202606", f"AMZ-{sid}-202607"]
    # a second run (the daily schedule) posts nothing again
    again = _run(sid, resources, instance)
    assert again.success and len(x3.rows("GACCENTRY")) == 2
    from sage_amazon.warehouse import Warehouse

    with Warehouse(settings.warehouse_path).read() as con:
        recon = con.execute("SELECT variance, deposit FROM marts.settlement_reconciliation").fetchall()
    assert [tuple(str(v) for v in r) for r in recon] == [("0.00", "582.89")]


def test_blocking_validation_posts_nothing(env):
    x3, resources, instance, settings = env
    # its total does not add up: `settlement import` refuses it, so it is stored as an older data dir kept it
    sid = _import(V1_SAMPLE, settings, instance, check="none")
    result = _run(sid, resources, instance)
    assert not result.success
    assert not _checks(result)["settlement_totals_match"].passed
    assert x3.rows("GACCENTRY") == []
    # a run that starts below the landing (`sage-amazon run` stages) is stopped by the reconciliation check
    below = dg.materialize(_defs(), partition_key=sid, resources=resources, instance=instance,
                           raise_on_error=False, selection=_below_the_landing())
    assert not below.success
    assert not _checks(below)["settlement_reconciliation_ties_out"].passed
    assert not [m for m in below.get_asset_materialization_events()
                if m.asset_key == dg.AssetKey("settlement_journal_postings")]
    assert x3.rows("GACCENTRY") == []


def test_malformed_file_fails_naming_file_line_and_column(env):
    _, resources, instance, settings = env
    sid = _import(V2_SAMPLE, settings, instance)
    from sage_amazon.ledger import intake

    path = intake.find_file(settings.raw_dir, sid)
    lines = path.read_text().splitlines()
    bad = next(i for i, line in enumerate(lines) if "\t-6.83\t" in line)
    lines[bad] = lines[bad].replace("\t-6.83\t", "\t-6,83x\t")
    path.write_text("\n".join(lines) + "\n")
    result = _run(sid, resources, instance)
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    message = failure.event_specific_data.error.message
    assert str(path) in message and f"line {bad + 1}" in message and "'amount'" in message


def test_closed_period_is_a_dead_letter_and_posts_after_reopening(env):
    x3, resources, instance, settings = env
    text = V2_SAMPLE.read_text().replace("2026-06-", "2025-06-").replace("2026-07-", "2025-07-")
    x3.close_period(2025, 6)
    sid = _import(None, settings, instance, text)
    first = _run(sid, resources, instance)
    assert first.success  # a dead letter is not a crash: the rest of the settlement posts
    assert [h["REF_0"] for h in x3.rows("GACCENTRY")] == [f"AMZ-{sid}-202507"]
    from sage_amazon import deadletters
    from sage_amazon.warehouse import Warehouse

    with Warehouse(settings.warehouse_path).write() as con:
        letters = deadletters.open_letters(con, "settlement")
    assert [d.record_key for d in letters] == [f"{sid}:AMZ-{sid}-202506"]
    assert letters[0].reason.startswith("closed fiscal period")
    from sensors.settlements import reconciliation_requests

    pending = reconciliation_requests(instance, settings.warehouse_path, "2026-11-22")
    assert [(r.partition_key, r.run_key) for r in pending] == [(sid, f"reconcile-{sid}-2026-11-22")]
    from datetime import UTC, datetime

    from sensors.settlements import settlement_reconciliation_schedule

    tick = settlement_reconciliation_schedule(dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2026, 11, 22, 6, tzinfo=UTC)))
    assert [r.partition_key for r in tick] == [sid]
    x3.reopen_period(2025, 6)
    second = _run(sid, resources, instance)
    assert second.success
    assert sorted(h["REF_0"] for h in x3.rows("GACCENTRY")) == [f"AMZ-{sid}-202506", f"AMZ-{sid}-202507"]
    with Warehouse(settings.warehouse_path).write() as con:
        assert deadletters.open_letters(con, "settlement") == []
    assert reconciliation_requests(instance, settings.warehouse_path, "2026-11-23") == []
    quiet = settlement_reconciliation_schedule(dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2026, 11, 23, 6, tzinfo=UTC)))
    assert isinstance(quiet, dg.SkipReason)


def test_unmapped_lines_post_to_suspense_or_hold_the_settlement(env, tmp_path, monkeypatch):
    from sage_amazon.mapping import DEFAULTS_DIR

    x3, resources, instance, settings = env
    text = V2_SAMPLE.read_text().replace("LowInventoryLevelFee", "BrandNewAmazonFee")
    (tmp_path / "map").mkdir()
    (tmp_path / "map" / "accounts.yaml").write_text(
        (DEFAULTS_DIR / "accounts.yaml").read_text().replace("unmapped: suspense", "unmapped: hold"))
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path / "map"))
    sid = _import(V2_SAMPLE, settings, instance, text=text)
    held = _run(sid, resources, instance)
    check = _checks(held)["settlement_unmapped_lines"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert not [m for m in held.get_asset_materialization_events()
                if m.asset_key == dg.AssetKey("settlement_journal_postings")]
    assert x3.rows("GACCENTRY") == []  # on hold: nothing posted
    monkeypatch.delenv("SAGE_AMAZON_MAPPING_DIR")  # the default: suspense, flagged with a warning
    posted = _run(sid, resources, instance)
    check = _checks(posted)["settlement_unmapped_lines"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert len(x3.rows("GACCENTRY")) == 2


def test_settlement_job_posts_without_great_expectations_which_runs_after_in_its_own_run(env):
    """Validation off the critical path: the settlement job's gates are SQL; the GX suite follows in its own run."""
    from assets.reference.assets import settlement_account_map
    from assets.settlements.definitions import defs
    from sensors.settlements import settlement_expectations_sensor

    x3, resources, instance, settings = env
    sid = _import(V2_SAMPLE, settings, instance)
    flow = dg.Definitions.merge(defs(), dg.Definitions(assets=[settlement_account_map], resources=resources))
    run = flow.resolve_job_def("settlement_job").execute_in_process(instance=instance, partition_key=sid)
    assert run.success and len(x3.rows("GACCENTRY")) == 2
    checks = _checks(run)
    assert checks["settlement_amounts_present"].passed and checks["settlement_currency_iso"].passed
    assert not [name for name in checks if name.startswith("gx_")]
    context = dg.build_run_status_sensor_context(
        sensor_name=settlement_expectations_sensor.name, dagster_instance=instance, dagster_run=run.dagster_run,
        dagster_event=run.get_run_success_event())
    request = settlement_expectations_sensor(context)
    assert request.tags["sage_amazon/settlement_id"] == sid
    suite = flow.resolve_job_def("settlement_expectations_job").execute_in_process(instance=instance,
                                                                                   tags=request.tags)
    evaluations = _checks(suite)
    assert sorted(evaluations) == ["gx_amount_not_null", "gx_currency_iso", "gx_posted_date_not_null",
                                   "gx_transaction_type_not_null"]
    assert all(e.passed for e in evaluations.values())
    assert {e.metadata["settlement_id"].value for e in evaluations.values()} == {sid}


def test_a_mapping_fix_after_posting_posts_one_reclass_journal(env, tmp_path, monkeypatch):
    from decimal import Decimal

    from sage_amazon.mapping import DEFAULTS_DIR

    x3, resources, instance, settings = env
    sid = _import(V2_SAMPLE, settings, instance)
    assert _run(sid, resources, instance).success and len(x3.rows("GACCENTRY")) == 2
    # the partner decides storage fees are "other fees" (6150), after the settlement is in Sage
    (tmp_path / "map").mkdir()
    (tmp_path / "map" / "accounts.yaml").write_text((DEFAULTS_DIR / "accounts.yaml").read_text().replace(
        '  - {description: "Storage Fee", role: storage_fees}', '  - {description: "Storage Fee", role: other_fees}'))
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path / "map"))
    fixed = _run(sid, resources, instance)
    assert fixed.success
    check = _checks(fixed)["settlement_not_posted_twice"]
    assert check.passed and "reclass" in check.description
    entries = x3.rows("GACCENTRY")
    assert len(entries) == 3
    lines = x3.rows("GACCENTRYD")

    def net(account):
        return sum(Decimal(r["AMTCUR_0"]) * -Decimal(r["SNS_0"]) for r in lines if r["ACC_0"] == account)

    assert net("6120") == 0 and net("6150") == Decimal("-64.28")  # the storage fees moved, nothing else
    assert net("1010") == Decimal("-582.89") and net("1210") == 0
    again = _run(sid, resources, instance)
    assert again.success and len(x3.rows("GACCENTRY")) == 3  # once


# two shapes through Dagster (each run costs seconds); the others post to Sage 500 in test_sandbox_e2e.py
@pytest.mark.parametrize("name", ["ca-v1-blanks.txt", "jp-v2-yen.txt"])
def test_real_file_shapes_post_to_x3(env, name):
    from pathlib import Path

    x3, resources, instance, settings = env
    sid = _import(Path(__file__).parent / "files" / name, settings, instance)
    result = _run(sid, resources, instance)
    assert result.success, [c.description for c in _checks(result).values() if not c.passed]
    assert x3.rows("GACCENTRY")
    assert _checks(result)["settlement_reconciliation_ties_out"].passed
