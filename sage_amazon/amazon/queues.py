"""The SQS queues SP-API notifications arrive on: one per consuming flow, so one type's backlog never delays another's.

`SQS_QUEUE_URL` names the family: its flows' queues are that URL with `-<flow>` appended to the queue name
(…/sage-amazon-notifications -> …/sage-amazon-notifications-orders, -settlements, -inventory, -returns,
-mcf).
`sage-amazon amazon connect` creates the queues that do not exist yet, one SP-API destination per queue and
subscribes each notification type to its flow's destination; each flow's sensor reads only its own queue.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# flow -> the notification types its sensor consumes (sensors/<flow>.py); nothing else is subscribed
CONSUMERS: dict[str, tuple[str, ...]] = {
    "orders": ("ORDER_CHANGE",),  # sensors/orders.py
    "settlements": ("REPORT_PROCESSING_FINISHED",),  # sensors/settlements.py (settlement report types)
    "inventory": ("FBA_INVENTORY_AVAILABILITY_CHANGES",),  # sensors/inventory.py
    "returns": ("TRANSACTION_UPDATE",),  # sensors/returns.py
    "mcf": ("FULFILLMENT_ORDER_STATUS",),  # sensors/mcf.py (Multi-Channel Fulfillment orders)
}
# the Selling Partner API's AWS account: it must be allowed to write to the queues (Notifications API use guide)
SP_API_PRINCIPAL = "arn:aws:iam::437568002678:root"

_CLIENTS: dict[tuple, Any] = {}


def flow_of(notification_type: str) -> str | None:
    return next((flow for flow, types in CONSUMERS.items() if notification_type in types), None)


def flow_queue_url(base_url: str, flow: str) -> str:
    """The queue of one flow: the base queue's name + "-<flow>"."""
    if flow not in CONSUMERS:
        raise ValueError(f"no notification queue for flow {flow!r} (known: {', '.join(CONSUMERS)})")
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + f"-{flow}"))


def unwrap(body: str) -> dict[str, Any] | None:
    """The notification document of an SQS message body (SNS-wrapped or not); None when it is not one."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("Message"), str):
            doc = json.loads(doc["Message"])
    except (ValueError, TypeError):
        return None
    return doc if isinstance(doc, dict) else None


def notification_type(body: str) -> str:
    """The NotificationType of an SQS message body (SNS-wrapped or not); "unreadable" when it has none."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("Message"), str):
            doc = json.loads(doc["Message"])
        kind = doc.get("NotificationType") or doc.get("notificationType") if isinstance(doc, dict) else None
    except (ValueError, TypeError):
        kind = None
    return str(kind or "unreadable")


def notification_id(body: str) -> str:
    """NotificationMetadata.NotificationId of a message body ("" when it has none)."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("Message"), str):
            doc = json.loads(doc["Message"])
    except (ValueError, TypeError):
        return ""
    if not isinstance(doc, dict):
        return ""
    meta = doc.get("NotificationMetadata") or doc.get("notificationMetadata") or {}
    return str(meta.get("NotificationId") or meta.get("notificationId") or "") if isinstance(meta, dict) else ""


def is_local(queue_url: str) -> bool:
    return not (urlsplit(queue_url).hostname or "").endswith("amazonaws.com")


def sqs_client(queue_url: str, region: str = "us-east-1", endpoint_url: str = "", access_key_id: str = "",
               secret_access_key: str = "") -> Any:
    """A boto3 SQS client for a queue: against a local queue (the sandbox's) the endpoint is the queue URL's host;
    on AWS boto3's default for the region. Built once per queue and credentials (tens of ms), reused (thread-safe)."""
    import boto3
    from botocore.config import Config

    parts = urlsplit(queue_url)
    local = is_local(queue_url)
    endpoint = endpoint_url or (f"{parts.scheme}://{parts.netloc}" if local else None)
    kwargs = {}
    if access_key_id:
        kwargs = {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_access_key}
    elif local:
        kwargs = {"aws_access_key_id": "sandbox", "aws_secret_access_key": "sandbox"}
    key = (queue_url, region, endpoint, tuple(sorted(kwargs.items())))
    client = _CLIENTS.get(key)
    if client is None:
        client = _CLIENTS[key] = boto3.client(
            "sqs", region_name=region, endpoint_url=endpoint,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
            **kwargs)
    return client


def ensure_queue(queue_url: str, arn: str, client: Any) -> bool:
    """Create the queue (ARN `arn`) if it does not exist (True when created). On AWS the new queue lets the Selling
    Partner API send to it; an existing queue is left as it is (its policy is the operator's)."""
    name = urlsplit(queue_url).path.rstrip("/").rsplit("/", 1)[-1]
    try:
        client.get_queue_url(QueueName=name)
        return False
    except client.exceptions.QueueDoesNotExist:
        pass
    attributes = {}
    if not is_local(queue_url):
        attributes["Policy"] = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": SP_API_PRINCIPAL},
            "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"], "Resource": arn}]})
    client.create_queue(QueueName=name, Attributes=attributes)
    return True
