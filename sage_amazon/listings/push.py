"""Sage -> Amazon listings: only what changed since Amazon last accepted it is sent, previewed first.

For each flagged Sage item and each marketplace of listings.yaml (key `<marketplace>|<sku>`):

1. `plan(items, rules)`: the attributes the item should have on Amazon (listings.yaml: title, brand, identifiers,
   condition, `purchasable_offer` from the marketplace's price, `fulfillment_availability` from the channel);
   an item without a price in the marketplace is a dead letter.
2. `push(...)`: compared with what Amazon accepted last (ops.listing_attributes, one row per attribute): a listing
   never accepted is sent whole with putListingsItem; an accepted one gets patchListingsItem with only the changed
   attributes (replace) and the ones no longer mapped (delete); an unchanged one sends nothing.
   - Price guard: a price cut larger than price_guard.max_drop_percent of the accepted price is held (ops.listing_
     price_holds, open), not sent; the listing's other changes still go. The hold ends when Sage's price is back
     within the guard or the drop is approved (`approve`: keys or "*"). A first put is guarded against the offer
     Amazon already has for the SKU (getListingsItem), and a held put sends nothing.
   - The product types in use are read first (definitions.py): an item of a type Amazon does not know is a dead
     letter; the required attributes the mapping leaves out are shown in the preview.
   - Every submission goes first with mode=VALIDATION_PREVIEW: Amazon's issues are shown (`PushResult.previews`);
     ERROR issues make the listing a dead letter with Amazon's code, message and attribute names, and nothing is
     submitted. A VALID preview is then submitted; ACCEPTED is recorded as what Amazon has.
   - Exactly once in effect: the posting ledger (flow `listings`) has `start` before the submission and `posted`
     after ACCEPTED. A submission whose outcome is unknown is simply sent again (a put or patch of the same values
     is idempotent on Amazon). A refused payload is not sent again while it is unchanged in Sage (the next run
     sends nothing), except by a replay (`retry_refused`), e.g. after a fix on Amazon's side.
   - In bulk (`bulk.feed_from` listings of a marketplace or more): after the previews, the valid listings go in one
     JSON_LISTINGS_FEED per marketplace (feed.py); its processing report is recorded like the answers above.

The warehouse is written in short sessions (`open_write`), never held across an Amazon call. No dagster here.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sage_amazon import deadletters, posting_ledger
from sage_amazon.amazon.client import SpApiError
from sage_amazon.errors import PermanentError, TransientError, Unfinished, one_line
from sage_amazon.listings import FLOW, feed
from sage_amazon.listings.rules import ListingRules
from sage_amazon.listings.sage_items import SageItem

PREVIEW = "VALIDATION_PREVIEW"
CHUNK = 50  # listings previewed and submitted per pair of warehouse sessions
OFFER, AVAILABILITY = "purchasable_offer", "fulfillment_availability"
DDL = (
    """CREATE TABLE IF NOT EXISTS ops.listings (
        marketplace_id VARCHAR NOT NULL, sku VARCHAR NOT NULL, item VARCHAR NOT NULL, product_type VARCHAR NOT NULL,
        price DECIMAL(18,2), currency VARCHAR, submission_id VARCHAR, accepted_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (marketplace_id, sku))""",
    """CREATE TABLE IF NOT EXISTS ops.listing_attributes (
        marketplace_id VARCHAR NOT NULL, sku VARCHAR NOT NULL, attribute VARCHAR NOT NULL, value_json VARCHAR NOT NULL,
        accepted_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (marketplace_id, sku, attribute))""",
    """CREATE TABLE IF NOT EXISTS ops.listing_price_holds (
        marketplace_id VARCHAR NOT NULL, sku VARCHAR NOT NULL, accepted_price DECIMAL(18,2) NOT NULL,
        sage_price DECIMAL(18,2) NOT NULL, currency VARCHAR, drop_percent DECIMAL(9,2) NOT NULL,
        status VARCHAR NOT NULL, held_at TIMESTAMPTZ NOT NULL, ended_at TIMESTAMPTZ,
        PRIMARY KEY (marketplace_id, sku))""",  # status: open | approved | ended
)


@dataclass(frozen=True)
class Desired:
    marketplace_id: str
    sku: str
    item: str
    product_type: str
    attributes: dict[str, Any]
    price: Decimal
    currency: str

    @property
    def key(self) -> str:
        return f"{self.marketplace_id}|{self.sku}"


@dataclass
class Plan:
    listings: list[Desired] = field(default_factory=list)
    problems: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (key, reason, payload)


@dataclass
class PushResult:
    counts: Counter = field(default_factory=Counter)
    previews: list[dict[str, str]] = field(default_factory=list)  # one row per previewed listing
    holds: list[dict[str, str]] = field(default_factory=list)
    missing_required: dict[str, list[str]] = field(default_factory=dict)  # key -> required attributes not mapped
    feeds: list[str] = field(default_factory=list)  # JSON_LISTINGS_FEED ids submitted by this run
    feed_records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # marketplace -> its messages

    def preview_row(self, d: Desired, operation: str, status: str, issues: list[dict[str, Any]]) -> None:
        self.counts["previewed"] += 1
        if len(self.previews) < 200:
            self.previews.append({"key": d.key, "operation": operation, "status": status,
                                  "issues": "; ".join(issue_text(i) for i in issues)})


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def issue_text(issue: dict[str, Any]) -> str:
    names = ", ".join(issue.get("attributeNames") or [])
    text = f"{issue.get('code', '')} {issue.get('message', '')}".strip()
    return f"{text} [attribute: {names}]" if names else text


# ------------------------------------------------------------------------------------------ plan


def offer(marketplace_id: str, currency: str, price: Decimal) -> list[dict[str, Any]]:
    # a JSON number on the wire (python-amazon-sp-api serialises with json.dumps): the Decimal's 2-place value
    amount = float(price.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return [{"marketplace_id": marketplace_id, "currency": currency,
             "our_price": [{"schedule": [{"value_with_tax": amount}]}]}]


def plan(items: Iterable[SageItem], rules: ListingRules) -> Plan:
    p = Plan()
    for item in items:
        for mp in rules.marketplaces:
            sku = rules.sku(item.code)
            key = f"{mp.marketplace_id}|{sku}"
            price = item.prices.get(mp.marketplace_id)
            where = f"price list {mp.price_list}" if mp.price_list else f"timItem.{mp.price}"
            if price is None or price <= 0:
                p.problems.append((key, f"Sage item {item.code} has no price for {mp.marketplace_id} ({where}: "
                                        f"{price if price is not None else 'none'}): not listed there",
                                   {"item": item.code, "sku": sku, "marketplace_id": mp.marketplace_id}))
                continue
            attributes: dict[str, Any] = {}
            for attr in rules.attributes:
                value = item.fields.get(attr.source, "") if attr.source else attr.value
                if value in (None, ""):
                    continue  # an empty Sage field: left out, Amazon names it if it is required
                attributes[attr.name] = [{**attr.extra, "value": value, "marketplace_id": mp.marketplace_id}]
            attributes[OFFER] = offer(mp.marketplace_id, mp.currency, price)
            attributes[AVAILABILITY] = [{"fulfillment_channel_code": rules.channel(item.code, mp.marketplace_id),
                                         "marketplace_id": mp.marketplace_id}]
            p.listings.append(Desired(mp.marketplace_id, sku, item.code, rules.product_type(item.code), attributes,
                                      price, mp.currency))
    return p


# ------------------------------------------------------------------------------------------ warehouse


def ensure(con: Any) -> None:
    posting_ledger.ensure(con)
    deadletters.ensure(con)
    for ddl in (*DDL, feed.DDL):
        con.execute(ddl)


def _accepted(con: Any) -> tuple[dict[str, dict[str, str]], dict[str, Decimal | None]]:
    attrs: dict[str, dict[str, str]] = {}
    for mp, sku, name, value in con.execute(
            "SELECT marketplace_id, sku, attribute, value_json FROM ops.listing_attributes").fetchall():
        attrs.setdefault(f"{mp}|{sku}", {})[name] = value
    prices = {f"{mp}|{sku}": price for mp, sku, price in con.execute(
        "SELECT marketplace_id, sku, price FROM ops.listings").fetchall()}
    return attrs, prices


def _record_accepted(con: Any, d: Desired, sent: dict[str, Any], removed: Iterable[str], submission_id: str,
                     *, whole: bool) -> None:
    if whole:
        con.execute("DELETE FROM ops.listing_attributes WHERE marketplace_id = ? AND sku = ?", [d.marketplace_id, d.sku])
    for name in removed:
        con.execute("DELETE FROM ops.listing_attributes WHERE marketplace_id = ? AND sku = ? AND attribute = ?",
                    [d.marketplace_id, d.sku, name])
    con.executemany(
        "INSERT OR REPLACE INTO ops.listing_attributes VALUES (?, ?, ?, ?, now())",
        [[d.marketplace_id, d.sku, name, canonical(value)] for name, value in sent.items()])
    price = d.price if OFFER in sent else None
    con.execute(
        """INSERT INTO ops.listings AS l VALUES (?, ?, ?, ?, ?, ?, ?, now())
           ON CONFLICT (marketplace_id, sku) DO UPDATE SET item = excluded.item,
               product_type = excluded.product_type, price = COALESCE(excluded.price, l.price),
               currency = COALESCE(excluded.currency, l.currency), submission_id = excluded.submission_id,
               accepted_at = now()""",
        [d.marketplace_id, d.sku, d.item, d.product_type, price, d.currency if price is not None else None,
         submission_id])


# ------------------------------------------------------------------------------------------ the guard


def _guard(con: Any, d: Desired, accepted_price: Decimal | None, rules: ListingRules, approved: bool,
           result: PushResult) -> bool:
    """True when the price change may go; a drop past the guard is held (unless approved)."""
    if accepted_price is None or d.price >= accepted_price:
        con.execute("UPDATE ops.listing_price_holds SET status = 'ended', ended_at = now() "
                    "WHERE marketplace_id = ? AND sku = ? AND status = 'open'", [d.marketplace_id, d.sku])
        return True
    drop = ((accepted_price - d.price) * 100 / accepted_price).quantize(Decimal("0.01"))
    if drop <= rules.max_drop_percent or approved:
        status = "approved" if drop > rules.max_drop_percent else "ended"
        con.execute("UPDATE ops.listing_price_holds SET status = ?, ended_at = now() "
                    "WHERE marketplace_id = ? AND sku = ? AND status = 'open'", [status, d.marketplace_id, d.sku])
        return True
    con.execute(
        """INSERT INTO ops.listing_price_holds AS h VALUES (?, ?, ?, ?, ?, ?, 'open', now(), NULL)
           ON CONFLICT (marketplace_id, sku) DO UPDATE SET accepted_price = excluded.accepted_price,
               sage_price = excluded.sage_price, currency = excluded.currency, drop_percent = excluded.drop_percent,
               status = 'open', held_at = CASE WHEN h.status = 'open' THEN h.held_at ELSE now() END, ended_at = NULL""",
        [d.marketplace_id, d.sku, accepted_price, d.price, d.currency, drop])
    result.counts["price_held"] += 1
    result.holds.append({"key": d.key, "accepted": str(accepted_price), "sage": str(d.price),
                         "drop_percent": str(drop)})
    return False


def _amazon_price(api: Any, rules: ListingRules, d: Desired) -> Decimal | None:
    """The price of the listing's offer on Amazon (getListingsItem offers), None when Amazon has no listing."""
    try:
        res = api.call("getListingsItem", "listings", "get_listings_item", rules.seller_id, d.sku,
                       marketplace_id=d.marketplace_id, marketplaceIds=d.marketplace_id, includedData="offers")
    except SpApiError as exc:
        if isinstance(exc, TransientError) or not _is_refusal(exc):
            raise
        return None  # 404: not listed yet
    offers = (res.payload or {}).get("offers") or [] if isinstance(res.payload, dict) else []
    for offer in offers:
        if offer.get("offerType", "B2C") == "B2C" and (offer.get("price") or {}).get("amount") is not None:
            return Decimal(str(offer["price"]["amount"]))
    return None


