"""(b) Amazon -> Sage: the FBA discrepancy, its checks, dead letters, and the adjustments posted once."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from sage_amazon.inventory import adjust, rules, stock
from tests.inventory.conftest import FBA_PATH, materialize, query, today
from tests.metadata import by_partition

FBA_SITES = {"FBAUS": ("ATVPDKIKX0DER",), "FBAEU": ("A1F83G8C2ARO7P", "A1PA6795UKMFR9")}


@pytest.fixture
def adjust_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sage_amazon.mapping import DEFAULTS_DIR

    text = (DEFAULTS_DIR / "inventory.yaml").read_text().replace("mode: report_only", "mode: adjust")
    (tmp_path / "mapping").mkdir()
    (tmp_path / "mapping" / "inventory.yaml").write_text(text)
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path / "mapping"))


def _expected(amazon, target_name: str) -> dict[tuple[str, str], int]:
    """Amazon's fulfillable units per (FBA site, Sage item), from the sandbox's own state."""
    renamed = {"NW-BOTTLE-1L": "NW-BTL-1000", "NW-LAMP-300": "NW-HL300"} if target_name == "x3" else {}
    out: dict[tuple[str, str], int] = defaultdict(int)
    for key, inv in amazon.world.state["inventory"].items():
        mp, sku = key.split("|")
        if sku in ("NW-FILTER-SQ", "NW-CHAIR-FLD"):  # not in Sage
            continue
        site = next(s for s, mps in FBA_SITES.items() if mp in mps)
        out[(site, renamed.get(sku, sku))] += inv["fulfillable"]
    return dict(out)


def _sage_fba(env) -> dict[tuple[str, str], Decimal]:
    target = env["sage"].get_target()
    try:
        return {(r.site, r.item): r.physical for r in stock.read(target, list(FBA_SITES))}
    finally:
        getattr(target, "close", lambda: None)()


def test_report_only_shows_the_discrepancy_and_posts_nothing(env, amazon) -> None:
    before = _sage_fba(env)
    day = today()
    yesterday = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
    result = materialize(env, FBA_PATH, partition=day, first=yesterday)  # a backfill's range: acts on its last day
    rows = query(env, "SELECT site, item, skus, amazon_fulfillable, amazon_reserved, amazon_inbound, sage_physical,"
                      " discrepancy_units, unit_cost, discrepancy_value, status FROM marts.fba_discrepancy")
    expected = _expected(amazon, env["sage"].target)
    by_key = {(r[0], r[1]): r for r in rows if r[1]}
    for key, fulfillable in expected.items():
        r = by_key[key]
        assert r[3] == fulfillable and r[6] == before[key]
        assert r[7] == fulfillable - before[key]
        assert r[9] == (r[7] * r[8]).quantize(Decimal("0.01"))
        assert r[10] == "adjust"
    unknown = sorted(r[2] for r in rows if r[10] == "unknown_sku")
    assert unknown == ["NW-CHAIR-FLD", "NW-CHAIR-FLD", "NW-FILTER-SQ", "NW-FILTER-SQ"]  # per site (US, EU)
    # nothing posted in report_only; the Sage stock is untouched; the unknown SKUs are dead letters
    assert _sage_fba(env) == before
    per_day = by_partition(result, "sage_fba_adjustments")
    assert set(per_day) == {yesterday, day}
    assert per_day[day]["posted"] == 0 and per_day[day]["not_posted_report_only"] == len(expected)
    assert per_day[day]["dead_lettered"] == 4
    # the day it did not act on shows zeros, not the run's counts
    assert per_day[yesterday]["not_posted_report_only"] == per_day[yesterday]["dead_lettered"] == 0
    letters = query(env, "SELECT reason FROM ops.dead_letters WHERE flow = 'fba_adjustments' AND status = 'open'")
    assert len(letters) == 4 and all("unknown SKU" in r[0] for r in letters)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["large_fba_discrepancy"].passed  # Amazon holds hundreds, Sage tens: a warning
    assert checks["large_fba_discrepancy"].severity.value == "WARN"
    assert not checks["fba_lines_processable"].passed


def test_adjust_makes_the_fba_sites_follow_amazon_once(env, amazon, adjust_mode, monkeypatch) -> None:
    expected = _expected(amazon, env["sage"].target)
    # a crash right after Sage took the first adjustment (reply recorded nowhere): the run fails
    real_posted = adjust.posting_ledger.posted
    calls = {"n": 0}

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("killed mid-push")
        return real_posted(*args, **kwargs)

    materialize(env, FBA_PATH[:-1])  # the discrepancy, then the push is killed (the process dies: no retry)
    monkeypatch.setattr(adjust.posting_ledger, "posted", crash_once)
    target = env["sage"].get_target()
    with pytest.raises(RuntimeError, match="killed"):
        adjust.post_adjustments(env["warehouse"].write, target, date.fromisoformat(today()),
                                rules.load(env["sage"].target))
    getattr(target, "close", lambda: None)()
    monkeypatch.setattr(adjust.posting_ledger, "posted", real_posted)
    assert query(env, "SELECT status FROM ops.posting_ledger WHERE flow = 'fba_adjustments'") == [("sending",)]
    # the re-run adopts the adjustment Sage already has and posts the rest
    again = [a for a in FBA_PATH if a != "amazon_fba_inventory"]  # Amazon has not changed: today's snapshot stands
    second = materialize(env, again)
    md = second.asset_materializations_for_node("sage_fba_adjustments")[0].metadata
    assert md["adopted"].value == 1 and md["posted"].value == len(expected) - 1
    after = _sage_fba(env)
    for key, fulfillable in expected.items():
        assert after[key] == fulfillable, key
    # a third run (stock re-read: all in step; ledger: all posted) sends nothing
    third = materialize(env, again)
    md = third.asset_materializations_for_node("sage_fba_adjustments")[0].metadata
    assert md["posted"].value == 0 and md["already_posted"].value == len(expected)
    assert _sage_fba(env) == after
    ledger = query(env, "SELECT status, count(*) FROM ops.posting_ledger WHERE flow = 'fba_adjustments' GROUP BY 1")
    assert ledger == [("posted", len(expected))]
    assert _documents(env) == len(expected)  # one Sage document per (day, site, item), the reason code on each


def _documents(env) -> int:
    target = env["sage"].get_target()
    try:
        if target.name == "x3":
            rows = list(target.rest.query("STOJOU", where="TRSCOD eq 'FBA'", count=500))
            return len({r["VCRNUM"] for r in rows})
        from sqlalchemy import text

        with target.engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM timInvtTran t JOIN tciReasonCode r ON r.ReasonCodeKey = t.ReasonCodeKey "
                "WHERE t.TranType = 710 AND r.ReasonCodeID = 'FBA'")).scalar_one()
    finally:
        getattr(target, "close", lambda: None)()
