"""Where the sandbox once differed from Amazon (issue 13, items 4-12): each test states Amazon's behaviour
and where it is written (a model under shared/spapi-models, a notification schema or the changelog)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sp_api.api import Orders

from sage_amazon.sandbox.amazon import credentials
from sage_amazon.sandbox.amazon.server import running_sandbox
from sage_amazon.sandbox.seller_catalog import SELLER_ID

from .conftest import make_client

V1 = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE"
V2 = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"


def token(base_url: str, **form: str) -> str:
    res = httpx.post(f"{base_url}/auth/o2/token", data={"client_id": credentials.LWA_APP_ID,
                                                        "client_secret": credentials.LWA_CLIENT_SECRET, **form})
    assert res.status_code == 200, res.text
    return res.json()["access_token"]


def seller_token(base_url: str, refresh_token: str = credentials.SP_API_REFRESH_TOKEN) -> str:
    return token(base_url, grant_type="refresh_token", refresh_token=refresh_token)


def region_hosts(sb) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """(host, refresh token, marketplaces) of the seller's NA and EU authorisations: each region on its own host."""
    return [(sb.region_urls[r], credentials.REGION_REFRESH_TOKENS[r], mps)
            for r, mps in (("NA", "ATVPDKIKX0DER"), ("EU", "A1F83G8C2ARO7P,A1PA6795UKMFR9"))]


def grantless_token(base_url: str, scope: str = "sellingpartnerapi::notifications") -> str:
    return token(base_url, grant_type="client_credentials", scope=scope)


