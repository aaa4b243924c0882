"""Regions in the product (issue 13 item 1): an accounts file names one authorisation per region (host, refresh
token by environment variable, marketplaces); every call goes to its marketplace's regional host with that
region's token. Run against the sandbox's regional hosts, which refuse another region's token or marketplace
with 403 as Amazon does (so any cross-region request fails these tests), while SP_API_ENDPOINT points at a
closed port (so nothing goes to an all-regions host)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from sage_amazon.amazon import accounts, orders, reports
from sage_amazon.amazon.client import SpApiError
from sage_amazon.config import ConfigError
from sage_amazon.sandbox.amazon import credentials
from sage_amazon.sandbox.amazon.server import free_port, running_sandbox

US, UK, DE, JP = "ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9", "A1VC38T7YXB528"


@pytest.fixture(autouse=True)
def _fresh_tokens() -> None:
    from sp_api.auth import access_token_client

    access_token_client.cache.clear()
    access_token_client.grantless_cache.clear()


def write(tmp_path: Path, entries: list[dict]) -> Path:
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump({"accounts": entries}))
    return path


def test_without_a_file_one_account_from_the_sp_api_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAGE_AMAZON_ACCOUNTS_FILE", raising=False)
    monkeypatch.setenv("SP_API_MARKETPLACES", f"{UK},{DE}")
    [only] = accounts.load()
    assert only.name == "default" and only.region == "EU" and only.marketplaces == (UK, DE)


def test_the_file_is_validated_with_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_NA", "Atzr|na")
    ok = {"name": "na", "region": "NA", "marketplaces": [US], "refresh_token_env": "TOKEN_NA"}
    [na] = accounts.load(write(tmp_path, [ok]))
    assert na.settings.endpoint == "https://sellingpartnerapi-na.amazon.com"  # Amazon's host of the region
    assert na.settings.refresh_token == "Atzr|na" and "Atzr" not in repr(na)
    cases = [
        ({**ok, "marketplaces": [US, UK]}, "marketplace not of region NA (A1F83G8C2ARO7P is EU)"),
        ({**ok, "region": "SA"}, "region must be NA, EU or FE"),
        ({**ok, "refresh_token_env": "NOT_SET_ANYWHERE"}, "NOT_SET_ANYWHERE) is not set"),
        ({**ok, "refresh_token": "Atzr|inline"}, "no secret in this file"),
        ({**ok, "marketplaces": []}, "needs a list of marketplaces"),
    ]
    for entry, message in cases:
        with pytest.raises(ConfigError, match=r"SAGE_AMAZON_ACCOUNTS_FILE") as err:
            accounts.load(write(tmp_path, [entry]))
        assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="is in accounts na and again"):
        accounts.load(write(tmp_path, [ok, {**ok, "name": "again"}]))


@pytest.fixture(scope="module")
def regional(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    with running_sandbox(tmp_path_factory.mktemp("regions"), seed=17, history_days=20, time_scale=100,
                         regions=True) as sb:
        yield sb


def accounts_file(sb, path: Path) -> Path:  # noqa: ANN001
    """NA (US) and EU (UK, DE) on their own sandbox hosts, their tokens in the environment."""
    entries = [{"name": name, "region": region, "endpoint": sb.region_urls[region],
                "lwa_endpoint": f"{sb.region_urls[region]}/auth/o2/token", "marketplaces": mps,
                "refresh_token_env": f"TEST_REFRESH_TOKEN_{region}"}
               for name, region, mps in (("north-america", "NA", [US]), ("europe", "EU", [UK, DE]))]
    return write(path, entries)


@pytest.fixture
def regional_api(regional, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    from resources.sp_api import SpApiResource

    for region in ("NA", "EU"):
        monkeypatch.setenv(f"TEST_REFRESH_TOKEN_{region}", credentials.REGION_REFRESH_TOKENS[region])
    closed = f"http://127.0.0.1:{free_port()}"  # nothing may go to an all-regions host
    monkeypatch.setenv("SP_API_ENDPOINT", closed)
    monkeypatch.setenv("SP_API_LWA_ENDPOINT", f"{closed}/auth/o2/token")
    monkeypatch.setenv("SAGE_AMAZON_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SAGE_AMAZON_RETRY_BUDGET_SECONDS", "2")
    monkeypatch.setenv("SAGE_AMAZON_ACCOUNTS_FILE", str(accounts_file(regional, tmp_path)))
    resource = SpApiResource.from_env().model_copy(update={"limiter_dir": "memory", "report_poll_seconds": 0.2})
    api = resource.get_client()
    try:
        yield api
    finally:
        api.close()


def test_orders_of_each_region_come_from_its_own_host(regional_api) -> None:  # noqa: ANN001
    api = regional_api
    assert isinstance(api, accounts.RegionalSpApi) and api.settings.marketplaces == (US, UK, DE)
    na, eu = api.apis
    assert na.settings.seller_key != eu.settings.seller_key  # its own rate-limit buckets
    end = datetime.now(UTC) - timedelta(minutes=5)  # clock-ok
    extract = orders.search_orders(api, end - timedelta(days=6), end)
    assert not extract.drift
    assert {o["marketplace_id"] for o in extract.orders} == {US, UK, DE}
    assert na.calls["searchOrders"] >= 1 and eu.calls["searchOrders"] >= 1
    v0 = orders.get_orders_v0(api, end - timedelta(days=1), end)
    assert {o["marketplace_id"] for o in v0.orders} <= {US, UK, DE} and v0.orders
    # by id (an ORDER_CHANGE): the order is found on its region's host
    ids = [next(o["amazon_order_id"] for o in extract.orders if o["marketplace_id"] == m) for m in (US, DE)]
    by_id = orders.get_orders_2026(api, ids)
    assert sorted(o["amazon_order_id"] for o in by_id.orders) == sorted(ids)
    # with the MarketplaceId of each ORDER_CHANGE, each order is asked of its own region's host only
    na_before, eu_before = na.calls["getOrder2026"], eu.calls["getOrder2026"]
    hinted = orders.get_orders_2026(api, ids, dict(zip(ids, (US, DE), strict=True)))
    assert sorted(o["amazon_order_id"] for o in hinted.orders) == sorted(ids)
    assert (na.calls["getOrder2026"] - na_before, eu.calls["getOrder2026"] - eu_before) == (1, 1)
    v0_by_id = orders.get_orders_v0_by_id(api, ids[1:], {ids[1]: DE})
    assert [o["amazon_order_id"] for o in v0_by_id.orders] == ids[1:] and na.calls["getOrder"] == 0
    # a call naming two regions' marketplaces is never sent
    before = api.total_calls
    with pytest.raises(SpApiError, match="several regions"):
        api.call("getOrders", "ordersV0", "get_orders", MarketplaceIds=[US, UK])
    assert api.total_calls == before


def test_reports_and_settlements_per_region(regional_api, tmp_path: Path) -> None:  # noqa: ANN001
    from sage_amazon.ledger import intake

    api = regional_api
    end = datetime.now(UTC) - timedelta(minutes=5)  # clock-ok
    [text] = reports.fetch_reports(api, orders.ALL_ORDERS_REPORT, [(end - timedelta(days=3), end)], poll_seconds=0.2)
    rows = reports.parse_flat_file(text)
    assert rows and {r["sales-channel"] for r in rows} >= {"Amazon.com", "Amazon.co.uk"}
    assert all(a.calls["createReport"] == 1 for a in api.apis)  # one report per region
    found = intake.discover(api, tmp_path / "raw", max_downloads=50)
    assert not found.errors and found.stored
    assert all(a.calls["getReports"] >= 1 for a in api.apis)


def test_fba_inventory_per_marketplace_on_its_host(regional_api) -> None:  # noqa: ANN001
    from sage_amazon.inventory import fba

    api = regional_api
    rows = fba.fetch_all(api, api.settings.marketplaces, datetime.now(UTC).date())  # clock-ok
    assert {r["marketplace_id"] for r in rows} == {US, UK, DE}


def test_the_product_sends_no_cross_region_request(regional, regional_api, tmp_path: Path) -> None:  # noqa: ANN001
    """Issue 13: configured for an NA and an EU account on separate regional hosts, the product's extraction
    (orders by search, v0 and by id, the all-orders report, settlement discovery, FBA inventory) sends each
    request to its region's host: the hosts, which refuse a foreign marketplace or token with 403 as Amazon
    does and count what they refuse (Sandbox.refused, GET /_sandbox/requests), refused nothing, and both
    regions were asked."""
    import httpx

    from sage_amazon.inventory import fba
    from sage_amazon.ledger import intake
    from tests.regional import admitted_by_region, cross_region_refusals

    sb, api = regional, regional_api
    refused_before, admitted_before = cross_region_refusals(sb), admitted_by_region(sb)
    end = datetime.now(UTC) - timedelta(minutes=5)  # clock-ok the sandbox runs on the real clock here
    extract = orders.search_orders(api, end - timedelta(days=3), end)
    ids = {m: next(o["amazon_order_id"] for o in extract.orders if o["marketplace_id"] == m) for m in (US, UK)}
    orders.get_orders_v0(api, end - timedelta(days=1), end)
    orders.get_orders_2026(api, list(ids.values()))  # by id, no marketplace hint: each account in turn
    reports.fetch_reports(api, orders.ALL_ORDERS_REPORT, [(end - timedelta(days=2), end)], poll_seconds=0.2)
    intake.discover(api, tmp_path / "raw", max_downloads=5)
    fba.fetch_all(api, api.settings.marketplaces, end.date())
    admitted = admitted_by_region(sb)
    assert admitted.get("NA", 0) > admitted_before.get("NA", 0) and admitted.get("EU", 0) > admitted_before.get("EU", 0)
    assert admitted.get("FE", 0) == admitted_before.get("FE", 0)  # the seller has no FE account
    # an order asked by id of the other region's host is a 404 there (not a refusal), as on Amazon
    assert cross_region_refusals(sb) == refused_before == {}
    # the count is real: what a mixed client sends is refused and counted
    eu = sb.region_urls["EU"]
    token = httpx.post(f"{eu}/auth/o2/token", data={"grant_type": "refresh_token",
                                                    "refresh_token": credentials.REGION_REFRESH_TOKENS["EU"],
                                                    "client_id": credentials.LWA_APP_ID,
                                                    "client_secret": credentials.LWA_CLIENT_SECRET}).json()
    mixed = httpx.get(f"{eu}/orders/v0/orders", params={"MarketplaceIds": f"{US},{UK}",
                                                        "CreatedAfter": "2026-01-01T00:00:00Z"},
                      headers={"x-amz-access-token": token["access_token"]})
    assert mixed.status_code == 403
    served = httpx.get(f"{sb.base_url}/_sandbox/requests").json()
    assert served["refused"] == {"EU": 1} and served["admitted"]["EU"]["searchOrders"] >= 1
    with sb.world.lock:
        sb.refused.clear()  # the module's sandbox stays clean for the other tests


def test_sandbox_up_regions_writes_one_account_per_region_with_marketplaces(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from sage_amazon.sandbox import supervisor

    ports = supervisor.region_ports(8100)
    assert ports == {"NA": 8101, "EU": 8102, "FE": 8103}
    env = supervisor.regional_env({"SP_API_MARKETPLACES": f"{US},{UK},{DE}"}, ports, tmp_path / "accounts.yaml")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    loaded = accounts.load(env["SAGE_AMAZON_ACCOUNTS_FILE"])
    assert [(a.region, a.marketplaces, a.settings.endpoint) for a in loaded] == [
        ("NA", (US,), "http://127.0.0.1:8101"), ("EU", (UK, DE), "http://127.0.0.1:8102")]
    assert "Atzr" not in (tmp_path / "accounts.yaml").read_text()  # the tokens are in the environment only


def test_an_order_change_batch_carries_each_orders_marketplace() -> None:
    import json

    from sage_amazon.orders.inbox import Batch, Inbox

    def message(order_id: str, marketplace: str, n: int):  # noqa: ANN202
        from types import SimpleNamespace

        body = {"NotificationType": "ORDER_CHANGE", "EventTime": "2026-11-20T10:00:00Z",
                "NotificationMetadata": {"NotificationId": f"n{n}"},
                "Payload": {"OrderChangeNotification": {"AmazonOrderId": order_id, "OrderChangeType": "OrderStatusChange",
                                                        "Summary": {"MarketplaceId": marketplace,
                                                                    "OrderStatus": "Unshipped",
                                                                    "PurchaseDate": "2026-11-20T09:00:00Z"}}}}
        return SimpleNamespace(body=json.dumps(body), receipt_handle=f"h{n}", message_id=f"m{n}")

    inbox = Inbox()
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    inbox.take([message("111-1", US, 1), message("222-2", DE, 2)], lambda parsed: "2026-11-20")
    [batch] = inbox.batches(now)
    assert batch.marketplaces == {"111-1": US, "222-2": DE}
    assert Batch.from_json(batch.key, batch.to_json()).marketplaces == batch.marketplaces


def test_sp_api_steps_hold_the_pool_of_their_accounts_region(tmp_path: Path) -> None:
    """Issue 13: one Dagster pool per Amazon region (sp_api_na / sp_api_eu / sp_api_fe), as Amazon's usage plans
    are per selling partner and region. The code location's SP-API steps hold the pool of the region of the
    configured accounts, read from the accounts file without its secrets (a step calls every configured account,
    so accounts of two regions share one pool named for both)."""
    import json
    import os
    import subprocess
    import sys

    from resources import pools

    assert [pools.sp_api_pool(r) for r in ("NA", "EU", "FE")] == ["sp_api_na", "sp_api_eu", "sp_api_fe"]
    na = {"name": "na", "region": "NA", "marketplaces": [US], "refresh_token_env": "UNSET_NA"}
    eu = {"name": "eu", "region": "EU", "marketplaces": [UK, DE], "refresh_token_env": "UNSET_EU"}
    show = ("import json; from resources import pools; from sage_amazon.definitions import defs; "
            "g = defs.resolve_asset_graph(); "
            "print(json.dumps(sorted({p for k in g.get_all_asset_keys() if 'amazon' in g.get(k).kinds "
            "for p in g.get(k).pools})))")
    root = Path(__file__).resolve().parents[2]
    for entries, expected in (([na], "sp_api_na"), ([eu], "sp_api_eu"), ([na, eu], "sp_api_eu_na")):
        (tmp_path / "accounts.yaml").write_text(yaml.safe_dump({"accounts": entries}))
        env = {**os.environ, "SAGE_AMAZON_ACCOUNTS_FILE": str(tmp_path / "accounts.yaml"),
               "SAGE_AMAZON_DATA_DIR": str(tmp_path / "data")}
        out = subprocess.run([sys.executable, "-c", show], cwd=root, env=env, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert json.loads(out.stdout.strip().splitlines()[-1]) == [expected], entries
    # without the file: the regions of SP_API_MARKETPLACES
    env = {k: v for k, v in os.environ.items() if k != "SAGE_AMAZON_ACCOUNTS_FILE"}
    out = subprocess.run([sys.executable, "-c", "from resources import pools; print(pools.SP_API)"], cwd=root,
                         env={**env, "SP_API_MARKETPLACES": f"{UK},{DE}"}, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.split() == ["sp_api_eu"], out.stderr[-2000:]
