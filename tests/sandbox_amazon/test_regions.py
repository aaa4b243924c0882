"""Regions (issue 13 item 1): NA, EU and FE are separate hosts with separate authorisations, and a host refuses
a marketplace of another region with 403 Unauthorized "The marketplaces you provided are not valid for
region." (the answer amzn/selling-partner-api-models issue #5126 shows)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sp_api.api import Orders
from sp_api.base import SellingApiForbiddenException

from sage_amazon.sandbox.amazon import credentials
from sage_amazon.sandbox.amazon.regions import NOT_VALID
from sage_amazon.sandbox.amazon.server import running_sandbox

from .conftest import SELLER_CLOCK, make_client

# httpx's default 5 s read timeout fired on a loaded machine (2027-03-29 London clock, load 10-15): the sandbox
# answers, only late
http = httpx.Client(timeout=60)

US, UK, DE = "ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9"


def ago(**kw: float) -> str:
    """A time on the regional sandbox's clock (anchored: see conftest.SELLER_CLOCK)."""
    return (SELLER_CLOCK() - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


def token(sb, refresh_token: str) -> dict[str, str]:  # noqa: ANN001
    res = http.post(sb.lwa_url, data={"grant_type": "refresh_token", "refresh_token": refresh_token,
                                       "client_id": credentials.LWA_APP_ID,
                                       "client_secret": credentials.LWA_CLIENT_SECRET})
    assert res.status_code == 200, res.text
    return {"x-amz-access-token": res.json()["access_token"]}


@pytest.fixture(scope="module")
def regional(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    # anchored: whether a settlement of each region closed within 20 days of history depends on the day
    with running_sandbox(tmp_path_factory.mktemp("regions"), seed=17, history_days=20, time_scale=100,
                         regions=True, now=SELLER_CLOCK(), clock=SELLER_CLOCK) as sb:
        yield sb


def test_each_region_is_its_own_host_and_authorisation(regional) -> None:
    sb = regional
    eu, na = sb.region_urls["EU"], sb.region_urls["NA"]
    eu_token = token(sb, credentials.REGION_REFRESH_TOKENS["EU"])
    na_token = token(sb, credentials.REGION_REFRESH_TOKENS["NA"])
    query = {"MarketplaceIds": f"{UK},{DE}", "CreatedAfter": ago(days=5)}
    ok = http.get(f"{eu}/orders/v0/orders", params=query, headers=eu_token)
    assert ok.status_code == 200 and {o["MarketplaceId"] for o in ok.json()["payload"]["Orders"]} <= {UK, DE}
    # a marketplace of another region: 403, as Amazon answers
    for mps in (US, f"{US},{UK}"):
        res = http.get(f"{eu}/orders/v0/orders", params={**query, "MarketplaceIds": mps}, headers=eu_token)
        assert res.status_code == 403
        assert res.json()["errors"][0] == {"code": "Unauthorized", "message": "Access to requested resource is denied.",
                                           "details": NOT_VALID}
    # another region's authorisation (and the legacy all-regions token) is refused on this host
    assert http.get(f"{eu}/orders/v0/orders", params=query, headers=na_token).status_code == 403
    legacy = token(sb, credentials.SP_API_REFRESH_TOKEN)
    assert http.get(f"{eu}/orders/v0/orders", params=query, headers=legacy).status_code == 403
    # orders of another region are not on this host
    us_order = http.get(f"{na}/orders/v0/orders", params={"MarketplaceIds": US, "CreatedAfter": ago(days=5)},
                         headers=na_token).json()["payload"]["Orders"][0]["AmazonOrderId"]
    assert http.get(f"{eu}/orders/v0/orders/{us_order}", headers=eu_token).status_code == 404
    assert http.get(f"{na}/orders/v0/orders/{us_order}", headers=na_token).status_code == 200
    # the main port is the NA host (Amazon has no host for all regions): the first refresh token is an NA
    # authorisation, and a marketplace of another region is refused there, alone or among NA's
    assert sb.region_urls["NA"] == sb.base_url
    assert http.get(f"{sb.base_url}/orders/v0/orders", params={**query, "MarketplaceIds": US},
                     headers=legacy).status_code == 200
    for mps in (UK, f"{US},{UK}"):
        res = http.get(f"{sb.base_url}/orders/v0/orders", params={**query, "MarketplaceIds": mps}, headers=legacy)
        assert res.status_code == 403 and res.json()["errors"][0]["details"] == NOT_VALID
    assert http.get(f"{sb.base_url}/orders/v0/orders", params={**query, "MarketplaceIds": UK},
                     headers=eu_token).status_code == 403  # the EU authorisation is not valid on the NA host


def test_lists_show_only_the_region(regional) -> None:
    sb = regional
    eu = sb.region_urls["EU"]
    headers = token(sb, credentials.REGION_REFRESH_TOKENS["EU"])
    reports = http.get(f"{eu}/reports/2021-06-30/reports", headers=headers, params={
        "reportTypes": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "pageSize": 100}).json()["reports"]
    assert reports and {m for r in reports for m in r["marketplaceIds"]} <= {UK, DE}
    txns = http.get(f"{eu}/finances/2024-06-19/transactions", headers=headers,
                     params={"postedAfter": ago(days=15)}).json()["payload"]["transactions"]
    assert txns and {t["marketplaceDetails"]["marketplaceId"] for t in txns} <= {UK, DE}
    groups = http.get(f"{eu}/finances/v0/financialEventGroups", headers=headers).json()["payload"][
        "FinancialEventGroupList"]
    assert groups and all(g["OriginalTotal"]["CurrencyCode"] in ("GBP", "EUR") for g in groups)
    us_inventory = http.get(f"{eu}/fba/inventory/v1/summaries", headers=headers, params={
        "granularityType": "Marketplace", "granularityId": US, "marketplaceIds": US})
    assert us_inventory.status_code == 403


def test_python_amazon_sp_api_per_region(regional) -> None:
    from sp_api.auth import access_token_client

    sb = regional
    env = sb.region_env("EU")
    assert env["SP_API_MARKETPLACES"] == f"{UK},{DE}"
    access_token_client.cache.clear()
    uk = make_client(Orders, sb.region_urls["EU"], UK, refresh_token=env["SP_API_REFRESH_TOKEN"])
    assert uk.get_orders(CreatedAfter=ago(days=3)).payload["Orders"]
    # the client adds MarketplaceIds=<its marketplace> itself: a US client on the EU host is refused
    us_on_eu = make_client(Orders, sb.region_urls["EU"], US, refresh_token=env["SP_API_REFRESH_TOKEN"])
    with pytest.raises(SellingApiForbiddenException) as info:
        us_on_eu.get_orders(CreatedAfter=ago(days=3))
    assert info.value.error[0]["details"] == NOT_VALID


def test_region_hosts_close_with_the_sandbox(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, seed=2, history_days=2, regions=True) as sb:
        urls = dict(sb.region_urls)
    for url in urls.values():
        with pytest.raises(httpx.TransportError):
            http.get(url + "/orders/v0/orders", timeout=2)


def test_each_region_has_its_own_rate_limits(tmp_path: Path) -> None:
    """Usage plans apply per selling partner and region: emptying getReports (burst 10) on the EU host leaves
    the NA host's budget whole."""
    with running_sandbox(tmp_path, seed=3, history_days=2, regions=True, ticking=False) as sb:
        eu = token(sb, credentials.REGION_REFRESH_TOKENS["EU"])
        na = token(sb, credentials.REGION_REFRESH_TOKENS["NA"])
        params = {"reportTypes": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"}
        statuses = [http.get(f"{sb.region_urls['EU']}/reports/2021-06-30/reports", params=params,
                              headers=eu).status_code for _ in range(11)]
        assert statuses == [200] * 10 + [429]
        assert http.get(f"{sb.region_urls['NA']}/reports/2021-06-30/reports", params=params,
                         headers=na).status_code == 200