def _guard_amazon_price(open_write: Callable[[], Any], api: Any, rules: ListingRules, sends: list[_Send],
                        approve: set[str], result: PushResult) -> list[_Send]:
    """A listing we never put may already be on Amazon (listed in Seller Central): its first put is guarded against
    the offer Amazon has, as later patches are against what Amazon accepted from us. A held put sends nothing; the
    hold remembers Amazon's price, so Amazon is asked once, not on every run."""
    puts = [s for s in sends if s.operation == "put"]
    if not puts:
        return sends
    with open_write() as con:
        remembered = {f"{mp}|{sku}": price for mp, sku, price, *_ in open_holds(con)}
    prices = {s.d.key: remembered[s.d.key] if s.d.key in remembered else _amazon_price(api, rules, s.d)
              for s in puts}
    with open_write() as con:
        held = {s.d.key for s in puts
                if not _guard(con, s.d, prices[s.d.key], rules, s.d.key in approve or "*" in approve, result)}
    return [s for s in sends if s.d.key not in held]


def open_holds(con: Any) -> list[tuple[str, str, Decimal, Decimal, str, Decimal]]:
    ensure(con)
    return con.execute("SELECT marketplace_id, sku, accepted_price, sage_price, currency, drop_percent "
                       "FROM ops.listing_price_holds WHERE status = 'open' ORDER BY 1, 2").fetchall()


