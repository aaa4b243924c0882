"""Sage -> Amazon: the merchant-fulfilled (MFN) quantity each marketplace offers follows Sage's available stock.

- `plan(con, day, rules, target)`: per (marketplace, SKU) of inventory.yaml's MFN SKUs, the quantity the rules give
  for the available stock at the Sage site mapped to the marketplace (raw.sage_stock of the day); SKUs without a Sage
  item, marketplaces without a site, sites Sage reported nothing for and absurd quantities are dead letters;
- `push(open_write, api, plan, rules)`: only what changed since the last quantity Amazon accepted is sent: fewer than
  `feed_from` changes by Listings Items patchListingsItem (op merge on fulfillment_availability, 5 requests/s), more
  in one JSON_LISTINGS_FEED per marketplace (createFeed allows one call every two minutes). The feed's processing
  report is read: a message with an ERROR issue becomes a dead letter with Amazon's message, a feed FATAL or
  CANCELLED as a whole becomes one dead letter; what Amazon accepted is recorded (ops.mfn_quantities), so a re-run
  sends nothing. A feed submitted by a run that died is followed up by the next run, never submitted twice.

Short warehouse sessions only: none is held across an Amazon call. No legacy XML or flat-file inventory feeds.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sage_amazon import deadletters
from sage_amazon.amazon.client import SpApiError
from sage_amazon.errors import TransientError, Unfinished, one_line
from sage_amazon.outcomes import Outcomes

log = logging.getLogger(__name__)

FLOW = "mfn_quantities"
MAX_UNITS = 1_000_000
FEED_TYPE = "JSON_LISTINGS_FEED"
PATCH_CHUNK = 50  # patch outcomes recorded per warehouse session
DDL = (
    """CREATE TABLE IF NOT EXISTS ops.mfn_quantities (
        marketplace_id VARCHAR NOT NULL, sku VARCHAR NOT NULL,
        accepted_quantity INTEGER, accepted_at TIMESTAMPTZ, accepted_via VARCHAR,
        sent_quantity INTEGER, sent_at TIMESTAMPTZ, sent_via VARCHAR, sent_ref VARCHAR,
        PRIMARY KEY (marketplace_id, sku))""",
    """CREATE TABLE IF NOT EXISTS ops.mfn_feeds (
        feed_id VARCHAR PRIMARY KEY, marketplace_id VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL,
        status VARCHAR NOT NULL, messages VARCHAR NOT NULL, processing_status VARCHAR, summary VARCHAR,
        finished_at TIMESTAMPTZ)""",
)


@dataclass(frozen=True)
class Target:
    marketplace_id: str
    sku: str
    item: str
    site: str
    available: Decimal
    quantity: int


@dataclass
class Plan:
    day: date
    targets: list[Target] = field(default_factory=list)
    problems: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (key, reason, payload)


@dataclass
class PushResult(Outcomes):
    feeds: list[str] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)  # (marketplace|sku) Amazon refused in this run

    def add(self, outcome: str, key: str, detail: str = "", day: date | None = None) -> None:
        super().add(outcome, key, detail, day)
        if outcome == "dead_lettered":
            self.refused.add(key)


def ensure(con: Any) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    for ddl in DDL:
        con.execute(ddl)
    deadletters.ensure(con)


# ------------------------------------------------------------------------------------------ plan

def plan(con: Any, day: date, rules: Any, target: str, marketplaces: tuple[str, ...] | list[str] = ()) -> Plan:
    from sage_amazon.mapping import orders as mapping

    out = Plan(day)
    rows = con.execute("SELECT site, item, physical, allocated, available, active FROM raw.sage_stock "
                       "WHERE snapshot_date = ?", [day]).fetchall() if _has_stock(con) else []
    stock = {(site, item): (Decimal(phys), Decimal(alloc), Decimal(avail), bool(active))
             for site, item, phys, alloc, avail, active in rows}
    items = {item for _, item in stock}
    sites = {site for site, _ in stock}
    sku_rules = mapping.sku_rules(target)
    for mp in sorted(rules.mfn_sites):
        site = rules.mfn_sites[mp]
        if site not in sites:
            out.problems.append((f"{mp}|*", f"Sage site {site} (mapped to marketplace {mp}) reported no stock on "
                                            f"{day}: check inventory.yaml mfn.marketplaces", {"site": site}))
            continue
        for sku in rules.mfn_skus:
            key = f"{mp}|{sku}"
            item, _ = mapping.map_sku(sku, items, sku_rules)
            if item is None:
                out.problems.append((key, f"unknown SKU: no Sage item for MFN SKU {sku} (skus.yaml aliases or the "
                                          "item master)", {"sku": sku, "marketplace_id": mp}))
                continue
            phys, alloc, avail, active = stock.get((site, item), (Decimal(0), Decimal(0), Decimal(0), True))
            if phys < 0 or phys > MAX_UNITS or alloc < 0 or alloc > MAX_UNITS:
                out.problems.append((key, f"absurd Sage quantity for {item} at {site}: physical {phys}, "
                                          f"allocated {alloc}", {"sku": sku, "site": site}))
                continue
            quantity = rules.rule_for(site, sku).apply(avail, active=active)
            out.targets.append(Target(mp, sku, item, site, avail, quantity))
    for mp in sorted(set(marketplaces) - set(rules.mfn_sites)):
        out.problems.append((f"{mp}|*", f"marketplace {mp} has no Sage site in inventory.yaml mfn.marketplaces: "
                                        "its merchant-fulfilled quantities are not pushed", {"marketplace_id": mp}))
    return out


def _has_stock(con: Any) -> bool:
    from sage_amazon.warehouse import table_exists

    return table_exists(con, "raw.sage_stock")


def record_plan(con: Any, p: Plan) -> None:
    ensure(con)
    for key, reason, payload in p.problems:
        deadletters.record(con, FLOW, key, reason, payload)
    # a SKU that plans again is no longer unknown / absurd (Amazon's refusals close when Amazon accepts)
    con.execute("""UPDATE ops.dead_letters SET status = 'resolved', resolved_at = now()
                   WHERE flow = ? AND status = 'open' AND (reason LIKE 'unknown SKU%' OR reason LIKE 'absurd%')
                   AND record_key IN (SELECT unnest(?::VARCHAR[]))""",
                [FLOW, [f"{t.marketplace_id}|{t.sku}" for t in p.targets]])
    # a marketplace that plans again has its site mapped and its stock read
    deadletters_keys = sorted({f"{t.marketplace_id}|*" for t in p.targets})
    con.execute("""UPDATE ops.dead_letters SET status = 'resolved', resolved_at = now()
                   WHERE flow = ? AND status = 'open' AND record_key IN (SELECT unnest(?::VARCHAR[]))""",
                [FLOW, deadletters_keys])


def changed(con: Any, p: Plan) -> list[Target]:
    ensure(con)
    accepted = {(mp, sku): q for mp, sku, q in con.execute(
        "SELECT marketplace_id, sku, accepted_quantity FROM ops.mfn_quantities").fetchall()}
    return [t for t in p.targets if accepted.get((t.marketplace_id, t.sku)) != t.quantity]


# ------------------------------------------------------------------------------------------ push

def _now() -> datetime:
    return datetime.now(UTC)


def _sent_many(con: Any, targets: list[Target], via: str, ref: str = "") -> None:
    """Record what is about to be sent (one statement for any number of SKUs)."""
    if not targets:
        return
    con.execute(
        """INSERT INTO ops.mfn_quantities AS q (marketplace_id, sku, sent_quantity, sent_at, sent_via, sent_ref)
           SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::INTEGER[]), ?, ?, ?
           ON CONFLICT (marketplace_id, sku) DO UPDATE SET
           sent_quantity = excluded.sent_quantity, sent_at = excluded.sent_at, sent_via = excluded.sent_via,
           sent_ref = excluded.sent_ref""",
        [[t.marketplace_id for t in targets], [t.sku for t in targets], [t.quantity for t in targets], _now(), via,
         ref])


def _accepted_many(con: Any, accepted: list[tuple[str, str, int]], via: str) -> None:
    """Record the quantities Amazon accepted and close their dead letters (one statement each)."""
    if not accepted:
        return
    mps, skus, quantities = ([a[i] for a in accepted] for i in range(3))
    con.execute(
        """INSERT INTO ops.mfn_quantities AS q (marketplace_id, sku, accepted_quantity, accepted_at, accepted_via)
           SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::INTEGER[]), ?, ?
           ON CONFLICT (marketplace_id, sku) DO UPDATE SET
           accepted_quantity = excluded.accepted_quantity, accepted_at = excluded.accepted_at,
           accepted_via = excluded.accepted_via""", [mps, skus, [int(q) for q in quantities], _now(), via])
    con.execute("""UPDATE ops.dead_letters SET status = 'resolved', resolved_at = now()
                   WHERE flow = ? AND status = 'open' AND record_key IN (SELECT unnest(?::VARCHAR[]))""",
                [FLOW, [f"{mp}|{sku}" for mp, sku in zip(mps, skus, strict=True)]])


def availability(quantity: int) -> list[dict[str, Any]]:
    return [{"fulfillment_channel_code": "DEFAULT", "quantity": int(quantity)}]


def push(open_write: Callable[[], Any], api: Any, p: Plan, rules: Any, *, poll_seconds: float = 30.0,
         feed_wait_seconds: float = 1800.0, sleep: Callable[[float], None] = time.sleep,
         product_type: str = "PRODUCT") -> PushResult:
    result = PushResult()
    try:
        follow_up_feeds(open_write, api, result, poll_seconds=poll_seconds, wait_seconds=feed_wait_seconds,
                        sleep=sleep)
        with open_write() as con:
            record_plan(con, p)
            todo = changed(con, p)
        result.counts["unchanged"] += len(p.targets) - len(todo)
        # what Amazon refused in this very run (a feed followed up above) is tried again by the next run
        todo = [t for t in todo if f"{t.marketplace_id}|{t.sku}" not in result.refused]
        if not todo:
            return result
        if len(todo) < rules.feed_from:
            with open_write() as con:  # what is about to be sent, before the calls
                _sent_many(con, todo, "patchListingsItem")
            for start in range(0, len(todo), PATCH_CHUNK):  # outcomes recorded per chunk: short sessions
                outcomes = [_patch(api, t, rules.seller_id, product_type) for t in todo[start:start + PATCH_CHUNK]]
                _record_patches(open_write, outcomes, result)
        else:
            by_mp: dict[str, list[Target]] = {}
            for t in todo:
                by_mp.setdefault(t.marketplace_id, []).append(t)
            for mp, targets in sorted(by_mp.items()):
                feed_id = _submit_feed(open_write, api, mp, targets, rules.seller_id, product_type, result)
                result.feeds.append(feed_id)
            follow_up_feeds(open_write, api, result, poll_seconds=poll_seconds, wait_seconds=feed_wait_seconds,
                            sleep=sleep)
    except TransientError as exc:
        raise Unfinished(f"MFN quantity push stopped: {one_line(exc)}", result) from exc
    return result


def _patch(api: Any, t: Target, seller_id: str, product_type: str) -> tuple[Target, str, dict[str, Any]]:
    """(target, "accepted" | a refusal reason, Amazon's answer). A transient failure is raised (the chunk's
    earlier outcomes are lost with it: re-sending a quantity is harmless)."""
    body = {"productType": product_type, "patches": [
        {"op": "merge", "path": "/attributes/fulfillment_availability", "value": availability(t.quantity)}]}
    try:
        res = api.call("patchListingsItem", "listings", "patch_listings_item", seller_id, t.sku,
                       marketplace_id=t.marketplace_id, marketplaceIds=t.marketplace_id, body=body)
    except SpApiError as exc:
        if isinstance(exc, TransientError):
            raise
        return t, one_line(exc), {}
    payload = res.payload if isinstance(res.payload, dict) else {}
    status = str(payload.get("status") or "")
    errors = [i for i in payload.get("issues") or [] if str(i.get("severity", "")).upper() == "ERROR"]
    if status == "ACCEPTED" and not errors:
        return t, "accepted", payload
    reason = "; ".join(f"{i.get('code', '')}: {i.get('message', '')}" for i in errors) or status or "no status"
    return t, reason, payload


def _record_patches(open_write: Any, outcomes: list[tuple[Target, str, dict[str, Any]]], result: PushResult) -> None:
    with open_write() as con:
        _accepted_many(con, [(t.marketplace_id, t.sku, t.quantity) for t, outcome, _ in outcomes
                             if outcome == "accepted"], "patchListingsItem")
        for t, outcome, payload in outcomes:
            key = f"{t.marketplace_id}|{t.sku}"
            if outcome == "accepted":
                result.add("accepted", key, f"{t.quantity} (patch)")
            else:
                deadletters.record(con, FLOW, key, f"Amazon refused the quantity: {outcome}",
                                   {"sku": t.sku, "marketplace_id": t.marketplace_id, "quantity": t.quantity,
                                    "response": payload})
                result.add("dead_lettered", key, outcome)


def feed_document(seller_id: str, targets: list[Target], product_type: str) -> dict[str, Any]:
    return {
        "header": {"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"},
        "messages": [
            {"messageId": n, "sku": t.sku, "operationType": "PATCH", "productType": product_type,
             "patches": [{"op": "merge", "path": "/attributes/fulfillment_availability",
                          "value": availability(t.quantity)}]}
            for n, t in enumerate(targets, start=1)],
    }


def _submit_feed(open_write: Any, api: Any, mp: str, targets: list[Target], seller_id: str, product_type: str,
                 result: PushResult) -> str:
    doc = json.dumps(feed_document(seller_id, targets, product_type))
    created = api.call("createFeedDocument", "feeds", "create_feed_document", io.StringIO(doc),
                       "application/json; charset=UTF-8", marketplace_id=mp)
    document_id = (created.payload or {})["feedDocumentId"]
    res = api.call("createFeed", "feeds", "create_feed", FEED_TYPE, document_id, marketplace_id=mp,
                   marketplaceIds=[mp])
    feed_id = str((res.payload or {})["feedId"])
    messages = [[n, t.sku, t.quantity] for n, t in enumerate(targets, start=1)]
    with open_write() as con:
        con.execute("INSERT INTO ops.mfn_feeds (feed_id, marketplace_id, created_at, status, messages) "
                    "VALUES (?, ?, ?, 'submitted', ?)", [feed_id, mp, _now(), json.dumps(messages)])
        _sent_many(con, targets, FEED_TYPE, feed_id)
    result.add("feed_submitted", f"{mp}|feed", f"{feed_id}: {len(targets)} SKU(s)")
    return feed_id


def follow_up_feeds(open_write: Any, api: Any, result: PushResult, *, poll_seconds: float, wait_seconds: float,
                    sleep: Callable[[float], None]) -> None:
    """Poll every submitted feed to its end and apply its processing report."""
    with open_write() as con:
        ensure(con)
        open_feeds = con.execute("SELECT feed_id, marketplace_id, messages FROM ops.mfn_feeds "
                                 "WHERE status = 'submitted' ORDER BY created_at").fetchall()
    for feed_id, mp, messages in open_feeds:
        waited = 0.0
        while True:
            feed = api.call("getFeed", "feeds", "get_feed", feed_id, marketplace_id=mp).payload or {}
            status = feed.get("processingStatus")
            if status in ("DONE", "FATAL", "CANCELLED"):
                break
            if waited >= wait_seconds:
                result.add("feed_pending", f"{mp}|feed", f"{feed_id} still {status}: followed up by the next run")
                status = None
                break
            sleep(poll_seconds)
            waited += poll_seconds
        if status is None:
            continue
        report: dict[str, Any] = {}
        if feed.get("resultFeedDocumentId"):
            text = api.call("getFeedDocument", "feeds", "get_feed_result_document", feed["resultFeedDocumentId"],
                            marketplace_id=mp)
            try:
                report = json.loads(text) if isinstance(text, str) else dict(text or {})
            except ValueError:
                report = {}
        _apply_report(open_write, feed_id, mp, json.loads(messages), status, report, result)


def _apply_report(open_write: Any, feed_id: str, mp: str, messages: list[list[Any]], status: str,
                  report: dict[str, Any], result: PushResult) -> None:
    issues: dict[int, list[dict[str, Any]]] = {}
    feed_issues = []
    for issue in report.get("issues") or []:
        if issue.get("messageId") is None:
            feed_issues.append(issue)
        else:
            issues.setdefault(int(issue["messageId"]), []).append(issue)
    summary = report.get("summary") or {}
    with open_write() as con:
        whole = status != "DONE" or (feed_issues and not summary.get("messagesProcessed"))
        if whole:
            reason = "; ".join(f"{i.get('code', '')}: {i.get('message', '')}" for i in feed_issues) or status
            deadletters.record(con, FLOW, f"feed|{feed_id}", f"{FEED_TYPE} {feed_id} rejected as a whole "
                                                              f"({status}): {reason}",
                               {"feed_id": feed_id, "marketplace_id": mp, "messages": messages, "report": report})
            result.add("feed_rejected", f"{mp}|feed", f"{feed_id}: {reason}")
        else:
            accepted = []
            for message_id, sku, quantity in messages:
                errors = [i for i in issues.get(int(message_id), [])
                          if str(i.get("severity", "")).upper() == "ERROR"]
                key = f"{mp}|{sku}"
                if errors:
                    reason = "; ".join(f"{i.get('code', '')}: {i.get('message', '')}" for i in errors)
                    deadletters.record(con, FLOW, key, f"Amazon refused the quantity: {reason}",
                                       {"sku": sku, "marketplace_id": mp, "quantity": quantity, "feed_id": feed_id,
                                        "issues": errors})
                    result.add("dead_lettered", key, reason)
                else:
                    accepted.append((mp, sku, int(quantity)))
                    result.add("accepted", key, f"{quantity} (feed {feed_id})")
            _accepted_many(con, accepted, FEED_TYPE)
            deadletters.resolve(con, FLOW, f"feed|{feed_id}")
        con.execute("UPDATE ops.mfn_feeds SET status = ?, processing_status = ?, summary = ?, finished_at = ? "
                    "WHERE feed_id = ?", ["rejected" if whole else "done", status, json.dumps(summary), _now(),
                                          feed_id])
