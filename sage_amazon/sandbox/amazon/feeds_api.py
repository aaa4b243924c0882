"""Feeds 2021-06-30 for JSON_LISTINGS_FEED: createFeedDocument (+ upload to the presigned URL),
createFeed, getFeed, getFeedDocument (the processing report)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Body, Request

from sage_amazon.sandbox.amazon import documents, listings_api, product_types_api
from sage_amazon.sandbox.amazon.guard import guard, json_response
from sage_amazon.sandbox.amazon.wire import bad_request, iso, not_found, parse_iso
from sage_amazon.sandbox.seller_catalog import SELLER_ID

router = APIRouter()
FEED_TYPES = ("JSON_LISTINGS_FEED",)
QUEUE_SECONDS = 5.0
PROCESSING_SECONDS = 10.0


def process(world: Any, feed: dict[str, Any]) -> dict[str, Any]:
    """Apply a JSON_LISTINGS_FEED and return its processing report."""
    path = documents.document_path(world, feed["inputFeedDocumentId"])
    issues: list[dict[str, Any]] = []
    accepted = invalid = 0
    try:
        raw = path.read_bytes() if path.exists() else b""
        content = json.loads(raw.decode("utf-8")) if raw else {}
        messages = content.get("messages") if isinstance(content, dict) else None
        if not isinstance(messages, list):
            raise ValueError("messages missing")
    except (ValueError, UnicodeDecodeError):
        return {"header": {"sellerId": SELLER_ID, "version": "2.0", "feedId": feed["feedId"]},
                "issues": [{"code": "4000001", "severity": "ERROR",
                            "message": "The feed document is not valid JSON_LISTINGS_FEED JSON."}],
                "summary": {"errors": 1, "warnings": 0, "messagesProcessed": 0, "messagesAccepted": 0,
                            "messagesInvalid": 0}}
    mp = feed["marketplaceIds"][0]
    for message in messages:
        mid = message.get("messageId") if isinstance(message, dict) else None
        sku = message.get("sku") if isinstance(message, dict) else None
        op = (message.get("operationType") or "").upper() if isinstance(message, dict) else ""
        listing = world.state["listings"].get(f"{mp}|{sku}")
        problem = None
        if not sku or mid is None or op not in ("UPDATE", "PARTIAL_UPDATE", "PATCH", "DELETE"):
            problem = "Message must have messageId, sku and a valid operationType."
        elif listing is None and op != "UPDATE":
            problem = f"SKU {sku} does not exist."
        if problem:
            invalid += 1
            issues.append({"messageId": mid, "code": "4000003", "severity": "ERROR", "message": problem})
            continue
        now = iso(world.clock())
        refused = _definition_issues(message, op, listing)  # validated against the product type, as Amazon does
        if refused:
            invalid += 1
            # the processing report's issue shape (listings-feed-processing-report-schema-v2): attributeName, one
            issues.extend({"messageId": mid, "sku": sku, "code": i["code"], "severity": i["severity"],
                           "message": i["message"], **({"attributeName": i["attributeNames"][0]}
                                                       if i.get("attributeNames") else {})} for i in refused)
            continue
        if op == "PATCH":
            try:
                listings_api.validate_patches(message.get("patches"))
            except Exception:
                invalid += 1
                issues.append({"messageId": mid, "code": "4000004", "severity": "ERROR",
                               "message": "Invalid patches."})
                continue
            listings_api.apply_patches(listing, message["patches"])
        elif op == "DELETE":
            listing["status"] = []
        else:
            if listing is None:
                listing = {"marketplace_id": mp, "sku": sku, "status": ["BUYABLE"], "price": "0.00",
                           "quantity": None, "created": now, "attributes": {}}
            listing["product_type"] = message.get("productType", listing.get("product_type", "PRODUCT"))
            attrs = message.get("attributes") or {}
            listing["attributes"] = attrs if op == "UPDATE" else {**listing.get("attributes", {}), **attrs}
            listings_api.apply_attributes(listing, attrs)
        listing["updated"] = now
        world.put("listings", f"{mp}|{sku}", listing)
        accepted += 1
    return {"header": {"sellerId": SELLER_ID, "version": "2.0", "feedId": feed["feedId"]}, "issues": issues,
            "summary": {"errors": len(issues), "warnings": 0, "messagesProcessed": len(messages),
                        "messagesAccepted": accepted, "messagesInvalid": invalid}}


def _definition_issues(message: dict[str, Any], op: str, listing: dict[str, Any] | None) -> list[dict[str, Any]]:
    product_type = message.get("productType") or (listing or {}).get("product_type") or "PRODUCT"
    if op == "PATCH" and isinstance(message.get("patches"), list):
        return listings_api.issues_of_patches(product_type, message["patches"])
    if op in ("UPDATE", "PARTIAL_UPDATE"):
        return product_types_api.validate(product_type, message.get("attributes") or {},
                                          enforce_required=op == "UPDATE")
    return []


def advance(sandbox: Any) -> None:
    world = sandbox.world
    now = world.clock()
    scale = max(world.options.time_scale, 1e-9)
    for feed in world.state["feeds"].values():
        created = parse_iso(feed["createdTime"])
        if feed["processingStatus"] == "IN_QUEUE" and now >= created + timedelta(seconds=QUEUE_SECONDS / scale):
            feed["processingStatus"] = "IN_PROGRESS"
            feed["processingStartTime"] = iso(now)
            world.save("feeds", feed["feedId"])
        if feed["processingStatus"] == "IN_PROGRESS" and now >= created + timedelta(
                seconds=(QUEUE_SECONDS + PROCESSING_SECONDS) / scale):
            report = process(world, feed)
            doc_id = documents.new_document_id()
            documents.store_document(world, doc_id, json.dumps(report), "feed_result", gzip_it=False)
            feed.update({"processingStatus": "DONE", "processingEndTime": iso(now), "resultFeedDocumentId": doc_id})
            world.save("feeds", feed["feedId"])


@router.post("/feeds/2021-06-30/documents", status_code=201)
def create_feed_document(request: Request, body: Any = Body(None)) -> Any:
    sandbox = guard(request, "createFeedDocument")
    body = body if isinstance(body, dict) else {}
    if not body.get("contentType"):
        raise bad_request("contentType is required.")
    world = sandbox.world
    with world.lock:
        doc_id = documents.new_document_id()
        world.put("feed_documents", doc_id, {"contentType": body["contentType"], "uploaded": False})
        url = documents.presigned_url(world, sandbox.base_url, doc_id, action="PUT")
        world.flush()
    return json_response({"feedDocumentId": doc_id, "url": url}, 201)


@router.post("/feeds/2021-06-30/feeds", status_code=202)
def create_feed(request: Request, body: Any = Body(None)) -> Any:
    sandbox = guard(request, "createFeed")
    body = body if isinstance(body, dict) else {}
    world = sandbox.world
    if body.get("feedType") not in FEED_TYPES:
        raise bad_request(f"Invalid feed type {body.get('feedType')}.")
    mps = body.get("marketplaceIds")
    if not isinstance(mps, list) or not mps or any(m not in world.options.marketplace_ids for m in mps):
        raise bad_request("marketplaceIds must list marketplaces of this seller.")
    with world.lock:
        doc = world.state["feed_documents"].get(body.get("inputFeedDocumentId") or "")
        if doc is None:
            raise bad_request("inputFeedDocumentId does not exist.")
        feed_id = str(60_000_000_000 + world.next_id("feed") * 6113)
        world.put("feeds", feed_id, {"feedId": feed_id, "feedType": body["feedType"], "marketplaceIds": mps,
                                     "createdTime": iso(world.clock()), "processingStatus": "IN_QUEUE",
                                     "inputFeedDocumentId": body["inputFeedDocumentId"]})
        world.flush()
    return json_response({"feedId": feed_id}, 202)


@router.get("/feeds/2021-06-30/feeds/{feed_id}")
def get_feed(request: Request, feed_id: str) -> Any:
    sandbox = guard(request, "getFeed")
    with sandbox.world.lock:
        feed = sandbox.world.state["feeds"].get(feed_id)
        if feed is None:
            raise not_found(f"Feed {feed_id} not found.")
        return json_response({k: v for k, v in feed.items() if k != "inputFeedDocumentId"})


@router.get("/feeds/2021-06-30/documents/{document_id}")
def get_feed_document(request: Request, document_id: str) -> Any:
    sandbox = guard(request, "getFeedDocument")
    world = sandbox.world
    with world.lock:
        meta = world.state["documents"].get(document_id)
        if meta is None or meta["kind"] != "feed_result":
            raise not_found(f"Feed document {document_id} not found.")
        body = {"feedDocumentId": document_id, "url": documents.presigned_url(world, sandbox.base_url, document_id)}
        if meta.get("gzip"):
            body["compressionAlgorithm"] = "GZIP"
        world.flush()
    return json_response(body)