# ------------------------------------------------------------------------------------------ the push


@dataclass
class _Send:
    d: Desired
    operation: str  # put | patch
    attributes: dict[str, Any]  # what is sent (put: all; patch: the changed ones)
    removed: dict[str, Any]  # patch: attributes no longer mapped -> the value Amazon has
    payload_hash: str

    def body(self) -> dict[str, Any]:
        if self.operation == "put":
            return {"productType": self.d.product_type, "requirements": "LISTING", "attributes": self.attributes}
        patches = [{"op": "replace", "path": f"/attributes/{n}", "value": v} for n, v in self.attributes.items()]
        patches += [{"op": "delete", "path": f"/attributes/{n}", "value": v} for n, v in self.removed.items()]
        return {"productType": self.d.product_type, "patches": patches}


def _to_send(open_write: Callable[[], Any], p: Plan, rules: ListingRules, approve: Iterable[str],
             retry_refused: bool, result: PushResult) -> list[_Send]:
    approve = set(approve)
    out: list[_Send] = []
    with open_write() as con:
        ensure(con)
        for key, reason, payload in p.problems:
            deadletters.record(con, FLOW, key, reason, payload)
            result.counts["dead_lettered"] += 1
        accepted, prices = _accepted(con)
        in_feed = feed.pending_keys(con)
        for d in p.listings:
            if d.key in in_feed:
                result.counts["in_feed"] += 1  # Amazon is still processing it: followed up by the next run
                continue
            before = accepted.get(d.key)
            if before is None:
                send = _Send(d, "put", dict(d.attributes), {}, "")
            else:
                changed = {n: v for n, v in d.attributes.items() if before.get(n) != canonical(v)}
                removed = {n: json.loads(v) for n, v in before.items() if n not in d.attributes}
                held = OFFER in changed and not _guard(con, d, prices.get(d.key), rules,
                                                       d.key in approve or "*" in approve, result)
                if held:
                    changed.pop(OFFER)
                elif OFFER not in changed:
                    _guard(con, d, None, rules, False, result)  # the price Amazon has is Sage's: no hold left
                if not changed and not removed:
                    result.counts["held_only" if held else "unchanged"] += 1
                    deadletters.resolve(con, FLOW, d.key)
                    continue
                send = _Send(d, "patch", changed, removed, "")
            send.payload_hash = posting_ledger.payload_hash({"body": send.body(), "key": d.key})
            entry = posting_ledger.get(con, FLOW, d.key)
            if (not retry_refused and entry is not None and entry.status == posting_ledger.FAILED
                    and entry.payload_hash == send.payload_hash and (entry.message or "").startswith("refused")):
                result.counts["refused_unchanged"] += 1  # Amazon refused this very payload: fix Sage, or replay
                continue
            out.append(send)
    return out


