"""Notifications: payloads shaped as Amazon's notification schemas, delivered to SQS at least once.

World events are turned into notification bodies and queued in the persistent outbox; a delivery
thread sends them to the queue of the destination subscribed to that type, retrying while the queue is
unreachable. As on Amazon, nothing is sent for a type nobody subscribed to (the application creates an
SQS destination with a grantless token, then one subscription per type: `sage-amazon amazon connect`).
Duplicates are injected on demand.
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

from sage_amazon.sandbox.amazon import credentials
from sage_amazon.sandbox.amazon.wire import dumps, iso, parse_iso
from sage_amazon.sandbox.seller_catalog import CATALOG_BY_SKU, SELLER_ID

DELIVERED_TYPES = ("ORDER_CHANGE", "REPORT_PROCESSING_FINISHED", "FBA_INVENTORY_AVAILABILITY_CHANGES",
                   "TRANSACTION_UPDATE", "FULFILLMENT_ORDER_STATUS")
OUTBOX_LIMIT = 20_000


def _order_item_status(order: dict[str, Any], item: dict[str, Any]) -> str:
    # the schema knows only Unshipped/Shipped per item; a cancellation shows in Summary.OrderStatus
    return "Shipped" if item["qty_shipped"] >= item["qty"] else "Unshipped"


def order_change(data: dict[str, Any], subscription_id: str, now: Any) -> dict[str, Any]:
    order = data["order"]
    shipped = sum(i["qty_shipped"] for i in order["items"])
    ordered = sum(i["qty"] for i in order["items"])
    purchased = parse_iso(order["purchase_date"])
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": data["at"],
        "Payload": {"OrderChangeNotification": {
            "NotificationLevel": "OrderLevel",
            "SellerId": SELLER_ID,
            "AmazonOrderId": order["id"],
            "OrderChangeType": data["change_type"],
            "OrderChangeTrigger": {"TimeOfOrderChange": data["at"], "ChangeReason": data["reason"]},
            "Summary": {
                "MarketplaceId": order["marketplace_id"],
                "OrderStatus": order["status"],
                "PurchaseDate": order["purchase_date"],
                "DestinationPostalCode": order["address"]["PostalCode"],
                "FulfillmentType": order["channel"],
                "OrderType": "StandardOrder",
                "NumberOfItemsShipped": shipped,
                "NumberOfItemsUnshipped": 0 if order["status"] == "Canceled" else ordered - shipped,
                "EarliestShipDate": iso(purchased),
                "LatestShipDate": iso(purchased + timedelta(days=2)),
                "OrderPrograms": (["Prime"] if order.get("is_prime") else []) + (
                    ["Business"] if order.get("is_business") else []),
                "ShippingPrograms": [],
                "OrderItems": [{
                    "OrderItemId": it["order_item_id"], "SellerSKU": it["sku"],
                    "SupplySourceId": "AmazonFulfillment" if order["channel"] == "AFN" else "SellerWarehouse",
                    "OrderItemStatus": _order_item_status(order, it), "Quantity": it["qty"],
                    "QuantityShipped": it["qty_shipped"], "IsBuyerRequestedCancel": False,
                } for it in order["items"]],
            },
        }},
        "NotificationMetadata": _metadata_pascal(subscription_id, now),
    }


def _metadata_pascal(subscription_id: str, now: Any) -> dict[str, str]:
    return {"ApplicationId": credentials.APPLICATION_ID, "SubscriptionId": subscription_id,
            "PublishTime": iso(now), "NotificationId": str(uuid.uuid4())}


def inventory_change(data: dict[str, Any], subscription_id: str, now: Any) -> dict[str, Any]:
    inv = data["inventory"]
    cat = CATALOG_BY_SKU[inv["sku"]]
    inbound = sum(s["qty"] for s in inv["inbound"])
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "FBA_INVENTORY_AVAILABILITY_CHANGES",
        "PayloadVersion": "1.0",
        "EventTime": data["at"],
        "Payload": {
            "SellerId": SELLER_ID, "FNSKU": cat.fnsku, "ASIN": cat.asin, "SKU": cat.sku,
            "FulfillmentInventoryByMarketplace": [{
                "MarketplaceId": inv["marketplace_id"],
                "ItemName": cat.title,
                "FulfillmentInventory": {
                    "InboundQuantityBreakdown": {"Working": 0, "Shipped": inbound, "Receiving": 0},
                    "Fulfillable": inv["fulfillable"],
                    "Unfulfillable": inv["unfulfillable"],
                    "Researching": inv["researching"],
                    "ReservedQuantityBreakdown": {"WarehouseProcessing": 0, "WarehouseTransfer": 0,
                                                  "PendingCustomerOrder": inv["reserved"]},
                    "FutureSupplyBuyable": 0,
                    "PendingCustomerOrderInTransit": 0,
                },
            }],
        },
        "NotificationMetadata": _metadata_pascal(subscription_id, now),
    }


def report_finished(data: dict[str, Any], subscription_id: str, now: Any) -> dict[str, Any]:
    report = data["report"]
    body: dict[str, Any] = {"sellerId": SELLER_ID, "accountId": SELLER_ID, "reportId": report["reportId"],
                            "reportType": report["reportType"], "processingStatus": report["processingStatus"]}
    if report.get("reportDocumentId"):
        body["reportDocumentId"] = report["reportDocumentId"]
    return {
        "notificationVersion": "2020-09-04",
        "notificationType": "REPORT_PROCESSING_FINISHED",
        "payloadVersion": "2020-09-04",
        "eventTime": iso(now),
        "payload": {"reportProcessingFinishedNotification": body},
        "notificationMetadata": {"applicationId": credentials.APPLICATION_ID, "subscriptionId": subscription_id,
                                 "publishTime": iso(now), "notificationId": str(uuid.uuid4())},
    }


def transaction_update(data: dict[str, Any], subscription_id: str, now: Any) -> dict[str, Any]:
    from sage_amazon.sandbox.amazon.transactions_api import update_notification

    return update_notification(data, subscription_id, now)


def fulfillment_order_status(data: dict[str, Any], subscription_id: str, now: Any) -> dict[str, Any]:
    """FulfillmentOrderStatusNotification (schemas/notifications/FulfillmentOrderStatusNotification.json).
    [UNCONFIRMED] EventType values "Order" / "Shipment": the schema's example has a placeholder."""
    order = data["order"]
    body: dict[str, Any] = {"SellerId": SELLER_ID, "EventType": "Shipment" if data.get("shipment") else "Order",
                            "StatusUpdatedDateTime": order["statusUpdatedDate"],
                            "SellerFulfillmentOrderId": order["sellerFulfillmentOrderId"],
                            "FulfillmentOrderStatus": order["fulfillmentOrderStatus"]}
    for shipment in data.get("shipment") or []:
        packages = [{"PackageNumber": p["packageNumber"], "CarrierCode": p["carrierCode"],
                     "TrackingNumber": p.get("trackingNumber", "")} for p in shipment["fulfillmentShipmentPackage"]]
        body["FulfillmentShipment"] = {"FulfillmentShipmentStatus": shipment["fulfillmentShipmentStatus"],
                                       "AmazonShipmentId": shipment["amazonShipmentId"],
                                       "EstimatedArrivalDateTime": shipment["shippingDate"],
                                       "info": packages[0] if packages else {},
                                       "FulfillmentShipmentPackages": packages}
    return {"NotificationVersion": "1.0", "NotificationType": "FULFILLMENT_ORDER_STATUS", "PayloadVersion": "1.0",
            "EventTime": data["at"], "Payload": {"FulfillmentOrderStatusNotification": body},
            "NotificationMetadata": _metadata_pascal(subscription_id, now)}


