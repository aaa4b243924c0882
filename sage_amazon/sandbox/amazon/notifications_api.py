"""Notifications v1: createDestination (grantless, SQS ARN), getDestinations, createSubscription,
getSubscription. Deliveries themselves are in notifications.py."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Body, Request

from sage_amazon.sandbox.amazon.guard import guard, json_response
from sage_amazon.sandbox.amazon.notifications import DELIVERED_TYPES
from sage_amazon.sandbox.amazon.wire import ApiError, bad_request, not_found

router = APIRouter()
PAYLOAD_VERSIONS = {"ORDER_CHANGE": "1.0", "FBA_INVENTORY_AVAILABILITY_CHANGES": "1.0",
                    "REPORT_PROCESSING_FINISHED": "2020-09-04", "TRANSACTION_UPDATE": "1.0"}


@router.post("/notifications/v1/destinations")
def create_destination(request: Request, body: Any = Body(None)) -> Any:
    sandbox = guard(request, "createDestination")
    body = body if isinstance(body, dict) else {}
    spec = body.get("resourceSpecification")
    if not body.get("name") or not isinstance(spec, dict):
        raise bad_request("name and resourceSpecification are required.")
    sqs = spec.get("sqs")
    if not isinstance(sqs, dict) or not str(sqs.get("arn", "")).startswith("arn:aws:sqs:"):
        raise bad_request("This sandbox delivers to SQS only: resourceSpecification.sqs.arn is required.")
    world = sandbox.world
    with world.lock:
        for dest in world.state["destinations"].values():
            if dest["resource"]["sqs"]["arn"] == sqs["arn"]:
                raise ApiError(409, "Conflict", "A destination with this resource already exists.")
        dest_id = str(uuid.uuid4())
        dest = world.put("destinations", dest_id, {"name": body["name"], "destinationId": dest_id,
                                                   "resource": {"sqs": {"arn": sqs["arn"]}}})
        world.flush()
    return json_response({"payload": dest})


@router.get("/notifications/v1/destinations")
def get_destinations(request: Request) -> Any:
    sandbox = guard(request, "getDestinations")
    with sandbox.world.lock:
        return json_response({"payload": list(sandbox.world.state["destinations"].values())})


@router.post("/notifications/v1/subscriptions/{notification_type}")
def create_subscription(request: Request, notification_type: str, body: Any = Body(None)) -> Any:
    sandbox = guard(request, "createSubscription")
    body = body if isinstance(body, dict) else {}
    if notification_type not in DELIVERED_TYPES:
        raise bad_request(f"Notification type {notification_type} is not supported by this sandbox.")
    if not body.get("payloadVersion") or not body.get("destinationId"):
        raise bad_request("payloadVersion and destinationId are required.")
    world = sandbox.world
    with world.lock:
        if body["destinationId"] not in world.state["destinations"]:
            raise bad_request(f"Destination {body['destinationId']} does not exist.")
        if any(s["notificationType"] == notification_type for s in world.state["subscriptions"].values()):
            raise ApiError(409, "Conflict", f"A subscription for {notification_type} already exists.")
        sub_id = str(uuid.uuid4())
        sub = {"subscriptionId": sub_id, "payloadVersion": body["payloadVersion"],
               "destinationId": body["destinationId"]}
        if isinstance(body.get("processingDirective"), dict):
            sub["processingDirective"] = body["processingDirective"]
        world.put("subscriptions", sub_id, {**sub, "notificationType": notification_type})
        world.flush()
    return json_response({"payload": sub})


@router.get("/notifications/v1/subscriptions/{notification_type}")
def get_subscription(request: Request, notification_type: str) -> Any:
    sandbox = guard(request, "getSubscription")
    with sandbox.world.lock:
        sub = next((s for s in sandbox.world.state["subscriptions"].values()
                    if s["notificationType"] == notification_type), None)
    if sub is None:
        raise not_found(f"No subscription for {notification_type}.")
    return json_response({"payload": {k: v for k, v in sub.items() if k != "notificationType"}})


@router.get("/notifications/v1/destinations/{destination_id}")
def get_destination(request: Request, destination_id: str) -> Any:
    sandbox = guard(request, "getDestination")
    with sandbox.world.lock:
        dest = sandbox.world.state["destinations"].get(destination_id)
    if dest is None:
        raise not_found(f"Destination {destination_id} not found.")
    return json_response({"payload": dest})


@router.delete("/notifications/v1/destinations/{destination_id}")
def delete_destination(request: Request, destination_id: str) -> Any:
    sandbox = guard(request, "deleteDestination")
    world = sandbox.world
    with world.lock:
        if destination_id not in world.state["destinations"]:
            raise not_found(f"Destination {destination_id} not found.")
        if any(s["destinationId"] == destination_id for s in world.state["subscriptions"].values()):
            raise ApiError(409, "Conflict", "The destination has subscriptions; delete them first.")
        del world.state["destinations"][destination_id]
        world.save("destinations", destination_id)
        world.flush()
    return json_response({})


@router.delete("/notifications/v1/subscriptions/{notification_type}/{subscription_id}")
def delete_subscription_by_id(request: Request, notification_type: str, subscription_id: str) -> Any:
    sandbox = guard(request, "deleteSubscriptionById")
    world = sandbox.world
    with world.lock:
        sub = world.state["subscriptions"].get(subscription_id)
        if sub is None or sub["notificationType"] != notification_type:
            raise not_found(f"Subscription {subscription_id} not found.")
        del world.state["subscriptions"][subscription_id]
        world.save("subscriptions", subscription_id)
        world.flush()
    return json_response({})


@router.get("/notifications/v1/subscriptions/{notification_type}/{subscription_id}")
def get_subscription_by_id(request: Request, notification_type: str, subscription_id: str) -> Any:
    sandbox = guard(request, "getSubscriptionById")
    with sandbox.world.lock:
        sub = sandbox.world.state["subscriptions"].get(subscription_id)
    if sub is None or sub["notificationType"] != notification_type:
        raise not_found(f"Subscription {subscription_id} not found.")
    return json_response({"payload": {k: v for k, v in sub.items() if k != "notificationType"}})