def push(open_write: Callable[[], Any], api: Any, p: Plan, rules: ListingRules, *, approve: Iterable[str] = (),
         retry_refused: bool = False, sleep: Callable[[float], None] = time.sleep) -> PushResult:
    """Send what changed (see the module docstring). Raises Unfinished (a TransientError carrying the result)
    when Amazon stays unavailable past the client's budget: what was done is recorded, the rest resumes later."""
    from sage_amazon.listings import definitions

    result = PushResult()
    approve = set(approve)
    try:
        with open_write() as con:
            ensure(con)
        follow_up(open_write, api, rules, result, sleep=sleep)
    except TransientError as exc:
        raise Unfinished(f"listings push stopped: {one_line(exc)}", result) from exc
    todo = _to_send(open_write, p, rules, approve, retry_refused, result)
    try:
        todo = _guard_amazon_price(open_write, api, rules, todo, approve, result)
        known: dict[tuple[str, str], definitions.Definition | str] = {}
        ready: list[_Send] = []
        for send in todo:
            d = send.d
            pair = (d.product_type, d.marketplace_id)
            if pair not in known:
                try:
                    known[pair] = definitions.fetch(api, rules.seller_id, *pair)
                except definitions.UnknownProductType as exc:
                    known[pair] = str(exc)
            definition = known[pair]
            if isinstance(definition, str):
                with open_write() as con:
                    _refused(con, send, definition, [], result)
                continue
            missing = [n for n in definition.required if n not in d.attributes]
            if missing and send.operation == "put":
                result.missing_required[d.key] = missing
            ready.append(send)
        by_marketplace: dict[str, list[_Send]] = {}
        for send in ready:
            by_marketplace.setdefault(send.d.marketplace_id, []).append(send)
        for mp, sends in sorted(by_marketplace.items()):
            bulk = len(sends) >= rules.feed_from
            for start in range(0, len(sends), CHUNK):  # outcomes recorded per chunk: few, short warehouse sessions
                chunk = sends[start:start + CHUNK]
                valid = _preview_chunk(open_write, api, rules, chunk, result, start_ledger=not bulk)
                if bulk:
                    result.feed_records.setdefault(mp, []).extend(_record(s) for s in valid)
                else:
                    _submit_individually(open_write, api, rules, valid, result)
            if result.feed_records.get(mp):
                feed_id = feed.submit(open_write, api, rules.seller_id, mp, result.feed_records[mp])
                result.feeds.append(feed_id)
                result.counts["feed_messages"] += len(result.feed_records[mp])
        if result.feeds:
            follow_up(open_write, api, rules, result, sleep=sleep)
    except (TransientError, PermanentError) as exc:
        if isinstance(exc, PermanentError):
            raise
        raise Unfinished(f"listings push stopped: {one_line(exc)}", result) from exc
    return result


