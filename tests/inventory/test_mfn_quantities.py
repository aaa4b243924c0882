"""(c) Sage -> Amazon: merchant-fulfilled quantities from Sage's available stock, pushed only when changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sage_amazon.inventory import adjust, push, rules, stock
from tests.inventory.conftest import materialize, query, sp_api_resource, today
from tests.metadata import by_partition
from tests.regional import regional_accounts

MPS = ("ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9")


@pytest.fixture(autouse=True)
def _asset_clock_held_at_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """The push acts on the current day only (assets.inventory._is_current, machine clock): a test whose runs
    cross midnight (make test-dates' 23:50 clock) saw its second run skipped as a past day. The asset's clock is
    held at the test's start; every partition the test asks for (today(), read later) is then current."""
    from datetime import UTC, datetime

    import assets.inventory.assets as inventory_assets

    start = datetime.now(UTC)  # clock-ok: the machine's instant, held for the test

    class Held(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206
            return start.astimezone(tz) if tz else start.replace(tzinfo=None)

    monkeypatch.setattr(inventory_assets, "datetime", Held)
MFN_SKUS = ("NW-KNIFE-MT", "NW-MAP-KIT")
PUSH = ["sage_stock", "amazon_mfn_quantities"]


@pytest.fixture(scope="module")
def amazon_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A sandbox whose clock runs (50 times Amazon's): feeds are processed within a second."""
    from sage_amazon.sandbox.amazon.server import running_sandbox

    with running_sandbox(tmp_path_factory.mktemp("amazon-live"), seed=7, time_scale=50, sqs_endpoint=None,
                         history_days=2) as sb, \
            regional_accounts(sb, tmp_path_factory.mktemp("accounts")) as accounts_file:
        sb.accounts_file = accounts_file
        yield sb


@pytest.fixture
def live(env: dict[str, Any], amazon_live: Any) -> dict[str, Any]:
    res = sp_api_resource(amazon_live)
    return {**env, "sp_api": res.model_copy(update={"report_poll_seconds": 0.2})}


def _mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **replace: str) -> None:
    from sage_amazon.mapping import DEFAULTS_DIR

    text = (DEFAULTS_DIR / "inventory.yaml").read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "mapping").mkdir(exist_ok=True)
    (tmp_path / "mapping" / "inventory.yaml").write_text(text)
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path / "mapping"))


def _amazon_quantities(resources: dict[str, Any]) -> dict[tuple[str, str], int]:
    """What Amazon serves (getListingsItem includedData=fulfillmentAvailability), read from outside."""
    api = resources["sp_api"].get_client()
    out = {}
    try:
        for mp in MPS:
            for sku in MFN_SKUS:
                res = api.call("getListingsItem", "listings", "get_listings_item", "A2SAGESANDBOX01", sku,
                               marketplace_id=mp, marketplaceIds=mp, includedData="fulfillmentAvailability")
                [fa] = res.payload["fulfillmentAvailability"]
                assert fa["fulfillmentChannelCode"] == "DEFAULT"
                out[(mp, sku)] = fa["quantity"]
    finally:
        api.close()
    return out


def _expected(resources: dict[str, Any]) -> dict[tuple[str, str], int]:
    """The default rule (buffer 2, cap 500) applied to Sage's available stock at US01, read from Sage."""
    target = resources["sage"].get_target()
    try:
        avail = {r.item: r.available for r in stock.read(target, ["US01"])}
    finally:
        getattr(target, "close", lambda: None)()
    rule = rules.load(resources["sage"].target).defaults
    return {(mp, sku): rule.apply(avail[sku]) for mp in MPS for sku in MFN_SKUS}


def _issue(resources: dict[str, Any], item: str, units: int) -> None:
    """Someone ships units out of US01 in Sage (a miscellaneous issue / inventory adjustment)."""
    target = resources["sage"].get_target()
    try:
        adj = adjust.Adjustment(date.fromisoformat(today()), "US01", item, Decimal(-units), "DAMAGED", 0)
        adjust.post_adjustment(target, adj if target.name == "sage500" else
                               adjust.Adjustment(adj.day, "US01", item, Decimal(-units), "DMG", 0))
    finally:
        getattr(target, "close", lambda: None)()


def _md(result, name: str = "amazon_mfn_quantities") -> dict[str, Any]:
    return {k: v.value for k, v in result.asset_materializations_for_node(name)[0].metadata.items()}


def test_patch_few_skus_then_nothing_then_only_what_changed(live) -> None:
    first = _md(materialize(live, PUSH))
    assert first["patch_calls"] == 6 and first["accepted"] == 6 and first["create_feed_calls"] == 0
    assert _amazon_quantities(live) == _expected(live)
    # a second run sends nothing; as a backfill's range it acts on its last day, the earlier day shows zeros
    day = today()
    yesterday = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
    ranged = materialize(live, PUSH, partition=day, first=yesterday)
    again = by_partition(ranged, "amazon_mfn_quantities")[day]
    assert again["sp_api_calls"] == 0 and again["unchanged"] == 6
    assert by_partition(ranged, "amazon_mfn_quantities")[yesterday]["unchanged"] == 0
    # a Sage stock change reaches Amazon with the next run: one patch per marketplace of that SKU
    before = _amazon_quantities(live)
    _issue(live, "NW-KNIFE-MT", 5)
    changed = _md(materialize(live, PUSH))
    assert changed["patch_calls"] == 3 and changed["unchanged"] == 3
    quantities = _amazon_quantities(live)
    assert quantities == _expected(live)
    for mp in MPS:
        assert quantities[(mp, "NW-KNIFE-MT")] == before[(mp, "NW-KNIFE-MT")] - 5
        assert quantities[(mp, "NW-MAP-KIT")] == before[(mp, "NW-MAP-KIT")]


