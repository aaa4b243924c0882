"""Every listed operation, driven by the real python-amazon-sp-api client; every body validates
against the schema of its operation in Amazon's models."""

from __future__ import annotations

import gzip
import json
import time
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sp_api.api import (
    Feeds,
    Finances,
    FulfillmentOutbound,
    Inventories,
    ListingsItems,
    Notifications,
    Orders,
    OrdersV20260101,
    Reports,
    Tokens,
)
from sp_api.base import SellingApiBadRequestException, SellingApiForbiddenException

from sage_amazon.sandbox.seller_catalog import SELLER_ID

from .conftest import SELLER_CLOCK

ORDERS = "orders-api-model/ordersV0.json"
ORDERS26 = "orders-api-model/orders_2026-01-01.json"
REPORTS = "reports-api-model/reports_2021-06-30.json"
V2 = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"


def ago(**kw: float) -> str:
    """A time on the module sandbox's clock (anchored: see conftest.SELLER_CLOCK)."""
    return (SELLER_CLOCK() - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_for(predicate, timeout: float = 60.0):  # noqa: ANN001, ANN201  (generous: a loaded machine)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def test_orders_v0(client, recorder, models, sandbox) -> None:
    orders = client(Orders)
    res = orders.get_orders(CreatedAfter=ago(days=10), MaxResultsPerPage=20)
    models.validate(ORDERS, "getOrders", 200, recorder.last[3])
    assert len(res.payload["Orders"]) == 20 and res.next_token
    assert res.headers["x-amzn-RateLimit-Limit"] == "0.0167" and res.headers["x-amzn-RequestId"]
    page2 = orders.get_orders(NextToken=res.next_token)
    models.validate(ORDERS, "getOrders", 200, recorder.last[3])
    ids1 = {o["AmazonOrderId"] for o in res.payload["Orders"]}
    assert ids1.isdisjoint(o["AmazonOrderId"] for o in page2.payload["Orders"])
    shipped = orders.get_orders(LastUpdatedAfter=ago(days=5), OrderStatuses=["Shipped"],
                                FulfillmentChannels=["AFN"], MaxResultsPerPage=10)
    assert shipped.payload["Orders"] and all(o["OrderStatus"] == "Shipped" and o["FulfillmentChannel"] == "AFN"
                                             for o in shipped.payload["Orders"])
    order_id = shipped.payload["Orders"][0]["AmazonOrderId"]  # a Shipped order has a ShippingAddress
    for call, op in ((orders.get_order, "getOrder"), (orders.get_order_items, "getOrderItems"),
                     (orders.get_order_address, "getOrderAddress"),
                     (orders.get_order_buyer_info, "getOrderBuyerInfo")):
        call(order_id)
        models.validate(ORDERS, op, 200, recorder.last[3])
    # without a restricted data token there is no PII ...
    assert "BuyerEmail" not in orders.get_order_buyer_info(order_id).payload
    assert "Name" not in orders.get_order_address(order_id).payload["ShippingAddress"]
    # ... with one (Tokens createRestrictedDataToken under the hood) there is
    rdt = client(Tokens).create_restricted_data_token(restrictedResources=[
        {"method": "GET", "path": "/orders/v0/orders/{orderId}/buyerInfo"},
        {"method": "GET", "path": "/orders/v0/orders/{orderId}/address"}]).payload["restrictedDataToken"]
    restricted = client(Orders, restricted_data_token=rdt)
    pii = restricted.get_order_buyer_info(order_id)
    models.validate(ORDERS, "getOrderBuyerInfo", 200, recorder.last[3])
    assert "@marketplace.amazon" in pii.payload["BuyerEmail"]
    assert restricted.get_order_address(order_id).payload["ShippingAddress"]["Name"]
    # the client's own RestrictedResources flow (createRestrictedDataToken, then the call with the RDT)
    order = orders.get_order(order_id, RestrictedResources=["buyerInfo", "shippingAddress"])
    assert order.payload["BuyerInfo"]["BuyerEmail"] and order.payload["ShippingAddress"]["Name"]


def test_orders_window_must_end_two_minutes_ago(client) -> None:
    with pytest.raises(SellingApiBadRequestException) as info:
        client(Orders).get_orders(CreatedAfter=ago(days=1), CreatedBefore=ago(seconds=30))
    assert info.value.code == 400 and "2 minutes" in info.value.message


def test_confirm_shipment_of_merchant_order(client, recorder, models, sandbox) -> None:
    order = None
    for _ in range(200):
        candidate = sandbox.add_order("ATVPDKIKX0DER")
        if candidate["channel"] == "MFN" and not candidate["plan"]["cancel_at"]:
            order = candidate
            break
    assert order is not None
    wait_for(lambda: sandbox.world.state["orders"][order["id"]]["status"] == "Unshipped")
    item = order["items"][0]
    orders = client(Orders)
    orders.confirm_shipment(order["id"], marketplaceId="ATVPDKIKX0DER", packageDetail={
        "packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1ZSANDBOX0001",
        "shipDate": ago(minutes=5), "orderItems": [{"orderItemId": i["order_item_id"], "quantity": i["qty"]}
                                                   for i in order["items"]]})
    assert recorder.last[2] == 204
    got = orders.get_order(order["id"]).payload
    assert got["OrderStatus"] == "Shipped" and got["NumberOfItemsShipped"] == sum(i["qty"] for i in order["items"])
    assert item["order_item_id"]


def test_orders_2026(client, recorder, models) -> None:
    api = client(OrdersV20260101)
    res = api.search_orders(createdAfter=ago(days=7), maxResultsPerPage=15, marketplaceIds=["ATVPDKIKX0DER"],
                            includedData=["BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "PACKAGES", "PROMOTION"])
    models.validate(ORDERS26, "searchOrders", 200, recorder.last[3])
    assert len(res.payload["orders"]) == 15 and recorder.last[3]["pagination"]["nextToken"]
    nxt = api.search_orders(paginationToken=recorder.last[3]["pagination"]["nextToken"])
    models.validate(ORDERS26, "searchOrders", 200, recorder.last[3])
    assert nxt.payload["orders"][0]["orderId"] != res.payload["orders"][0]["orderId"]
    order_id = res.payload["orders"][0]["orderId"]
    api.get_order(order_id, includedData=["PROCEEDS", "FULFILLMENT"])
    models.validate(ORDERS26, "getOrder", 200, recorder.last[3])


def test_requested_reports_finish_and_download(client, recorder, models, sandbox, monkeypatch) -> None:
    from sage_amazon.sandbox.amazon import reports_api

    queue_seconds = reports_api.QUEUE_SECONDS
    monkeypatch.setattr(reports_api, "QUEUE_SECONDS", 3600.0)  # not yet DONE however slow the machine is
    reports = client(Reports)
    kinds = ["GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL", "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
             "GET_AMAZON_FULFILLED_SHIPMENTS_DATA_GENERAL", "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA",
             "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA"]
    ids = {}
    for kind in kinds:
        res = reports.create_report(reportType=kind, dataStartTime=ago(days=30))
        models.validate(REPORTS, "createReport", 202, recorder.last[3])
        ids[kind] = res.payload["reportId"]
    first = reports.get_report(ids[kinds[0]]).payload
    models.validate(REPORTS, "getReport", 200, recorder.last[3])
    assert first["processingStatus"] in ("IN_QUEUE", "IN_PROGRESS")
    monkeypatch.setattr(reports_api, "QUEUE_SECONDS", queue_seconds)
    for kind, report_id in ids.items():
        done = wait_for(lambda rid=report_id: (r := reports.get_report(rid).payload)["processingStatus"] == "DONE"
                        and r)
        reports.get_report_document(done["reportDocumentId"])
        models.validate(REPORTS, "getReportDocument", 200, recorder.last[3])
        doc = reports.get_report_document(done["reportDocumentId"], download=True).payload["document"]
        header, *rows = doc.splitlines()
        assert "\t" in header and (rows or kind == "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"), kind
    myi = reports.get_report_document(reports.get_report(ids[kinds[-1]]).payload["reportDocumentId"], download=True)
    assert "NW-TENT-2P" in myi.payload["document"]


def test_report_document_url_is_unauthenticated_gzip_utf8(client, sandbox) -> None:
    reports = client(Reports, "A1PA6795UKMFR9")  # the EU host: Amazon.de is an EU marketplace
    found = reports.get_reports(reportTypes=[V2], marketplaceIds=["A1PA6795UKMFR9"]).payload
    doc = reports.get_report_document(found["reports"][0]["reportDocumentId"]).payload
    assert doc["compressionAlgorithm"] == "GZIP"
    raw = httpx.get(doc["url"])
    assert raw.status_code == 200 and raw.headers["content-type"] == "text/plain; charset=UTF-8"
    assert "content-encoding" not in raw.headers
    assert gzip.decompress(raw.content).decode("utf-8").startswith("settlement-id\t")
    expired = doc["url"].replace("X-Amz-Date=", "X-Amz-Date=1")  # tampered/expired signature
    assert httpx.get(expired).status_code == 403


def test_settlement_reports_only_via_get_reports(client, recorder, models, sandbox) -> None:
    reports = client(Reports)
    with pytest.raises(SellingApiBadRequestException) as info:
        reports.create_report(reportType=V2)
    assert info.value.error[0]["code"] == "InvalidInput" and "not allowed" in info.value.error[0]["message"]
    models.validate(REPORTS, "createReport", 400, recorder.last[3])
    page = reports.get_reports(reportTypes=[V2, "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE"], pageSize=4)
    models.validate(REPORTS, "getReports", 200, recorder.last[3])
    assert len(page.payload["reports"]) == 4 and page.next_token
    nxt = reports.get_reports(nextToken=page.next_token)
    models.validate(REPORTS, "getReports", 200, recorder.last[3])
    assert nxt.payload["reports"]
    with pytest.raises(SellingApiBadRequestException):
        reports.get_reports(nextToken=page.next_token, pageSize=4)
    with pytest.raises(SellingApiBadRequestException):
        reports.get_reports(reportTypes=[V2], createdSince=ago(days=91))


def test_cancel_report(client, recorder, models, monkeypatch) -> None:
    from sage_amazon.sandbox.amazon import reports_api

    monkeypatch.setattr(reports_api, "QUEUE_SECONDS", 3600.0)  # still IN_QUEUE however slow the machine is
    reports = client(Reports)
    rid = reports.create_report(reportType="GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA").payload["reportId"]
    reports.cancel_report(rid)
    assert recorder.last[2] == 200
    assert reports.get_report(rid).payload["processingStatus"] == "CANCELLED"


def test_fatal_report_on_demand(client) -> None:
    reports = client(Reports)
    rid = reports.create_report(reportType="GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA",
                                reportOptions={"sandboxOutcome": "FATAL"}).payload["reportId"]
    wait_for(lambda: reports.get_report(rid).payload["processingStatus"] == "FATAL")


def test_inventory_summaries(client, recorder, models) -> None:
    api = client(Inventories)
    res = api.get_inventory_summary_marketplace(details=True)
    models.validate("fba-inventory-api-model/fbaInventory.json", "getInventorySummaries", 200, recorder.last[3])
    first = res.payload["inventorySummaries"]
    assert len(first) == 4 and res.next_token and "inventoryDetails" in first[0]
    time.sleep(0.05)  # burst 2: let the (time-scaled) bucket refill between calls
    rest = api.get_inventory_summary_marketplace(details=True, nextToken=res.next_token)
    assert {s["sellerSku"] for s in rest.payload["inventorySummaries"]}.isdisjoint(s["sellerSku"] for s in first)
    time.sleep(0.05)
    one = api.get_inventory_summary_marketplace(sellerSkus=["NW-LAMP-300"])
    assert [s["sellerSku"] for s in one.payload["inventorySummaries"]] == ["NW-LAMP-300"]
    assert "inventoryDetails" not in one.payload["inventorySummaries"][0]


def test_finances_consistent_with_settlements(client, recorder, models, sandbox) -> None:
    api = client(Finances)
    groups = api.list_financial_event_groups(FinancialEventGroupStartedAfter=ago(days=120)).payload
    models.validate("finances-api-model/financesV0.json", "listFinancialEventGroups", 200, recorder.last[3])
    closed = [g for g in groups["FinancialEventGroupList"] if g["ProcessingStatus"] == "Closed"]
    # the NA host's (the client's US marketplace): each region's groups are on its own host
    truths = {t.settlement_id: t for t in sandbox.truths() if t.marketplace_id == "ATVPDKIKX0DER"}
    assert len(closed) == len(truths)
    group = closed[-1]
    truth = next(t for t in truths.values() if f"{t.settlement_id}-" in group["FinancialEventGroupId"])
    assert Decimal(str(group["OriginalTotal"]["CurrencyAmount"])) == truth.total
    total = Decimal("0")
    token = None
    while True:
        res = api.list_financial_events_by_group_id(group["FinancialEventGroupId"], NextToken=token) if token \
            else api.list_financial_events_by_group_id(group["FinancialEventGroupId"])
        models.validate("finances-api-model/financesV0.json", "listFinancialEventsByGroupId", 200,
                        recorder.last[3])
        raw = json.dumps(recorder.last[3])
        total += _sum_amounts(json.loads(raw, parse_float=Decimal)["payload"]["FinancialEvents"])
        token = res.next_token
        if not token:
            break
    reserves = truth.categories.get("reserve_previous", Decimal(0)) + truth.categories.get("reserve_current",
                                                                                           Decimal(0))
    assert total + reserves == truth.total
    api.list_financial_events(PostedAfter=ago(days=3), MaxResultsPerPage=10)
    models.validate("finances-api-model/financesV0.json", "listFinancialEvents", 200, recorder.last[3])


def _sum_amounts(events: dict) -> Decimal:
    total = Decimal("0")

    def walk(node, key=""):  # noqa: ANN001, ANN202
        nonlocal total
        if isinstance(node, dict):
            if "CurrencyAmount" in node and key not in ("PerUnitAmount", "AdjustmentAmount", "baseValue", "taxValue"):
                total += Decimal(node["CurrencyAmount"])
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)

    walk(events)
    return total


def test_fulfillment_outbound(client, recorder, models, monkeypatch) -> None:
    from sage_amazon.sandbox.amazon import fulfillment_api

    model = "fulfillment-outbound-api-model/fulfillmentOutbound_2020-07-01.json"
    steps = fulfillment_api.STEPS  # at time_scale 50 an order leaves Planning (cancellable) after 0.3 s:
    monkeypatch.setattr(fulfillment_api, "STEPS", tuple((s, 1e9) for s, _ in steps))  # held till cancelled
    api = client(FulfillmentOutbound)
    address = {"name": "Pat Doe", "addressLine1": "1 Main St", "city": "Seattle", "stateOrRegion": "WA",
               "postalCode": "98101", "countryCode": "US"}
    preview = api.get_fulfillment_preview(marketplaceId="ATVPDKIKX0DER", address=address, items=[
        {"sellerSku": "NW-LAMP-300", "sellerFulfillmentOrderItemId": "1", "quantity": 2},
        {"sellerSku": "NO-SUCH-SKU", "sellerFulfillmentOrderItemId": "2", "quantity": 1}])
    models.validate(model, "getFulfillmentPreview", 200, recorder.last[3])
    assert {p["isFulfillable"] for p in preview.payload["fulfillmentPreviews"]} == {False}  # one SKU Amazon lacks
    for ref in ("MCF-SAGE-1", "MCF-SAGE-2"):
        api.create_fulfillment_order(sellerFulfillmentOrderId=ref, displayableOrderId=ref,
                                     displayableOrderDate=ago(minutes=1), displayableOrderComment="Thanks",
                                     shippingSpeedCategory="Standard", destinationAddress=address,
                                     items=[{"sellerSku": "NW-LAMP-300", "sellerFulfillmentOrderItemId": "1",
                                             "quantity": 2}])
        models.validate(model, "createFulfillmentOrder", 200, recorder.last[3])
    api.cancel_fulfillment_order("MCF-SAGE-2")
    models.validate(model, "cancelFulfillmentOrder", 200, recorder.last[3])
    monkeypatch.setattr(fulfillment_api, "STEPS", steps)
    got = wait_for(lambda: (p := api.get_fulfillment_order("MCF-SAGE-1").payload)["fulfillmentOrder"][
        "fulfillmentOrderStatus"] == "Complete" and p)
    models.validate(model, "getFulfillmentOrder", 200, recorder.last[3])
    assert got["fulfillmentShipments"][0]["fulfillmentShipmentPackage"][0]["trackingNumber"]
    listed = api.list_all_fulfillment_orders(queryStartDate=ago(hours=1))
    models.validate(model, "listAllFulfillmentOrders", 200, recorder.last[3])
    status = {o["sellerFulfillmentOrderId"]: o["fulfillmentOrderStatus"] for o in listed.payload["fulfillmentOrders"]}
    assert status == {"MCF-SAGE-1": "Complete", "MCF-SAGE-2": "Cancelled"}


def test_listings_and_json_listings_feed(client, recorder, models, sandbox) -> None:
    model = "listings-items-api-model/listingsItems_2021-08-01.json"
    listings = client(ListingsItems)
    item = listings.get_listings_item(SELLER_ID, "NW-KNIFE-MT", includedData=["summaries", "offers",
                                                                              "fulfillmentAvailability"])
    models.validate(model, "getListingsItem", 200, recorder.last[3])
    assert item.payload["summaries"][0]["asin"] == "B0SAGE0011"
    listings.patch_listings_item(SELLER_ID, "NW-KNIFE-MT", body={"productType": "PRODUCT", "patches": [
        {"op": "replace", "path": "/attributes/fulfillment_availability",
         "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}]}]})
    models.validate(model, "patchListingsItem", 200, recorder.last[3])
    listings.put_listings_item(SELLER_ID, "NW-NEW-SKU", marketplaceIds=["ATVPDKIKX0DER"], body={"productType": "PRODUCT", "attributes": {
        "item_name": [{"value": "New thing"}]}})
    models.validate(model, "putListingsItem", 200, recorder.last[3])
    got = listings.get_listings_item(SELLER_ID, "NW-KNIFE-MT", includedData=["fulfillmentAvailability"])
    assert got.payload["fulfillmentAvailability"][0]["quantity"] == 7

    feeds = client(Feeds)
    feed_model = "feeds-api-model/feeds_2021-06-30.json"
    content = json.dumps({"header": {"sellerId": SELLER_ID, "version": "2.0", "issueLocale": "en_US"},
                          "messages": [{"messageId": 1, "sku": "NW-MAP-KIT", "operationType": "PATCH",
                                        "productType": "PRODUCT", "patches": [{
                                            "op": "replace", "path": "/attributes/fulfillment_availability",
                                            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 11}]}]},
                                       {"messageId": 2, "sku": "NO-SUCH-SKU", "operationType": "PATCH",
                                        "productType": "PRODUCT", "patches": []}]})
    import io

    doc = feeds.create_feed_document(io.StringIO(content), "application/json; charset=UTF-8")
    models.validate(feed_model, "createFeedDocument", 201, recorder.responses[-1][3])
    feed_id = feeds.create_feed("JSON_LISTINGS_FEED", doc.payload["feedDocumentId"]).payload["feedId"]
    models.validate(feed_model, "createFeed", 202, recorder.last[3])
    done = wait_for(lambda: (f := feeds.get_feed(feed_id).payload)["processingStatus"] == "DONE" and f)
    models.validate(feed_model, "getFeed", 200, recorder.last[3])
    result = feeds.get_feed_result_document(done["resultFeedDocumentId"])
    report = json.loads(result if isinstance(result, str) else result.payload)
    assert report["summary"]["messagesAccepted"] == 1 and report["summary"]["messagesInvalid"] == 1
    got = listings.get_listings_item(SELLER_ID, "NW-MAP-KIT", includedData=["fulfillmentAvailability"])
    assert got.payload["fulfillmentAvailability"][0]["quantity"] == 11


def test_tokens_rdt(client, recorder, models) -> None:
    res = client(Tokens).create_restricted_data_token(restrictedResources=[
        {"method": "GET", "path": "/orders/v0/orders", "dataElements": ["buyerInfo"]}])
    models.validate("tokens-api-model/tokens_2021-03-01.json", "createRestrictedDataToken", 200, recorder.last[3])
    assert res.payload["restrictedDataToken"].startswith("Atz.sprdt|")


def test_notifications_reach_sqs_in_schema_shape(client, recorder, models, sandbox) -> None:
    import boto3

    sqs = boto3.client("sqs", endpoint_url=sandbox.sqs_endpoint, region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="x")
    queue_url = sqs.create_queue(QueueName=sandbox.test_queue)["QueueUrl"]
    api = client(Notifications)
    dest = api.create_destination(name="sage", arn=f"arn:aws:sqs:us-east-1:123456789012:{sandbox.test_queue}")
    models.validate("notifications-api-model/notifications.json", "createDestination", 200, recorder.last[3])
    for kind, version in (("ORDER_CHANGE", "1.0"), ("REPORT_PROCESSING_FINISHED", "2020-09-04"),
                          ("FBA_INVENTORY_AVAILABILITY_CHANGES", "1.0")):
        api.create_subscription(kind, destination_id=dest.payload["destinationId"], payloadVersion=version)
        models.validate("notifications-api-model/notifications.json", "createSubscription", 200, recorder.last[3])
    order = sandbox.add_order("ATVPDKIKX0DER")
    client(Reports).create_report(reportType="GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA")
    seen: dict[str, list[dict]] = {}

    def drain() -> bool:
        for msg in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []):
            body = json.loads(msg["Body"])
            seen.setdefault(body.get("NotificationType") or body.get("notificationType"), []).append(body)
        order_ids = {b["Payload"]["OrderChangeNotification"]["AmazonOrderId"] for b in seen.get("ORDER_CHANGE", [])}
        return order["id"] in order_ids and len(seen) == 3

    wait_for(drain)
    for body in seen["ORDER_CHANGE"]:
        models.validate_notification("OrderChangeNotification.json", body)
    for body in seen["REPORT_PROCESSING_FINISHED"]:
        models.validate_notification("ReportProcessingFinishedNotification.json", body)
    for body in seen["FBA_INVENTORY_AVAILABILITY_CHANGES"]:
        models.validate_notification("FBAInventoryAvailabilityChangeNotification.json", body)
    mine = [b["Payload"]["OrderChangeNotification"]["Summary"] for b in seen["ORDER_CHANGE"]
            if b["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == order["id"]]
    # the new order is announced Pending (at time_scale 50 its Unshipped change may arrive in the same batch)
    summary = next(s for s in mine if s["OrderStatus"] == "Pending")
    assert summary["MarketplaceId"] == "ATVPDKIKX0DER"
    assert {i["SellerSKU"] for i in summary["OrderItems"]} == {i["sku"] for i in order["items"]}

    nmodel = "notifications-api-model/notifications.json"
    sub = api.get_subscription("ORDER_CHANGE").payload
    models.validate(nmodel, "getSubscription", 200, recorder.last[3])
    api.get_subscription_by_id("ORDER_CHANGE", sub["subscriptionId"])
    models.validate(nmodel, "getSubscriptionById", 200, recorder.last[3])
    api.get_destinations()
    models.validate(nmodel, "getDestinations", 200, recorder.last[3])
    for kind in ("ORDER_CHANGE", "REPORT_PROCESSING_FINISHED", "FBA_INVENTORY_AVAILABILITY_CHANGES"):
        sub_id = api.get_subscription(kind).payload["subscriptionId"]
        api.delete_notification_subscription(kind, sub_id)
        models.validate(nmodel, "deleteSubscriptionById", 200, recorder.last[3])
    api.delete_destination(dest.payload["destinationId"])
    models.validate(nmodel, "deleteDestination", 200, recorder.last[3])
    api.get_destinations()
    assert recorder.last[3] == {"payload": []}


def test_unauthorized_without_valid_token(sandbox) -> None:
    res = httpx.get(f"{sandbox.base_url}/orders/v0/orders/111-0000000-0000000",
                    headers={"x-amz-access-token": "Atza|forged"})
    assert res.status_code == 403 and res.json()["errors"][0]["code"] == "Unauthorized"
    assert res.headers["x-amzn-RequestId"]


def test_forbidden_raised_by_client(sandbox) -> None:
    from .conftest import make_client

    api = make_client(Orders, sandbox.base_url)
    api.restricted_data_token = "Atz.sprdt|forged"
    with pytest.raises(SellingApiForbiddenException):
        api.get_order("111-0000000-0000000")