def _call(api: Any, rules: ListingRules, send: _Send, *, preview: bool) -> dict[str, Any]:
    d = send.d
    kwargs: dict[str, Any] = {"marketplace_id": d.marketplace_id, "marketplaceIds": d.marketplace_id,
                              "includedData": "issues", "body": send.body()}
    if preview:
        kwargs["mode"] = PREVIEW
    if send.operation == "put":
        res = api.call("putListingsItem", "listings", "put_listings_item", rules.seller_id, d.sku, **kwargs)
    else:
        res = api.call("patchListingsItem", "listings", "patch_listings_item", rules.seller_id, d.sku, **kwargs)
    return res.payload if isinstance(res.payload, dict) else {}


def _errors(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in answer.get("issues") or [] if str(i.get("severity", "")).upper() == "ERROR"]


def _is_refusal(exc: Exception) -> bool:
    status = getattr(exc, "status", None)
    return isinstance(status, int) and 400 <= status < 500 and status not in (401, 403, 408, 429)


def _attempt(api: Any, rules: ListingRules, send: _Send, *, preview: bool
             ) -> tuple[dict[str, Any], str | None, list[dict[str, Any]]]:
    """(Amazon's answer, the refusal reason or None, its ERROR issues). A transient failure is raised."""
    try:
        answer = _call(api, rules, send, preview=preview)
    except TransientError:
        raise
    except SpApiError as exc:
        if not _is_refusal(exc):
            raise
        return {}, f"Amazon refused the {send.operation}: {one_line(exc)}", []
    errors = _errors(answer)
    status = str(answer.get("status") or "")
    if errors or status not in (("VALID", "ACCEPTED") if preview else ("ACCEPTED",)):
        text = "; ".join(issue_text(i) for i in errors) or f"status {status or 'missing'} without an issue"
        d = send.d
        return answer, f"Amazon refused listing {d.sku} in {d.marketplace_id} ({d.product_type}): {text}", errors
    return answer, None, errors


def _preview_chunk(open_write: Callable[[], Any], api: Any, rules: ListingRules, sends: list[_Send],
                   result: PushResult, *, start_ledger: bool) -> list[_Send]:
    """Preview each listing; record the refusals (and `start` the valid ones) in one session; the valid ones."""
    valid: list[_Send] = []
    refused: list[tuple[_Send, str, list[dict[str, Any]]]] = []
    for send in sends:
        answer, reason, errors = _attempt(api, rules, send, preview=True)
        result.preview_row(send.d, send.operation, str(answer.get("status") or "refused"),
                           answer.get("issues") or ([{"message": reason}] if reason and not answer else []))
        if reason:
            refused.append((send, reason, errors))
        else:
            valid.append(send)
    with open_write() as con:
        for send, reason, errors in refused:
            _refused(con, send, reason, errors, result)
        if start_ledger:
            for send in valid:
                posting_ledger.start(con, FLOW, send.d.key, send.payload_hash)
    return valid


