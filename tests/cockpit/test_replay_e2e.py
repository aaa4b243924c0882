"""Replay from the UI, end to end (issue 16.6): a settlement whose October 2025 is closed in Sage X3 (the X3
sandbox on a free port) becomes a dead letter; once the period is reopened, deadletter_replay_job (the UI's
Launchpad, config flow: settlement) posts it and reports it resolved, and what is still open under which reason
(the sample's COGS line with an unmapped SKU); the cockpit's list is refreshed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from sage_amazon.sandbox.x3 import running_x3
from tests.cockpit.test_deadletters import _replay

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "settlements" / "files" / "de-v2-local.txt"  # settlement 22950551234, October 2025
SID = "22950551234"
pytestmark = pytest.mark.slow


def test_a_settlement_refused_by_a_closed_period_is_replayed_from_the_ui(warehouse, instance, data_dir, tmp_path,
                                                                         monkeypatch):
    with running_x3(tmp_path / "x3") as x3:
        for name, value in {"SAGE_AMAZON_TARGET": "x3", "SAGE_X3_URL": x3.url, "SAGE_X3_USER": x3.user,
                            "SAGE_X3_PASSWORD": x3.password, "SAGE_X3_POOL": x3.pool,
                            "SAGE_X3_FOLDER": x3.folder}.items():
            monkeypatch.setenv(name, value)
        x3.close_period(2025, 10)
        first = subprocess.run([sys.executable, "-m", "sage_amazon.cli", "settlement", "import", str(SAMPLE), "--run"],
                               cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert "Traceback" not in first.stdout + first.stderr, first.stdout + first.stderr
        with warehouse.read() as con:
            letters = con.execute("SELECT record_key, reason FROM ops.dead_letters WHERE status = 'open'").fetchall()
        assert letters and all(key.startswith(f"{SID}:") for key, _ in letters), (letters, first.stdout[-3000:])
        closed = [key for key, reason in letters if "closed fiscal period" in reason]
        others = [(key, reason) for key, reason in letters if key not in closed]  # the sample's unmapped COGS SKU
        assert closed, letters
        assert not x3.rows("GACCENTRY")

        x3.reopen_period(2025, 10)  # the accountant reopens October; the operator replays from the UI
        result = _replay(warehouse, instance, flow="settlement")
        assert result.success, [e.message for e in instance.all_logs(result.run_id)][-20:]
        done = next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT").event_specific_data
        assert done.metadata["resolved"].value == len(closed) and done.metadata["still_open"].value == len(others)
        output = done.metadata["output"].value
        assert f"resolved: settlement {closed[0]}" in output
        assert done.metadata["also_posted"].value == "nothing else."  # the journal was the letter itself
        for key, reason in others:  # still open, and why (its reason now)
            assert f"still open: settlement {key}: {reason[:60]}" in output
        assert x3.rows("GACCENTRY")  # the journals are in Sage now
    refreshed = instance.get_latest_materialization_event(dg.AssetKey("open_dead_letters")).asset_materialization
    assert refreshed.metadata["open_settlement"].value == len(others)

    # the cockpit on the warehouse a real run left: the overview's row and the accountant's workbook
    from click.testing import CliRunner
    from openpyxl import load_workbook

    from assets.cockpit.assets import settlement_overview
    from resources.warehouse import WarehouseResource
    from sage_amazon.cli import main

    overview = dg.materialize([settlement_overview], instance=instance,
                              resources={"warehouse": WarehouseResource(path=str(warehouse.path))})
    rows = {r.data["settlement"]: r.data for r in overview.asset_materializations_for_node("settlement_overview")[0]
            .metadata["settlements"].records}
    row = rows[SID]
    assert (row["marketplace"], row["currency"], row["total"], row["period"]) == (
        "DE", "EUR", "1080.65", "2025-10-02 – 2025-10-16")
    assert row["difference"] == "0.00" and row["journals_posted"] == "1 of 1" and row["sage_numbers"]
    # the COGS journal still waits for its SKU: the settlement is not done, and the overview says why
    assert (row["status"] == "blocked" and "COGS" in row["reason"]) if others else row["status"] == "posted"
    out = tmp_path / "s.xlsx"
    done = CliRunner().invoke(main, ["settlement", "export", SID, "--xlsx", str(out)])
    assert done.exit_code == 0, done.output
    book = load_workbook(out)
    assert book.sheetnames == ["Summary", "Journal lines", "Trace", "Raw rows"]
    raw_rows = book["Raw rows"].max_row - 1
    assert raw_rows == book["Trace"].max_row - 1 > 0  # every settlement row traced to its journal line

    # its figures for the plots, from the real staging tables
    from assets.cockpit.assets import settlement_figures

    instance.add_dynamic_partitions("settlement_ids", [SID])
    figures = dg.materialize([settlement_figures], partition_key=SID, instance=instance,
                             resources={"warehouse": WarehouseResource(path=str(warehouse.path))})
    md = figures.asset_materializations_for_node("settlement_figures")[0].metadata
    assert md["total"].value == "1080.65" and md["deposit"].value == "1080.65"
    assert float(md["sales"].value) > 0 and float(md["marketplace_fees"].value) < 0
    assert 0 < float(md["fee_rate_percent"].value) < 100 and md["orders"].value > 0