BUILDERS = {"ORDER_CHANGE": order_change, "FULFILLMENT_ORDER_STATUS": fulfillment_order_status, "FBA_INVENTORY_AVAILABILITY_CHANGES": inventory_change,
            "REPORT_PROCESSING_FINISHED": report_finished, "TRANSACTION_UPDATE": transaction_update}


def arn_queue_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


class Notifier:
    """Turns world events into queued notifications and delivers them to SQS from a thread."""

    def __init__(self, world: Any, sqs_endpoint: str | None, faults: Any) -> None:
        self.world = world
        self.sqs_endpoint = sqs_endpoint.rstrip("/") if sqs_endpoint else None
        self.faults = faults
        self._client: Any = None
        self._urls: dict[str, str] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        world.listeners.append(self.on_event)

    # called under the world lock
    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind not in BUILDERS:
            return
        subscription = next((s for s in self.world.state["subscriptions"].values()
                             if s["notificationType"] == kind), None)
        dest = self.world.state["destinations"].get(subscription["destinationId"]) if subscription else None
        if dest is None or not dest["resource"].get("sqs"):
            return  # nothing subscribed to this type (createDestination + createSubscription): Amazon sends nothing
        sub_id = subscription["subscriptionId"]
        queue = arn_queue_name(dest["resource"]["sqs"]["arn"])
        body = dumps(BUILDERS[kind](data, sub_id, self.world.clock()))  # money as exact JSON numbers
        n = self.world.next_id("notification")
        copies = 2 if self.faults.roll(self.faults.duplicate_rate) else 1
        for copy in range(copies):
            key = f"N{n:09d}-{copy}"
            self.world.put("outbox", key, {"queue": queue, "type": kind, "body": body})
        outbox = self.world.state["outbox"]
        while len(outbox) > OUTBOX_LIMIT:  # SQS unreachable for long: keep the newest, as a bounded buffer
            oldest = next(iter(outbox))
            del outbox[oldest]
            self.world.save("outbox", oldest)
        self._wake.set()

    def start(self) -> None:
        if self.sqs_endpoint is None:
            return
        self._thread = threading.Thread(target=self._run, name="sandbox-amazon-notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _sqs(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client("sqs", endpoint_url=self.sqs_endpoint, region_name=credentials.SQS_REGION,
                                        aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
                                        config=Config(connect_timeout=2, read_timeout=5,
                                                      retries={"max_attempts": 1}))
        return self._client

    def _queue_url(self, name: str) -> str:
        if name not in self._urls:
            client = self._sqs()
            try:
                self._urls[name] = client.get_queue_url(QueueName=name)["QueueUrl"]
            except client.exceptions.QueueDoesNotExist:
                self._urls[name] = client.create_queue(QueueName=name)["QueueUrl"]
        return self._urls[name]

    def deliver_pending(self) -> int:
        with self.world.lock:
            batch = list(self.world.state["outbox"].items())[:200]
        delivered = 0
        for key, item in batch:
            try:
                self._sqs().send_message(QueueUrl=self._queue_url(item["queue"]), MessageBody=item["body"])
            except Exception:  # queue down: keep the message, retry later (at-least-once)
                self._urls.pop(item["queue"], None)
                break
            with self.world.lock:
                self.world.state["outbox"].pop(key, None)
                self.world.save("outbox", key)
            delivered += 1
        if delivered:
            self.sent += delivered
            self.world.flush()
        return delivered

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self._stop.is_set():
                break
            while self.deliver_pending() and not self._stop.is_set():
                pass
