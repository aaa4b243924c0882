"""Listings in bulk: one JSON_LISTINGS_FEED per marketplace instead of one put/patch per listing.

Used by push.py when at least listings.yaml's `bulk.feed_from` previewed listings of a marketplace are to be
submitted (createFeed allows one call every two minutes, but a feed carries thousands of messages; each listing was
previewed alone with VALIDATION_PREVIEW before). A message is `UPDATE` with all attributes for a listing Amazon
never accepted from us, `PATCH` with the changed attributes otherwise.

The feed and what each message carries are recorded (ops.listing_feeds) with the posting ledger's `start` in one
session right after createFeed, so a run that dies while Amazon processes it never submits it twice: the next run
follows it up first. The processing report decides: a message with an ERROR issue is a dead letter with Amazon's
code, message and attribute; the others are recorded as accepted. A feed FATAL or CANCELLED as a whole makes each of
its listings a dead letter (submitted again by the next change or a replay).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sage_amazon import posting_ledger

FEED_TYPE = "JSON_LISTINGS_FEED"
DDL = """CREATE TABLE IF NOT EXISTS ops.listing_feeds (
    feed_id VARCHAR PRIMARY KEY, marketplace_id VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL, messages VARCHAR NOT NULL, processing_status VARCHAR, summary VARCHAR,
    finished_at TIMESTAMPTZ)"""  # status: submitted | done | rejected


def document(seller_id: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"header": {"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"}, "messages": messages}


def message(message_id: int, sku: str, operation: str, body: dict[str, Any]) -> dict[str, Any]:
    out = {"messageId": message_id, "sku": sku, "productType": body["productType"]}
    if operation == "put":
        return {**out, "operationType": "UPDATE", "requirements": "LISTING", "attributes": body["attributes"]}
    return {**out, "operationType": "PATCH", "patches": body["patches"]}


def submit(open_write: Callable[[], Any], api: Any, seller_id: str, marketplace_id: str,
           records: list[dict[str, Any]]) -> str:
    """One feed of `records` (each: key, sku, operation, body, payload_hash and what recording it needs)."""
    doc = document(seller_id, [message(n, r["sku"], r["operation"], r["body"]) for n, r in enumerate(records, 1)])
    created = api.call("createFeedDocument", "feeds", "create_feed_document", io.StringIO(json.dumps(doc)),
                       "application/json; charset=UTF-8", marketplace_id=marketplace_id)
    document_id = (created.payload or {})["feedDocumentId"]
    res = api.call("createFeed", "feeds", "create_feed", FEED_TYPE, document_id, marketplace_id=marketplace_id,
                   marketplaceIds=[marketplace_id])
    feed_id = str((res.payload or {})["feedId"])
    with open_write() as con:
        con.execute("INSERT INTO ops.listing_feeds (feed_id, marketplace_id, created_at, status, messages) "
                    "VALUES (?, ?, ?, 'submitted', ?)",
                    [feed_id, marketplace_id, datetime.now(UTC), json.dumps(records, default=str)])
        for r in records:
            posting_ledger.start(con, "listings", r["key"], r["payload_hash"])
    return feed_id


def pending_keys(con: Any) -> set[str]:
    """Listings in a feed Amazon has not finished: not sent again until it has."""
    keys: set[str] = set()
    for (messages,) in con.execute("SELECT messages FROM ops.listing_feeds WHERE status = 'submitted'").fetchall():
        keys.update(r["key"] for r in json.loads(messages))
    return keys


def wait(api: Any, feed_id: str, marketplace_id: str, *, poll_seconds: float, wait_seconds: float,
         sleep: Callable[[float], None] = time.sleep) -> tuple[str, dict[str, Any]] | None:
    """(processing status, processing report) once the feed ended; None if still running after wait_seconds."""
    waited = 0.0
    while True:
        feed = api.call("getFeed", "feeds", "get_feed", feed_id, marketplace_id=marketplace_id).payload or {}
        status = str(feed.get("processingStatus") or "")
        if status in ("DONE", "FATAL", "CANCELLED"):
            break
        if waited >= wait_seconds:
            return None
        sleep(poll_seconds)
        waited += poll_seconds
    report: dict[str, Any] = {}
    if feed.get("resultFeedDocumentId"):
        text = api.call("getFeedDocument", "feeds", "get_feed_result_document", feed["resultFeedDocumentId"],
                        marketplace_id=marketplace_id)
        try:
            report = json.loads(text) if isinstance(text, str) else dict(text or {})
        except ValueError:
            report = {}
    return status, report


def outcomes(status: str, report: dict[str, Any], records: list[dict[str, Any]]
             ) -> list[tuple[dict[str, Any], list[dict[str, Any]], str | None]]:
    """(record, its ERROR issues, the reason it was refused or None) per message of a finished feed."""
    by_message: dict[int, list[dict[str, Any]]] = {}
    whole: list[dict[str, Any]] = []
    for issue in report.get("issues") or []:
        if str(issue.get("severity", "")).upper() != "ERROR":
            continue
        if issue.get("messageId") is None:
            whole.append(issue)
        else:
            by_message.setdefault(int(issue["messageId"]), []).append(issue)
    out = []
    for n, record in enumerate(records, start=1):
        if status != "DONE" or (whole and not (report.get("summary") or {}).get("messagesProcessed")):
            text = "; ".join(f"{i.get('code', '')} {i.get('message', '')}".strip() for i in whole) or status
            out.append((record, whole, f"{FEED_TYPE} rejected as a whole ({status}): {text}"))
            continue
        errors = by_message.get(n, [])
        if errors:
            text = "; ".join(f"{i.get('code', '')} {i.get('message', '')}".strip()
                             + (f" [attribute: {i['attributeName']}]" if i.get("attributeName") else "")
                             for i in errors)
            out.append((record, errors, f"Amazon refused listing {record['sku']} in {record['marketplace_id']} "
                                        f"({record['product_type']}) in feed: {text}"))
        else:
            out.append((record, [], None))
    return out