@pytest.mark.parametrize("env", ["sage500"], indirect=True)  # the feed path is Amazon's; the patch test runs both ERPs
def test_feed_for_many_skus_with_report_errors_and_a_kill(live, amazon_live, tmp_path, monkeypatch) -> None:
    _mapping(tmp_path, monkeypatch, **{"feed_from: 20": "feed_from: 1", "buffer: 2 ": "buffer: 3 "})
    gone = amazon_live.world.state["listings"].pop("A1PA6795UKMFR9|NW-MAP-KIT")  # the seller deleted it in DE
    real = push.follow_up_feeds
    calls = {"n": 0}

    def killed(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # right after the feeds were submitted
            raise RuntimeError("killed mid-push")
        return real(*args, **kwargs)

    try:
        monkeypatch.setattr(push, "follow_up_feeds", killed)
        materialize(live, ["sage_stock"])
        with pytest.raises(RuntimeError, match="killed"):
            api = live["sp_api"].get_client()
            cfg = rules.load(live["sage"].target)
            with live["warehouse"].write() as con:
                p = push.plan(con, date.fromisoformat(today()), cfg, live["sage"].target, MPS)
            push.push(live["warehouse"].write, api, p, cfg, poll_seconds=0.2)
        assert query(live, "SELECT count(*) FROM ops.mfn_feeds WHERE status = 'submitted'") == [(3,)]
        monkeypatch.setattr(push, "follow_up_feeds", real)
        # the re-run follows the submitted feeds up: no new feed, the reports applied
        md = _md(materialize(live, PUSH))
        assert md["create_feed_calls"] == 0 and md["accepted"] == 5 and md["dead_lettered"] == 1
        letters = query(live, "SELECT record_key, reason FROM ops.dead_letters WHERE flow = 'mfn_quantities' "
                              "AND status = 'open'")
        assert letters == [("A1PA6795UKMFR9|NW-MAP-KIT", "Amazon refused the quantity: 4000003: SKU NW-MAP-KIT "
                                                         "does not exist.")]
    finally:
        amazon_live.world.state["listings"]["A1PA6795UKMFR9|NW-MAP-KIT"] = gone
    expected = _expected(live)  # buffer 3 now
    got = _amazon_quantities(live)
    assert {k: v for k, v in got.items() if k != ("A1PA6795UKMFR9", "NW-MAP-KIT")} == {
        k: v for k, v in expected.items() if k != ("A1PA6795UKMFR9", "NW-MAP-KIT")}
    # the listing is back: the next run sends only that SKU (a feed: feed_from 1) and clears the dead letter
    md = _md(materialize(live, PUSH))
    assert md["create_feed_calls"] == 1 and md["accepted"] == 1 and md["open_dead_letters"] == 0
    assert _amazon_quantities(live) == expected


@pytest.mark.parametrize("env", ["x3"], indirect=True)
def test_unmapped_and_unknown_are_dead_letters(live, tmp_path, monkeypatch) -> None:
    _mapping(tmp_path, monkeypatch, **{
        "skus: [NW-KNIFE-MT, NW-MAP-KIT]": "skus: [NW-KNIFE-MT, NW-NOT-IN-SAGE]",
        "x3: {ATVPDKIKX0DER: US01, A1F83G8C2ARO7P: US01, A1PA6795UKMFR9: US01}":
            "x3: {ATVPDKIKX0DER: US01, A1F83G8C2ARO7P: US01}",
        "sage500: {ATVPDKIKX0DER: US01, A1F83G8C2ARO7P: US01, A1PA6795UKMFR9: US01}":
            "sage500: {ATVPDKIKX0DER: US01, A1F83G8C2ARO7P: US01}"})
    md = _md(materialize(live, PUSH))
    assert md["planned"] == 2 and md["accepted"] == 2
    reasons = dict(query(live, "SELECT record_key, reason FROM ops.dead_letters WHERE flow = 'mfn_quantities'"))
    assert reasons["A1PA6795UKMFR9|*"].startswith("marketplace A1PA6795UKMFR9 has no Sage site")
    assert reasons["ATVPDKIKX0DER|NW-NOT-IN-SAGE"].startswith("unknown SKU")


def test_quantity_rules() -> None:
    rule = rules.QuantityRule(buffer=2, percentage=Decimal("50"), threshold=5, cap=20)
    assert rule.apply(Decimal(100)) == 20  # 50 - 2 capped
    assert rule.apply(Decimal(13)) == 0  # 6 - 2 = 4 < threshold 5
    assert rule.apply(Decimal(14)) == 5
    assert rule.apply(Decimal(-3)) == 0
    assert rule.apply(Decimal(100), active=False) == 0