def ago(now: datetime, **kw: float) -> str:
    return (now - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_grantless_operations_need_a_client_credentials_token(sandbox) -> None:
    """notifications.json: "The `createDestination` operation is grantless" (also getDestinations,
    getDestination, deleteDestination): a seller's refresh-token access token is refused with 403."""
    url = f"{sandbox.base_url}/notifications/v1/destinations"
    body = {"name": "fidelity", "resourceSpecification": {"sqs": {"arn": "arn:aws:sqs:us-east-1:123456789012:fid"}}}
    seller = {"x-amz-access-token": seller_token(sandbox.base_url)}
    for res in (httpx.post(url, json=body, headers=seller), httpx.get(url, headers=seller)):
        assert res.status_code == 403 and res.json()["errors"][0]["code"] == "Unauthorized"
        assert res.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    rotation = {"x-amz-access-token": grantless_token(sandbox.base_url, "sellingpartnerapi::client_credential:rotation")}
    assert httpx.get(url, headers=rotation).status_code == 403  # the wrong grantless scope
    grantless = {"x-amz-access-token": grantless_token(sandbox.base_url)}
    created = httpx.post(url, json=body, headers=grantless)
    assert created.status_code == 200, created.text
    dest_id = created.json()["payload"]["destinationId"]
    assert dest_id in {d["destinationId"] for d in httpx.get(url, headers=grantless).json()["payload"]}
    assert httpx.delete(f"{url}/{dest_id}", headers=seller).status_code == 403
    assert httpx.delete(f"{url}/{dest_id}", headers=grantless).status_code == 200
    # and a grantless token opens nothing else
    orders = httpx.get(f"{sandbox.base_url}/orders/v0/orders", params={"MarketplaceIds": "ATVPDKIKX0DER",
                                                                      "CreatedAfter": "2026-01-01T00:00:00Z"},
                       headers=grantless)
    assert orders.status_code == 403


def _rdt(base_url: str, resources: list[dict]) -> str:
    res = httpx.post(f"{base_url}/tokens/2021-03-01/restrictedDataToken", json={"restrictedResources": resources},
                     headers={"x-amz-access-token": seller_token(base_url)})
    assert res.status_code == 200, res.text
    return res.json()["restrictedDataToken"]


def test_get_orders_returns_pii_only_with_a_restricted_data_token_naming_it(sandbox) -> None:
    """tokens_2021-03-01.json RestrictedResource: path "/orders/v0/orders" is "for getting an RDT for the
    getOrders operation"; dataElements buyerInfo / shippingAddress name the PII. ordersV0.json Order.BuyerInfo
    and ShippingAddress: Name, AddressLine1, BuyerName... are restricted data."""
    now = sandbox.world.clock()
    params = {"MarketplaceIds": "ATVPDKIKX0DER", "CreatedAfter": ago(now, days=20), "OrderStatuses": "Shipped",
              "MaxResultsPerPage": "5"}
    url = f"{sandbox.base_url}/orders/v0/orders"

    def orders(access_token: str) -> list[dict]:
        res = httpx.get(url, params=params, headers={"x-amz-access-token": access_token})
        assert res.status_code == 200, res.text
        return res.json()["payload"]["Orders"]

    plain = orders(seller_token(sandbox.base_url))
    assert plain and all("BuyerEmail" not in o["BuyerInfo"] and "Name" not in o["ShippingAddress"] for o in plain)
    both = orders(_rdt(sandbox.base_url, [{"method": "GET", "path": "/orders/v0/orders",
                                           "dataElements": ["buyerInfo", "shippingAddress"]}]))
    assert all(o["BuyerInfo"]["BuyerEmail"] and o["BuyerInfo"]["BuyerName"] for o in both)
    assert all(o["ShippingAddress"]["Name"] and o["ShippingAddress"]["AddressLine1"] for o in both)
    address_only = orders(_rdt(sandbox.base_url, [{"method": "GET", "path": "/orders/v0/orders",
                                                   "dataElements": ["shippingAddress"]}]))
    assert all("BuyerEmail" not in o["BuyerInfo"] and o["ShippingAddress"]["Name"] for o in address_only)
    # an RDT for another path does not open getOrders
    other = _rdt(sandbox.base_url, [{"method": "GET", "path": "/orders/v0/orders/{orderId}/address"}])
    assert httpx.get(url, params=params, headers={"x-amz-access-token": other}).status_code == 403
    # python-amazon-sp-api's own flow: get_orders(RestrictedResources=[...]) asks for the RDT first
    res = make_client(Orders, sandbox.base_url).get_orders(CreatedAfter=ago(now, days=20), OrderStatuses=["Shipped"],
                                                           MaxResultsPerPage=3,
                                                           RestrictedResources=["buyerInfo", "shippingAddress"])
    assert all(o["BuyerInfo"]["BuyerEmail"] and o["ShippingAddress"]["Name"] for o in res.payload["Orders"])


def test_shipping_address_only_on_the_statuses_the_model_names(sandbox) -> None:
    """ordersV0.json Order.ShippingAddress: "only available for orders with the following status values:
    Unshipped, PartiallyShipped, Shipped and InvoiceUnconfirmed"."""
    now = sandbox.world.clock()
    seen: dict[str, set[bool]] = {}
    for url, refresh, mps in region_hosts(sandbox):
        headers = {"x-amz-access-token": seller_token(url, refresh)}
        for status in ("Pending", "Unshipped", "Shipped", "Canceled"):
            res = httpx.get(f"{url}/orders/v0/orders", headers=headers, params={
                "MarketplaceIds": mps, "CreatedAfter": ago(now, days=89),
                "OrderStatuses": status, "MaxResultsPerPage": "100"})
            assert res.status_code == 200, res.text
            for order in res.json()["payload"]["Orders"]:
                seen.setdefault(order["OrderStatus"], set()).add("ShippingAddress" in order)
    assert seen["Canceled"] == {False} and seen["Shipped"] == {True}
    assert seen.get("Pending", {False}) == {False} and seen.get("Unshipped", {True}) == {True}


def test_unknown_paths_are_403_missing_authentication_token(sandbox) -> None:
    """Amazon's gateway answers a path no operation has with 403 MissingAuthenticationToken, never 404
    (amzn/selling-partner-api-docs issues #51, #76: {"errors":[{"message":"Access to requested resource is
    denied.","code":"MissingAuthenticationToken"}]})."""
    for headers in ({}, {"x-amz-access-token": seller_token(sandbox.base_url)}):
        for method, path in (("GET", "/orders/v0/nowhere"), ("GET", "/finances/2099-01-01/transactions"),
                             ("POST", "/orders/v0/orders")):
            res = httpx.request(method, sandbox.base_url + path, headers=headers)
            assert res.status_code == 403, (method, path, res.status_code)
            assert res.json() == {"errors": [{"code": "MissingAuthenticationToken",
                                              "message": "Access to requested resource is denied."}]}
            assert res.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
            assert "x-amzn-RateLimit-Limit" not in res.headers


def test_posted_before_needs_posted_after(sandbox) -> None:
    """financesV0.json listFinancialEvents PostedBefore: "If you include the PostedBefore parameter in your
    request, you must also specify the PostedAfter parameter"."""
    now = sandbox.world.clock()
    headers = {"x-amz-access-token": seller_token(sandbox.base_url)}
    url = f"{sandbox.base_url}/finances/v0/financialEvents"
    res = httpx.get(url, params={"PostedBefore": ago(now, days=1)}, headers=headers)
    assert res.status_code == 400 and res.json()["errors"][0]["code"] == "InvalidInput"
    assert "PostedAfter" in res.json()["errors"][0]["message"]
    ok = httpx.get(url, params={"PostedAfter": ago(now, days=3), "PostedBefore": ago(now, days=1)}, headers=headers)
    assert ok.status_code == 200


def test_listings_error_codes(sandbox) -> None:
    """The Listings Items API answers NOT_FOUND and BAD_REQUEST (not NotFound / InvalidInput), with messages
    a person can read (no Python dict in them)."""
    headers = {"x-amz-access-token": seller_token(sandbox.base_url)}
    base = f"{sandbox.base_url}/listings/2021-08-01/items/{SELLER_ID}"
    missing = httpx.get(f"{base}/NO-SUCH-SKU", params={"marketplaceIds": "ATVPDKIKX0DER"}, headers=headers)
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "NOT_FOUND"
    bad = httpx.patch(f"{base}/NW-KNIFE-MT", params={"marketplaceIds": "ATVPDKIKX0DER"}, headers=headers,
                      json={"productType": "KNIFE", "patches": [{"op": "frobnicate", "path": "/attributes/x"}]})
    error = bad.json()["errors"][0]
    assert bad.status_code == 400 and error["code"] == "BAD_REQUEST"
    assert "{" not in error["message"] and "'" not in error["message"] and "op" in error["message"]
    no_mp = httpx.get(f"{base}/NW-KNIFE-MT", headers=headers)
    assert no_mp.status_code == 400 and no_mp.json()["errors"][0]["code"] == "BAD_REQUEST"


def test_rate_limit_header_only_where_the_models_declare_it(sandbox, monkeypatch) -> None:
    """Every model declares x-amzn-RateLimit-Limit on 2xx, 400 and 404 answers, and not on 403, 409 or 429
    (e.g. ordersV0.json getOrders responses; notifications.json createDestination 409)."""
    headers = {"x-amz-access-token": seller_token(sandbox.base_url)}
    now = sandbox.world.clock()
    url = f"{sandbox.base_url}/orders/v0/orders"
    ok = httpx.get(url, params={"MarketplaceIds": "ATVPDKIKX0DER", "CreatedAfter": ago(now, days=1)}, headers=headers)
    assert ok.status_code == 200 and ok.headers["x-amzn-RateLimit-Limit"] == "0.0167"
    bad = httpx.get(url, params={"MarketplaceIds": "ATVPDKIKX0DER"}, headers=headers)
    assert bad.status_code == 400 and "x-amzn-RateLimit-Limit" in bad.headers
    missing = httpx.get(f"{url}/111-0000000-0000000", headers=headers)
    assert missing.status_code == 404 and "x-amzn-RateLimit-Limit" in missing.headers
    forbidden = httpx.get(url, params={"MarketplaceIds": "ATVPDKIKX0DER"}, headers={"x-amz-access-token": "Atza|no"})
    assert forbidden.status_code == 403 and "x-amzn-RateLimit-Limit" not in forbidden.headers
    grantless = {"x-amz-access-token": grantless_token(sandbox.base_url)}
    dest = {"name": "twice", "resourceSpecification": {"sqs": {"arn": "arn:aws:sqs:us-east-1:123456789012:twice"}}}
    first = httpx.post(f"{sandbox.base_url}/notifications/v1/destinations", json=dest, headers=grantless)
    second = httpx.post(f"{sandbox.base_url}/notifications/v1/destinations", json=dest, headers=grantless)
    assert first.status_code == 200 and second.status_code == 409
    assert "x-amzn-RateLimit-Limit" in first.headers and "x-amzn-RateLimit-Limit" not in second.headers
    httpx.delete(f"{sandbox.base_url}/notifications/v1/destinations/{first.json()['payload']['destinationId']}",
                 headers=grantless)
    throttled = None
    monkeypatch.setattr(sandbox.buckets, "time_scale", 0.0)  # no refill (x50) however slow the machine's calls
    for _ in range(25):  # getReportDocument: burst 15
        res = httpx.get(f"{sandbox.base_url}/reports/2021-06-30/documents/none", headers=headers)
        if res.status_code == 429:
            throttled = res
            break
    assert throttled is not None and "x-amzn-RateLimit-Limit" not in throttled.headers


def test_v1_settlement_report_removed_on_2026_11_11(tmp_path: Path) -> None:
    """Amazon's changelog (design/amazon-sp-api.md, "update-removal-of-xml-settlement-report-and-flat-file-
    settlement-report-date-changed-to-november-11-2026"): the V1 flat file is removed on 2026-11-11; only
    the _V2 type is served after. The date is read on the sandbox's clock, never the machine's."""
    clock = [datetime(2026, 11, 5, 12, tzinfo=UTC)]
    with running_sandbox(tmp_path, seed=3, history_days=40, now=clock[0], clock=lambda: clock[0],
                         ticking=False) as sb:
        headers = {"x-amz-access-token": seller_token(sb.base_url)}

        def listed() -> list[dict]:  # every region's, each on its own host
            found = []
            for url, refresh, _ in region_hosts(sb):
                res = httpx.get(f"{url}/reports/2021-06-30/reports", params={"reportTypes": f"{V2},{V1}",
                                "pageSize": "100"}, headers={"x-amz-access-token": seller_token(url, refresh)})
                assert res.status_code == 200, res.text
                found += res.json()["reports"]
            return found

        before = listed()
        v1 = [r for r in before if r["reportType"] == V1]
        assert v1 and any(r["reportType"] == V2 for r in before)
        clock[0] = datetime(2026, 11, 12, 12, tzinfo=UTC)
        headers = {"x-amz-access-token": seller_token(sb.base_url)}
        sb.tick()  # settlements closing after the removal get a V2 report only
        after = listed()
        assert after and {r["reportType"] for r in after} == {V2}
        assert len(after) > len([r for r in before if r["reportType"] == V2])
        na_v1 = next(r for r in v1 if r["marketplaceIds"] == ["ATVPDKIKX0DER"])
        gone = httpx.get(f"{sb.base_url}/reports/2021-06-30/reports/{na_v1['reportId']}", headers=headers)
        assert gone.status_code == 404


@pytest.mark.parametrize("marketplace", ["ATVPDKIKX0DER"])
def test_client_library_still_reads_orders(sandbox, marketplace: str) -> None:
    """The changes above keep python-amazon-sp-api's ordinary calls working."""
    res = make_client(Orders, sandbox.base_url, marketplace).get_orders(
        CreatedAfter=ago(sandbox.world.clock(), days=3), MaxResultsPerPage=5)
    assert res.payload["Orders"] and res.headers["x-amzn-RateLimit-Limit"] == "0.0167"


def test_eu_v2_settlement_amounts_in_local_number_format(sandbox) -> None:
    """Amazon's changelog: the V2 flat-file settlement report shows the marketplace's local currency format,
    so Amazon.de amounts read 95,00 (1.250,00); Amazon.com and Amazon.co.uk keep 95.00."""
    seen: set[str] = set()
    for url, refresh, _ in region_hosts(sandbox):
        headers = {"x-amz-access-token": seller_token(url, refresh)}
        reports = httpx.get(f"{url}/reports/2021-06-30/reports", headers=headers,
                            params={"reportTypes": V2, "pageSize": "100"}).json()["reports"]
        _check_number_format(url, headers, reports, seen)
    assert seen == {"ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9"}


def _check_number_format(url: str, headers: dict[str, str], reports: list[dict], seen: set[str]) -> None:
    import csv
    import gzip
    import io

    from .conftest import settlement_amount

    for report in reports:
        (marketplace,) = report["marketplaceIds"]
        if marketplace in seen:
            continue
        seen.add(marketplace)
        for _ in range(50):  # another test may have emptied the getReportDocument bucket: wait for a token
            res = httpx.get(f"{url}/reports/2021-06-30/documents/{report['reportDocumentId']}",
                            headers=headers)
            if res.status_code != 429:
                break
            time.sleep(0.2)
        doc = res.json()
        text = gzip.decompress(httpx.get(doc["url"]).content).decode("utf-8")
        rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
        comma = marketplace == "A1PA6795UKMFR9"
        assert all(("," in r["amount"]) == comma and ("," in r["amount"] or "." in r["amount"]) for r in rows[1:])
        assert ("," in rows[0]["total-amount"]) == comma
        assert sum(settlement_amount(r["amount"]) for r in rows[1:]) == settlement_amount(rows[0]["total-amount"])


def test_nothing_is_delivered_before_the_application_subscribes(tmp_path: Path, sqs_endpoint: str) -> None:
    """notifications.json createSubscription: "Before you can subscribe, you must first create the destination
    by calling the createDestination operation"; Amazon sends a notification type only to the destination
    subscribed to it. Before that, getSubscription answers 404 and the queue stays empty."""
    import json

    import boto3

    from .conftest import subscribe

    sqs = boto3.client("sqs", endpoint_url=sqs_endpoint, region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x")
    name = f"fidelity-{time.monotonic_ns()}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]

    def received(seconds: float) -> list[dict]:
        out: list[dict] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for msg in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                    "Messages", []):
                out.append(json.loads(msg["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
            time.sleep(0.1)
        return out

    with running_sandbox(tmp_path, seed=8, history_days=5, time_scale=500, sqs_endpoint=sqs_endpoint) as sb:
        headers = {"x-amz-access-token": seller_token(sb.base_url)}
        for kind in ("ORDER_CHANGE", "REPORT_PROCESSING_FINISHED", "FBA_INVENTORY_AVAILABILITY_CHANGES"):
            res = httpx.get(f"{sb.base_url}/notifications/v1/subscriptions/{kind}", headers=headers)
            assert res.status_code == 404
        before = sb.add_order("ATVPDKIKX0DER")
        assert received(1.5) == [] and sb.notifier.sent == 0
        subscribe(sb, name, ("ORDER_CHANGE",))
        after = sb.add_order("ATVPDKIKX0DER")
        deadline = time.monotonic() + 60  # generous: a loaded machine
        bodies: list[dict] = []
        while time.monotonic() < deadline and after["id"] not in {
                b["Payload"]["OrderChangeNotification"]["AmazonOrderId"] for b in bodies}:
            bodies += received(0.3)
        ids = {b["Payload"]["OrderChangeNotification"]["AmazonOrderId"] for b in bodies}
        assert after["id"] in ids and before["id"] not in ids or before["plan"].get("ship_at")
        assert {b["NotificationType"] for b in bodies} == {"ORDER_CHANGE"}  # only the subscribed type
