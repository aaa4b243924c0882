"""Issue 18.1 in bulk: from listings.yaml's bulk.feed_from listings of a marketplace on, the previewed listings go in
one JSON_LISTINGS_FEED per marketplace (UPDATE for new listings, PATCH with the changed attributes); the processing
report decides what is recorded; a second run sends nothing. Both ERPs, judged from the sandbox's listings."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sage_amazon.sandbox.listing_items import LISTED_ITEMS
from tests.listings.conftest import US, listing, metadata, query, run_flow, served
from tests.listings.test_listings import REFUSED, _set_price, marketplaces
from tests.regional import regional_accounts

# several flow runs against in-process sandboxes: about 30 s a test on an idle machine, minutes under load 30+
pytestmark = pytest.mark.timeout(1200)


@pytest.fixture
def amazon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A sandbox whose clock runs (50 times Amazon's): a feed is processed within a second."""
    from sage_amazon.sandbox.amazon.server import running_sandbox

    with running_sandbox(tmp_path_factory.mktemp("amazon-live"), seed=7, time_scale=50, sqs_endpoint=None,
                         history_days=1) as sb, \
            regional_accounts(sb, tmp_path_factory.mktemp("accounts")) as accounts_file:
        sb.accounts_file = accounts_file
        yield sb


@pytest.fixture(autouse=True)
def _bulk_from_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sage_amazon.mapping import DEFAULTS_DIR

    text = (DEFAULTS_DIR / "listings.yaml").read_text()
    for old, new in (("feed_from: 100", "feed_from: 1"), ("poll_seconds: 30", "poll_seconds: 0.2"),
                     ("wait_seconds: 1800", "wait_seconds: 120")):
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "mapping").mkdir()
    (tmp_path / "mapping" / "listings.yaml").write_text(text)
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path / "mapping"))


def test_listings_in_bulk_go_in_one_feed_per_marketplace(env):
    mps = marketplaces(env)
    listable = [i for i in LISTED_ITEMS if i.ean]
    before = served(env)
    first = run_flow(env)
    after = served(env)
    md = metadata(first)
    assert after["createFeed"] - before.get("createFeed", 0) == len(mps)  # one feed per marketplace
    # each listing previewed alone (the refused one too), none submitted alone
    assert after["putListingsItem"] - before.get("putListingsItem", 0) == len(LISTED_ITEMS) * len(mps)
    assert md["created"] == len(listable) * len(mps) and md["dead_lettered"] == len(mps)
    for item in listable:
        for mp, price_list in mps.items():
            got = listing(env, item.code, mp)
            assert got is not None and got["attributes"]["item_name"][0]["value"] == item.title
            assert Decimal(got["offers"][0]["price"]["amount"]) == item.prices[price_list]
    assert query(env, "SELECT DISTINCT status FROM ops.listing_feeds") == [("done",)]
    letters = [r for (r,) in query(env, "SELECT reason FROM ops.dead_letters WHERE flow = 'listings' "
                                        "AND status = 'open'")]
    assert len(letters) == len(mps) and all(REFUSED in r and "90220" in r for r in letters)

    _set_price(env, "NW-LANTERN-LED", "AMZUS", Decimal("33.99"))
    before = served(env)
    assert metadata(run_flow(env))["updated"] == 1
    after = served(env)
    assert after["createFeed"] - before["createFeed"] == 1  # the US feed: one PATCH message
    assert after.get("patchListingsItem", 0) - before.get("patchListingsItem", 0) == 1  # its preview
    assert Decimal(listing(env, "NW-LANTERN-LED", US)["offers"][0]["price"]["amount"]) == Decimal("33.99")

    before = served(env)
    assert metadata(run_flow(env))["sp_api_calls"] == 0
    assert served(env) == before
