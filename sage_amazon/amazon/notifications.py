"""ORDER_CHANGE notifications (schemas/notifications/OrderChangeNotification.json) as SQS delivers them.

The message body is the notification JSON; some deliveries wrap it once more (an SNS-style envelope
with a "Message" string). Anything that is not a readable ORDER_CHANGE is returned as ignored, with
its reason, so the sensor can delete it instead of receiving it forever.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sage_amazon.amazon.orders import canonical_status
from sage_amazon.amazon.values import parse_time


@dataclass(frozen=True)
class OrderChange:
    notification_id: str
    amazon_order_id: str
    marketplace_id: str
    order_status: str  # canonical spelling
    change_type: str
    purchase_day: date | None
    event_time: str
    seller_id: str = ""
    fulfillment_type: str = ""  # AFN | MFN


@dataclass(frozen=True)
class Ignored:
    notification_id: str
    reason: str
    other_type: bool = False  # a notification another consumer handles (settlements): leave it on the queue


def parse_message(body: str | bytes | dict[str, Any]) -> OrderChange | Ignored:
    try:
        doc = body if isinstance(body, dict) else json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("Message"), str):  # wrapped once more
            doc = json.loads(doc["Message"])
    except (ValueError, TypeError) as exc:
        return Ignored("", f"not JSON: {exc}")
    if not isinstance(doc, dict):
        return Ignored("", "not a JSON object")
    meta = doc.get("NotificationMetadata") or doc.get("notificationMetadata") or {}
    notification_id = str(meta.get("NotificationId") or meta.get("notificationId") or "")
    kind = doc.get("NotificationType") or doc.get("notificationType")
    if kind != "ORDER_CHANGE":
        return Ignored(notification_id, f"not an ORDER_CHANGE notification: {kind!r}", other_type=bool(kind))
    change = (doc.get("Payload") or {}).get("OrderChangeNotification") or {}
    order_id = change.get("AmazonOrderId")
    if not order_id:
        return Ignored(notification_id, "ORDER_CHANGE without AmazonOrderId")
    summary = change.get("Summary") or {}
    purchased = parse_time(summary.get("PurchaseDate"))
    return OrderChange(
        notification_id=notification_id or f"{order_id}@{doc.get('EventTime', '')}",
        amazon_order_id=str(order_id),
        marketplace_id=str(summary.get("MarketplaceId") or ""),
        order_status=canonical_status(summary.get("OrderStatus")),
        change_type=str(change.get("OrderChangeType") or ""),
        purchase_day=purchased.date() if purchased else None,
        event_time=str(doc.get("EventTime") or meta.get("PublishTime") or ""),
        seller_id=str(change.get("SellerId") or ""),
        fulfillment_type=str(summary.get("FulfillmentType") or ""),
    )