def _submit_individually(open_write: Callable[[], Any], api: Any, rules: ListingRules, valid: list[_Send],
                         result: PushResult) -> None:
    """putListingsItem / patchListingsItem each; what Amazon accepted recorded in one session. A transient failure
    leaves 'sending' entries: sent again by the next run (the same put or patch is harmless)."""
    outcomes = [(send, *_attempt(api, rules, send, preview=False)) for send in valid]
    with open_write() as con:
        for send, answer, reason, errors in outcomes:
            if reason:
                _refused(con, send, reason, errors, result)
            else:
                _accepted_one(con, send, str(answer.get("submissionId") or ""), result)


def _accepted_one(con: Any, send: _Send, submission: str, result: PushResult) -> None:
    _record_accepted(con, send.d, send.attributes, send.removed, submission, whole=send.operation == "put")
    posting_ledger.posted(con, FLOW, send.d.key, submission)
    deadletters.resolve(con, FLOW, send.d.key)
    result.counts["created" if send.operation == "put" else "updated"] += 1


def _record(send: _Send) -> dict[str, Any]:
    """What a feed message needs to be recorded when its report comes, maybe in a later run."""
    d = send.d
    return {"key": d.key, "sku": d.sku, "marketplace_id": d.marketplace_id, "item": d.item,
            "product_type": d.product_type, "price": str(d.price), "currency": d.currency,
            "operation": send.operation, "attributes": send.attributes, "removed": send.removed,
            "payload_hash": send.payload_hash, "body": send.body()}


def _send_of(record: dict[str, Any]) -> _Send:
    d = Desired(record["marketplace_id"], record["sku"], record["item"], record["product_type"],
                record["attributes"], Decimal(record["price"]), record["currency"])
    return _Send(d, record["operation"], record["attributes"], record["removed"], record["payload_hash"])


def follow_up(open_write: Callable[[], Any], api: Any, rules: ListingRules, result: PushResult, *,
              sleep: Callable[[float], None] = time.sleep) -> None:
    """Wait for every submitted feed (up to bulk.wait_seconds) and record its processing report."""
    with open_write() as con:
        submitted = con.execute("SELECT feed_id, marketplace_id, messages FROM ops.listing_feeds "
                                "WHERE status = 'submitted' ORDER BY created_at").fetchall()
    for feed_id, mp, messages in submitted:
        ended = feed.wait(api, feed_id, mp, poll_seconds=rules.feed_poll_seconds,
                          wait_seconds=rules.feed_wait_seconds, sleep=sleep)
        if ended is None:
            result.counts["feed_pending"] += 1
            continue
        status, report = ended
        with open_write() as con:
            for record, errors, reason in feed.outcomes(status, report, json.loads(messages)):
                if reason:
                    _refused(con, _send_of(record), reason, errors, result)
                else:
                    _accepted_one(con, _send_of(record), f"feed {feed_id}", result)
            con.execute("UPDATE ops.listing_feeds SET status = ?, processing_status = ?, summary = ?, "
                        "finished_at = now() WHERE feed_id = ?",
                        ["done" if status == "DONE" else "rejected", status,
                         json.dumps(report.get("summary") or {}), feed_id])


def _refused(con: Any, send: _Send, reason: str, issues: list[dict[str, Any]], result: PushResult) -> None:
    d = send.d
    posting_ledger.start(con, FLOW, d.key, send.payload_hash)
    posting_ledger.failed(con, FLOW, d.key, f"refused: {reason}"[:1000])
    deadletters.record(con, FLOW, d.key, reason[:1000], {
        "sku": d.sku, "marketplace_id": d.marketplace_id, "item": d.item, "product_type": d.product_type,
        "operation": send.operation, "body": send.body(), "issues": issues})
    result.counts["dead_lettered"] += 1


def preview_table(result: PushResult, limit: int = 30) -> str:
    """Markdown: Amazon's VALIDATION_PREVIEW answer per listing submitted in this run."""
    if not result.previews:
        return "nothing to submit"
    lines = ["| listing | operation | preview | issues | required, not mapped |", "|---|---|---|---|---|"]
    for row in result.previews[:limit]:
        missing = ", ".join(result.missing_required.get(row["key"], []))
        issues = row["issues"].replace("|", "/") or "-"
        lines.append(f"| {row['key']} | {row['operation']} | {row['status']} | {issues} | {missing or '-'} |")
    return "\n".join(lines)
