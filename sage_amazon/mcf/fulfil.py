"""The Amazon side of MCF: each eligible Sage order previewed, then created once; Sage cancellations cancelled at
Amazon while it allows; statuses and shipments followed.

Exactly once: the Sage order number is the sellerFulfillmentOrderId and Amazon keeps one order per id. The row in
ops.mcf_orders is written (state `creating`) before createFulfillmentOrder is sent; a run that finds a `creating`
row asks Amazon (getFulfillmentOrder) before sending again, and a create Amazon refuses because the id exists
(a retry after a lost reply) adopts the order Amazon has. A second run over the same Sage orders sends nothing.

Statuses: one listAllFulfillmentOrders walk from the oldest unfinished order's last known change, then
getFulfillmentOrder only for orders whose status moved to one with shipments or a reason (Complete,
CompletePartialled, Unfulfillable, Invalid) and for orders never read back since their creation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sage_amazon import deadletters
from sage_amazon.amazon.client import SpApiError
from sage_amazon.mcf import outbound, store
from sage_amazon.mcf.rules import McfRules
from sage_amazon.outcomes import Outcomes

FLOW = "mcf_orders"  # dead letters: Amazon cannot ship, refused an order or a cancellation; Unfulfillable orders
FINAL = ("Cancelled", "Complete", "CompletePartialled", "Unfulfillable", "Invalid")
DETAILED = ("Complete", "CompletePartialled", "Unfulfillable", "Invalid")
CHUNK = 25  # orders per warehouse session of bookkeeping

OpenWrite = Callable[[], AbstractContextManager[Any]]


class SyncResult(Outcomes):
    SAMPLES: ClassVar[int] = 30
    DETAIL_WIDTH: ClassVar[int | None] = 200


def _address(ship_to: dict[str, Any]) -> dict[str, str]:
    lines = list(ship_to.get("lines") or [])
    out = {"name": ship_to.get("name") or "", "addressLine1": lines[0] if lines else "",
           "city": ship_to.get("city") or "", "stateOrRegion": ship_to.get("state") or "",
           "postalCode": ship_to.get("postal_code") or "", "countryCode": ship_to.get("country") or "",
           "phone": ship_to.get("phone") or ""}
    for n, extra in enumerate(lines[1:3], start=2):
        out[f"addressLine{n}"] = extra
    return {k: v for k, v in out.items() if v}


def _items(order: dict[str, Any]) -> list[dict[str, Any]]:
    """One item per open Sage line; its id is the line number, what the shipment is posted back against."""
    items = []
    for ln in order["lines"]:
        open_qty = Decimal(ln["quantity"]) - Decimal(ln["shipped"])
        if open_qty > 0:
            items.append({"sellerSku": ln["sku"], "sellerFulfillmentOrderItemId": str(ln["line_no"]),
                          "quantity": int(open_qty)})
    return items


def _why_not(preview: dict[str, Any]) -> str:
    reasons = list(preview.get("orderUnfulfillableReasons") or [])
    for item in preview.get("unfulfillablePreviewItems") or []:
        reasons.append(f"{item.get('sellerSku')}: {', '.join(item.get('itemUnfulfillableReasons') or ['?'])}")
    return "; ".join(reasons) or "isFulfillable false"


def sync(open_write: OpenWrite, api: Any, rules: McfRules, now: datetime, *, retry_letters: bool = False) -> SyncResult:
    """retry_letters (a replay): preview again the orders Amazon could not ship although nothing changed in Sage
    (say FBA stock arrived); otherwise such an order is previewed again only once its address or lines change."""
    result = SyncResult()
    with open_write() as con:
        store.ensure(con)
        deadletters.ensure(con)
        orders = store.sage_orders(con)
        known = store.mcf_orders(con)
        letters = {d.record_key: d.payload for d in deadletters.open_letters(con, FLOW)}
    to_submit: list[tuple[dict[str, Any], Any]] = []
    for order in orders:
        number = order["sage_number"]
        row = known.get(number)
        if order["status"] == "open" and (row is None or row["state"] == "creating"):
            if not order["at_fba"]:
                result.add("not_at_fba", number, f"not stocked at {rules.fba_site}: {order['not_at_fba']}")
                continue
            if row is None and not retry_letters and number in letters and _unchanged(letters[number], order):
                result.add("dead_letter_open", number, "unchanged since Amazon refused it")
                continue
            to_submit.append((order, row))
        elif order["status"] == "cancelled" and row is not None and row["state"] in ("created", "creating") \
                and (row["amazon_status"] or "Received") not in FINAL:
            _cancel(open_write, api, rules, number, row, result)
        elif row is not None:
            result.add("known", number, row["amazon_status"] or row["state"])
        elif number in letters:  # cancelled or closed in Sage before Amazon could take it: nothing left to send
            with open_write() as con:
                deadletters.resolve(con, FLOW, number)
            result.add("letter_closed", number, f"{order['status']} in Sage")
    for first in range(0, len(to_submit), CHUNK):
        _submit_chunk(open_write, api, rules, to_submit[first:first + CHUNK], now, result)
    _follow(open_write, api, rules, result)
    return result


def _unchanged(payload: str, order: dict[str, Any]) -> bool:
    try:
        sent = json.loads(payload)
    except ValueError:
        return False
    return sent.get("address_digest") == _digest(_address(order["ship_to"])) and sent.get("items") == _items(order)


def _digest(address: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(address, sort_keys=True).encode()).hexdigest()


def _kept(address: dict[str, str]) -> dict[str, Any]:
    """What a dead letter keeps of an address: where, not who (no name, street or phone), and a digest to see a
    corrected address."""
    return {"where": {k: address[k] for k in ("city", "stateOrRegion", "postalCode", "countryCode") if k in address},
            "address_digest": _digest(address)}


class BatchedWrites:
    """Warehouse writes gathered and done in one short session (`flush`): one per chunk of orders, not per call."""

    def __init__(self, open_write: OpenWrite) -> None:
        self.open_write = open_write
        self.pending: list[Callable[[Any], None]] = []

    def later(self, write: Callable[[Any], None]) -> None:
        self.pending.append(write)

    def flush(self) -> None:
        if self.pending:
            with self.open_write() as con:
                for write in self.pending:
                    write(con)
            self.pending = []


def _submit_chunk(open_write: OpenWrite, api: Any, rules: McfRules, chunk: list[tuple[dict[str, Any], Any]],
                  now: datetime, result: SyncResult) -> None:
    """Previews of a chunk of orders, their `creating` rows written in one session, then the creations (their
    outcomes in one more session, also when a call fails half way)."""
    writes = BatchedWrites(open_write)
    try:
        ready = [(order, body) for order, row in chunk
                 if (body := _prepare(writes, api, rules, order, row, now, result)) is not None]
        writes.flush()  # the `creating` rows exist before any creation is sent
        for order, body in ready:
            _create(writes, api, rules, order, body, result)
    finally:
        writes.flush()


def _prepare(writes: BatchedWrites, api: Any, rules: McfRules, order: dict[str, Any], row: dict[str, Any] | None,
             now: datetime, result: SyncResult) -> dict[str, Any] | None:
    """The createFulfillmentOrder body of an order Amazon can ship (its `creating` row to write), else None."""
    number, mp = order["sage_number"], rules.marketplace
    if row is not None:  # sent before without an answer: Amazon may have it
        found = outbound.get(api, mp, number)
        if found:
            _adopt(writes, number, found, result)
            return None
    items = _items(order)
    if not items:
        result.add("nothing_to_ship", number)
        return None
    address = _address(order["ship_to"])
    preview = outbound.preview(api, mp, address, items, rules.shipping_speed)
    if not preview.get("isFulfillable"):
        reason = f"Amazon cannot fulfil: {_why_not(preview)}"
        payload = {**_kept(address), "items": items, "preview": preview}
        writes.later(lambda con: deadletters.record(con, FLOW, number, reason, payload))
        result.add("dead_lettered", number, reason)
        return None
    fees = preview.get("estimatedFees") or []
    total = sum((Decimal(str(f["amount"]["value"])) for f in fees), Decimal(0))
    shipments = preview.get("fulfillmentPreviewShipments") or [{}]
    writes.later(lambda con: store.upsert_order(
        con, number, sage_number=number, marketplace_id=mp, state="creating", shipping_speed=rules.shipping_speed,
        estimated_fees=str(total), fees_currency=fees[0]["amount"]["currencyCode"] if fees else "",
        latest_arrival=shipments[0].get("latestArrivalDate") or "", submitted_at=now))
    return {"sellerFulfillmentOrderId": number, "displayableOrderId": number,
            "displayableOrderDate": order["order_date"].isoformat() + "T00:00:00Z",
            "displayableOrderComment": rules.comment, "shippingSpeedCategory": rules.shipping_speed,
            "fulfillmentPolicy": rules.fulfillment_policy, "destinationAddress": address, "items": items}


def _create(writes: BatchedWrites, api: Any, rules: McfRules, order: dict[str, Any], body: dict[str, Any],
            result: SyncResult) -> None:
    number, mp = order["sage_number"], rules.marketplace
    try:
        outbound.create(api, mp, body)
    except SpApiError as exc:
        if exc.status != 400:
            raise  # transient: the `creating` row makes the next run ask Amazon first
        found = outbound.get(api, mp, number) if "already exists" in str(exc).lower() else None
        if found:  # a retry after a lost reply: Amazon has it once
            _adopt(writes, number, found, result)
            return
        reason = f"Amazon refused the order: {exc}"
        payload = {**_kept(body["destinationAddress"]), "items": body["items"],
                   "request": {k: v for k, v in body.items() if k != "destinationAddress"}}

        def refused(con: Any) -> None:
            store.delete_order(con, number)
            deadletters.record(con, FLOW, number, reason, payload)

        writes.later(refused)
        result.add("dead_lettered", number, reason)
        return

    def created(con: Any) -> None:
        store.upsert_order(con, number, state="created", amazon_status="Received")
        store.forget_address(con, number)
        deadletters.resolve(con, FLOW, number)

    writes.later(created)
    result.add("created", number, body["shippingSpeedCategory"])


def _adopt(writes: BatchedWrites, number: str, found: dict[str, Any], result: SyncResult) -> None:
    fo = found.get("fulfillmentOrder") or {}

    def adopted(con: Any) -> None:
        store.upsert_order(con, number, state="created", amazon_status=fo.get("fulfillmentOrderStatus"),
                           status_updated=fo.get("statusUpdatedDate"))
        store.forget_address(con, number)
        deadletters.resolve(con, FLOW, number)

    writes.later(adopted)
    result.add("adopted", number, str(fo.get("fulfillmentOrderStatus")))


def _cancel(open_write: OpenWrite, api: Any, rules: McfRules, number: str, row: dict[str, Any],
            result: SyncResult) -> None:
    key = f"{number}/cancel"
    try:
        outbound.cancel(api, row["marketplace_id"] or rules.marketplace, number)
    except SpApiError as exc:
        if exc.status not in (400, 404):
            raise
        if exc.status == 404 and row["state"] == "creating":  # its creation never reached Amazon
            with open_write() as con:
                store.delete_order(con, number)
            result.add("never_created", number)
            return
        reason = f"Amazon refused the cancellation: {exc}"
        with open_write() as con:
            store.upsert_order(con, number, state="cancel_refused")
            deadletters.record(con, FLOW, key, reason, {"sage_number": number, "amazon_status": row["amazon_status"]})
        result.add("cancel_refused", number, reason)
        return
    with open_write() as con:
        store.upsert_order(con, number, amazon_status="Cancelled")
        deadletters.resolve(con, FLOW, key)
    result.add("cancelled", number)


def _follow(open_write: OpenWrite, api: Any, rules: McfRules, result: SyncResult) -> None:
    with open_write() as con:
        known = store.mcf_orders(con)
    unfinished = {k: r for k, r in known.items() if r["state"] != "creating" and r["amazon_status"] not in FINAL}
    detail = [k for k, r in unfinished.items() if not r["status_updated"]]
    dated = [r["status_updated"] for r in unfinished.values() if r["status_updated"]]
    changed: dict[str, dict[str, Any]] = {}
    if dated:
        for fo in outbound.list_since(api, rules.marketplace, min(dated)):
            sfoid = fo.get("sellerFulfillmentOrderId")
            if sfoid in unfinished and fo.get("fulfillmentOrderStatus") != unfinished[sfoid]["amazon_status"]:
                changed[sfoid] = fo
    writes = BatchedWrites(open_write)
    for sfoid, fo in changed.items():
        if fo.get("fulfillmentOrderStatus") in DETAILED:
            detail.append(sfoid)
        else:
            writes.later(lambda con, sfoid=sfoid, fo=fo: store.upsert_order(
                con, sfoid, amazon_status=fo.get("fulfillmentOrderStatus"), status_updated=fo.get("statusUpdatedDate")))
            result.add("status", sfoid, str(fo.get("fulfillmentOrderStatus")))
    try:
        for n, sfoid in enumerate(sorted(set(detail)), start=1):
            found = outbound.get(api, known[sfoid]["marketplace_id"] or rules.marketplace, sfoid)
            if found:
                _record_detail(writes, sfoid, found, result)
            if n % CHUNK == 0:
                writes.flush()
    finally:
        writes.flush()


def _record_detail(writes: BatchedWrites, sfoid: str, found: dict[str, Any], result: SyncResult) -> None:
    fo = found.get("fulfillmentOrder") or {}
    status = fo.get("fulfillmentOrderStatus")
    writes.later(lambda con: _store_detail(con, sfoid, found, fo, status))
    result.add("status", sfoid, str(status))


def _store_detail(con: Any, sfoid: str, found: dict[str, Any], fo: dict[str, Any], status: Any) -> None:
    store.upsert_order(con, sfoid, amazon_status=status, status_updated=fo.get("statusUpdatedDate"))
    for shipment in found.get("fulfillmentShipments") or []:
        packages = shipment.get("fulfillmentShipmentPackage") or [{}]
        store.put_shipment(con, sfoid, {
            "amazon_shipment_id": shipment["amazonShipmentId"], "status": shipment.get("fulfillmentShipmentStatus"),
            "shipping_date": shipment.get("shippingDate") or "", "carrier": packages[0].get("carrierCode") or "",
            "tracking_number": " ".join(p.get("trackingNumber") or "" for p in packages).strip(),
            "items": [{"line_no": int(i["sellerFulfillmentOrderItemId"]), "sku": i.get("sellerSku"),
                       "quantity": int(i.get("quantity") or 0)}
                      for i in shipment.get("fulfillmentShipmentItem") or []]})
    if status in ("Unfulfillable", "Invalid"):
        short = [f"{i.get('sellerSku')}: {i.get('unfulfillableQuantity')} unfulfillable"
                 for i in found.get("fulfillmentOrderItems") or [] if i.get("unfulfillableQuantity")]
        kept = {**found, "fulfillmentOrder": {k: v for k, v in fo.items() if k != "destinationAddress"}}
        deadletters.record(con, FLOW, sfoid, f"Amazon marked the order {status}"
                           + (f" ({'; '.join(short)})" if short else ""), kept)
