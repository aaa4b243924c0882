"""Merchant-fulfilled shipments recorded in Sage, confirmed to Amazon once (Orders v0 confirmShipment).

For each shipment a target offers (`unpushed_shipments()`, Sage 500 today), one package is confirmed:

    packageDetail = {packageReferenceId: <Sage shipment number as a positive integer>,
                     carrierCode, carrierName (only with carrierCode "Other"), shippingMethod,
                     trackingNumber, shipDate (ISO 8601 date-time), orderItems: [{orderItemId, quantity}]}

Exactly once, with the posting ledger (flow `mfn_shipments`, key = Sage shipment number):

- `start` is committed before confirmShipment, `posted` after Amazon's 204, then the shipment is marked
  pushed in Sage (`mark_shipments_pushed`). A shipment whose ledger entry is already posted is only marked
  in Sage again (the mark was lost), never re-sent.
- An entry left 'sending' (crash, lost reply) or failed with an unknown outcome (5xx / timeout after the
  retries) is an unknown outcome: the Amazon order is read (getOrder, and getOrderItems when it is
  PartiallyShipped) and the confirmation adopted when Amazon shows it, re-sent only when Amazon does not.
- Amazon's refusals (400 InvalidInput, 404 unknown order, an order Canceled on Amazon, ...) and what cannot
  be sent at all (no tracking number, a Sage line without an Amazon OrderItemId) become dead letters with
  the reason; the next run tries them again, so a fix in Sage followed by a replay clears them.

The marketplace of an order comes from the warehouse (raw.amazon_orders) when the order was extracted,
else from getOrder, which also tells an order Amazon already shows Shipped (adopted, not re-sent: Amazon
would refuse it) from one it does not know (dead letter).

`api` is a `sage_amazon.amazon.client.SpApi` (rate limiter + retries); anything with the same `call`
works. The warehouse is written in short sessions (`open_write`), never held across a call to Sage or
Amazon. No dagster here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sage_amazon import deadletters, posting_ledger

if TYPE_CHECKING:
    import duckdb

FLOW = "mfn_shipments"
API = "ordersV0"
PACKAGES_TABLE = "ops.mfn_shipment_packages"
PACKAGES_DDL = f"""
CREATE TABLE IF NOT EXISTS {PACKAGES_TABLE} (
    shipment_no VARCHAR NOT NULL,       -- Sage shipment number (ledger key)
    amazon_order_id VARCHAR NOT NULL,
    marketplace_id VARCHAR,
    order_item_id VARCHAR NOT NULL,
    quantity INTEGER NOT NULL,
    sent_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (shipment_no, order_item_id)
)
"""
UNKNOWN_OUTCOME = "unknown outcome"
OUTCOMES = ("pushed", "adopted", "already_pushed", "dead_lettered", "retry_later", "not_attempted")


@dataclass
class PushResult:
    supported: bool = True
    reason: str = ""
    counts: Counter[str] = field(default_factory=lambda: Counter({k: 0 for k in OUTCOMES}))
    samples: list[dict[str, str]] = field(default_factory=list)
    transient: list[str] = field(default_factory=list)

    def add(self, outcome: str, shipment_no: str, order_id: str, detail: str = "") -> None:
        self.counts[outcome] += 1
        if outcome in ("retry_later", "not_attempted"):
            self.transient.append(shipment_no)
        if len(self.samples) < 50:
            self.samples.append({"shipment": shipment_no, "amazon_order_id": order_id, "outcome": outcome,
                                 "detail": detail[:200]})

    @property
    def skipped(self) -> int:
        return self.counts["already_pushed"] + self.counts["adopted"]


class Refused(Exception):
    """What Amazon (or the payload check) refused; the message is the dead letter's reason."""


def supports(target: Any) -> bool:
    return callable(getattr(target, "unpushed_shipments", None)) and callable(
        getattr(target, "mark_shipments_pushed", None))


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    posting_ledger.ensure(con)
    deadletters.ensure(con)
    con.execute(PACKAGES_DDL)


# ------------------------------------------------------------------------------------------ payload


def ship_datetime(ship_date: date | datetime, now: datetime | None = None) -> str:
    """ISO 8601 date-time for Amazon: noon UTC of the Sage ship date, never in the future."""
    now = now or datetime.now(UTC)
    if isinstance(ship_date, datetime):
        at = ship_date if ship_date.tzinfo else ship_date.replace(tzinfo=UTC)
    else:
        at = datetime.combine(ship_date, time(12, 0), UTC)
    at = min(at, now - timedelta(minutes=1))
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def package_detail(s: Any, now: datetime | None = None) -> dict[str, Any]:
    """The confirmShipment packageDetail of a Sage shipment (raises Refused when it cannot be sent)."""
    shipment = s.shipment
    if not (shipment.tracking_number or "").strip():
        raise Refused("no tracking number on the Sage shipment (Amazon requires one)")
    try:
        reference = str(int(s.shipment_no))
    except (TypeError, ValueError):
        raise Refused(f"Sage shipment number {s.shipment_no!r} is not numeric (Amazon's "
                      "packageReferenceId must be a positive number)") from None
    if int(reference) <= 0:
        raise Refused(f"Sage shipment number {s.shipment_no!r} is not a positive number")
    quantities: dict[str, int] = {}
    for line in shipment.lines:
        item_id = (s.order_item_ids.get(line.line_no) or "").strip()
        if not item_id:
            raise Refused(f"Sage line {line.line_no} ({line.item}) has no Amazon OrderItemId")
        qty = Decimal(line.quantity)
        if qty != qty.to_integral_value() or qty <= 0:
            raise Refused(f"Sage line {line.line_no} ({line.item}) ships {qty}: Amazon needs whole units")
        quantities[item_id] = quantities.get(item_id, 0) + int(qty)
    if not quantities:
        raise Refused("the Sage shipment has no lines")
    carrier = s.amazon_carrier
    detail: dict[str, Any] = {
        "packageReferenceId": reference,
        "carrierCode": carrier.carrier_code or "Other",
        "trackingNumber": shipment.tracking_number.strip(),
        "shipDate": ship_datetime(shipment.ship_date, now),
        "orderItems": [{"orderItemId": k, "quantity": v} for k, v in quantities.items()],
    }
    if detail["carrierCode"] == "Other":
        detail["carrierName"] = carrier.carrier_name or shipment.carrier or "Other"
    if carrier.shipping_method:
        detail["shippingMethod"] = carrier.shipping_method
    return detail


# ------------------------------------------------------------------------------------------ Amazon


def _is_refusal(exc: Exception) -> bool:
    status = getattr(exc, "status", None)
    return isinstance(status, int) and 400 <= status < 500 and status not in (401, 403, 408, 429)


def _payload(response: Any) -> dict[str, Any]:
    payload = getattr(response, "payload", response)
    return payload if isinstance(payload, dict) else {}


def _known_marketplace(con: duckdb.DuckDBPyConnection, order_id: str) -> str | None:
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "raw.amazon_orders"):
        return None
    try:
        row = con.execute("SELECT marketplace_id FROM raw.amazon_orders WHERE amazon_order_id = ? "
                          "AND marketplace_id IS NOT NULL LIMIT 1", [order_id]).fetchone()
    except Exception:  # noqa: BLE001 - a raw table without the column: ask Amazon instead
        return None
    return row[0] if row else None


class _Amazon:
    def __init__(self, api: Any) -> None:
        self.api = api
        self.orders: dict[str, dict[str, Any]] = {}

    def order(self, order_id: str, *, fresh: bool = False) -> dict[str, Any]:
        if fresh or order_id not in self.orders:
            self.orders[order_id] = _payload(self.api.call("getOrder", API, "get_order", order_id))
        return self.orders[order_id]

    def shipped_quantities(self, order_id: str, marketplace_id: str | None) -> dict[str, int]:
        out: dict[str, int] = {}
        token = None
        while True:
            kwargs = {"NextToken": token} if token else {}
            payload = _payload(self.api.call("getOrderItems", API, "get_order_items", order_id,
                                             marketplace_id=marketplace_id, **kwargs))
            for item in payload.get("OrderItems") or []:
                out[item["OrderItemId"]] = int(item.get("QuantityShipped") or 0)
            token = payload.get("NextToken")
            if not token:
                return out

    def confirm(self, order_id: str, marketplace_id: str, detail: dict[str, Any]) -> None:
        self.api.call("confirmShipment", API, "confirm_shipment", order_id, marketplace_id=marketplace_id,
                      marketplaceId=marketplace_id, packageDetail=detail)
        self.orders.pop(order_id, None)


# ------------------------------------------------------------------------------------------ the push


def push_shipments(open_write: Any, target: Any, api: Any, *, limit: int | None = None,
                   now: datetime | None = None) -> PushResult:
    """Confirm every unpushed Sage shipment to Amazon once; see the module docstring.

    `open_write()` opens a short warehouse write session (Warehouse.write; an open DuckDB connection is
    accepted too): the warehouse is never held across a call to Sage or Amazon. When Amazon (or Sage)
    stays unavailable past the connector's retry budget, the push stops and raises `Unfinished` (a
    TransientError carrying the result): the shipments not attempted stay unpushed for the next run."""
    from sage_amazon.errors import TransientError, Unfinished, one_line
    from sage_amazon.orders.load import session_opener

    result = PushResult()
    if not supports(target):
        result.supported = False
        result.reason = (f"the {getattr(target, 'name', type(target).__name__)} target does not list its "
                         "merchant-fulfilled shipments (no unpushed_shipments): nothing to confirm")
        return result
    open_write = session_opener(open_write)
    with open_write() as con:
        ensure(con)
    amazon = _Amazon(api)
    shipments = list(target.unpushed_shipments(limit=limit) if limit else target.unpushed_shipments())
    stopped: TransientError | None = None
    for s in shipments:
        key, order_id = str(s.shipment_no), s.shipment.customer_order_ref
        if stopped is not None:
            result.add("not_attempted", key, order_id, "the push stopped before this shipment")
            continue
        try:
            _push_one(open_write, target, amazon, s, result, now)
        except TransientError as exc:  # the connector's budget is spent: stop, the rest stays unpushed
            stopped = exc
            result.add("retry_later", key, order_id, one_line(exc))
    if stopped is not None:
        left = result.counts["retry_later"] + result.counts["not_attempted"]
        result.reason = (f"{one_line(stopped)}; {left} shipment(s) left unconfirmed "
                         f"({result.counts['not_attempted']} not attempted), resumed by the next run")
        raise Unfinished(result.reason, result)
    return result


def _mark(target: Any, shipment_no: str, reference: str) -> None:
    target.mark_shipments_pushed([shipment_no], reference=reference)  # the target cuts it to its column


def _dead_letter(open_write: Any, result: PushResult, key: str, order_id: str, reason: str,
                 payload: dict[str, Any], *, started: bool) -> None:
    with open_write() as con:
        if started:
            posting_ledger.failed(con, FLOW, key, f"refused: {reason}"[:1000])
        deadletters.record(con, FLOW, key, reason[:1000], payload)
    result.add("dead_lettered", key, order_id, reason)


def _posted(open_write: Any, key: str, sage_ref: str, *, start_hash: str | None = None) -> None:
    with open_write() as con:
        if start_hash is not None:
            posting_ledger.start(con, FLOW, key, start_hash)
        posting_ledger.posted(con, FLOW, key, sage_ref)


def _resolved(open_write: Any, key: str) -> None:
    with open_write() as con:
        deadletters.resolve(con, FLOW, key)


def _record_package(con: duckdb.DuckDBPyConnection, key: str, order_id: str, marketplace_id: str,
                    detail: dict[str, Any]) -> None:
    con.execute(f"DELETE FROM {PACKAGES_TABLE} WHERE shipment_no = ?", [key])
    con.executemany(f"INSERT INTO {PACKAGES_TABLE} VALUES (?, ?, ?, ?, ?, now())",
                    [[key, order_id, marketplace_id, i["orderItemId"], i["quantity"]] for i in detail["orderItems"]])


def _earlier_packages(open_write: Any, key: str, order_id: str) -> dict[str, int]:
    """Quantities per OrderItemId of this order's packages confirmed before (posted), other than `key`."""
    with open_write() as con:
        rows = con.execute(
            f"""SELECT p.order_item_id, sum(p.quantity) FROM {PACKAGES_TABLE} p JOIN ops.posting_ledger l
                ON l.flow = ? AND l.record_key = p.shipment_no AND l.status = 'posted'
                WHERE p.amazon_order_id = ? AND p.shipment_no <> ? GROUP BY 1""", [FLOW, order_id, key]).fetchall()
    return {item_id: int(qty) for item_id, qty in rows}


def _already_applied(open_write: Any, amazon: _Amazon, key: str, order_id: str,
                     marketplace_id: str | None, detail: dict[str, Any]) -> bool | None:
    """After an unknown outcome: does Amazon show this package? True / False / None (cannot tell)."""
    status = amazon.order(order_id, fresh=True).get("OrderStatus")
    if status == "Shipped":
        return True
    if status in ("Unshipped", "Pending"):
        return False
    if status != "PartiallyShipped":
        return None
    shipped = amazon.shipped_quantities(order_id, marketplace_id)
    before = _earlier_packages(open_write, key, order_id)
    items = {i["orderItemId"]: i["quantity"] for i in detail["orderItems"]}
    if all(shipped.get(i, 0) >= before.get(i, 0) + q for i, q in items.items()):
        return True
    if all(shipped.get(i, 0) <= before.get(i, 0) for i in items):
        return False
    return None


def _shipped_elsewhere(amazon: _Amazon, order_id: str, *, asked: bool) -> bool:
    """After a refusal: is the order Shipped on Amazon already (confirmed in Seller Central, say)? Only asked
    when the marketplace came from the warehouse, i.e. getOrder was not called before sending."""
    if asked:
        return False
    from sage_amazon.amazon.client import SpApiError

    try:
        return amazon.order(order_id).get("OrderStatus") == "Shipped"
    except SpApiError:
        return False


def _push_one(open_write: Any, target: Any, amazon: _Amazon, s: Any, result: PushResult,
              now: datetime | None) -> None:
    from dataclasses import asdict

    from sage_amazon.amazon.client import SpApiError
    from sage_amazon.errors import PermanentError, TransientError

    key = str(s.shipment_no)
    order_id = s.shipment.customer_order_ref
    with open_write() as con:
        entry = posting_ledger.get(con, FLOW, key)
        marketplace_id = _known_marketplace(con, order_id)
    if entry is not None and entry.status == posting_ledger.POSTED:
        _mark(target, key, entry.sage_number or order_id)  # Amazon has it; only Sage's mark was lost
        _resolved(open_write, key)
        result.add("already_pushed", key, order_id, "confirmed earlier; marked pushed in Sage")
        return
    record = {"shipment_no": key, "amazon_order_id": order_id, "shipment": asdict(s.shipment),
              "amazon_carrier": asdict(s.amazon_carrier), "order_item_ids": dict(s.order_item_ids)}
    try:
        detail = package_detail(s, now)
    except Refused as exc:
        _dead_letter(open_write, result, key, order_id, str(exc), record, started=False)
        return
    record["packageDetail"] = detail
    unknown = entry is not None and (entry.status == posting_ledger.SENDING or (
        entry.status == posting_ledger.FAILED and (entry.message or "").startswith(UNKNOWN_OUTCOME)))
    try:
        if unknown:
            applied = _already_applied(open_write, amazon, key, order_id, marketplace_id, detail)
            if applied is None:
                reason = (f"unknown outcome of an earlier confirmShipment and Amazon's order "
                          f"({amazon.order(order_id).get('OrderStatus')}) does not tell whether it was applied: "
                          "check the order in Seller Central, then resolve or replay")
                _dead_letter(open_write, result, key, order_id, reason, record, started=False)
                return
            if applied:
                _posted(open_write, key, order_id)
                _mark(target, key, order_id)
                _resolved(open_write, key)
                result.add("adopted", key, order_id, "Amazon shows it shipped after an unknown outcome")
                return
        if marketplace_id is None:
            order = amazon.order(order_id)
            marketplace_id = order.get("MarketplaceId")
            status = order.get("OrderStatus")
            if status == "Shipped" and not unknown:
                _posted(open_write, key, order_id, start_hash=posting_ledger.payload_hash(detail))
                _mark(target, key, f"{order_id} already Shipped")
                _resolved(open_write, key)
                result.add("adopted", key, order_id, "Amazon already shows the order Shipped")
                return
            if status == "Canceled":
                _dead_letter(open_write, result, key, order_id, f"Amazon order {order_id} is Canceled", record,
                             started=False)
                return
            if order.get("FulfillmentChannel") == "AFN":
                _dead_letter(open_write, result, key, order_id,
                             f"Amazon order {order_id} is fulfilled by Amazon (AFN)", record, started=False)
                return
            if not marketplace_id:
                _dead_letter(open_write, result, key, order_id, f"getOrder gave no MarketplaceId for {order_id}",
                             record, started=False)
                return
    except (TransientError, PermanentError):
        raise  # Amazon stayed unavailable past the budget, or refused the seller's login: the push stops
    except SpApiError as exc:
        if _is_refusal(exc):
            _dead_letter(open_write, result, key, order_id, f"Amazon refused: {exc}", record, started=False)
        else:
            result.add("retry_later", key, order_id, str(exc))
        return
    with open_write() as con:  # 'sending' is committed before the call
        posting_ledger.start(con, FLOW, key, posting_ledger.payload_hash(detail))
        _record_package(con, key, order_id, marketplace_id, detail)
    try:
        amazon.confirm(order_id, marketplace_id, detail)
    except PermanentError as exc:  # refused login: nothing was applied
        with open_write() as con:
            posting_ledger.failed(con, FLOW, key, f"not sent: {exc}"[:1000])
        raise
    except SpApiError as exc:
        if _is_refusal(exc) and _shipped_elsewhere(amazon, order_id, asked=order_id in amazon.orders):
            _posted(open_write, key, order_id)
            _mark(target, key, f"{order_id} already Shipped")
            _resolved(open_write, key)
            result.add("adopted", key, order_id, f"Amazon already shows the order Shipped ({exc})")
        elif _is_refusal(exc):
            _dead_letter(open_write, result, key, order_id, f"Amazon refused: {exc}", record, started=True)
        else:  # 5xx / throttled after every retry: it may have been applied
            with open_write() as con:
                posting_ledger.failed(con, FLOW, key, f"{UNKNOWN_OUTCOME}: {exc}"[:1000])
            if isinstance(exc, TransientError):
                raise
            result.add("retry_later", key, order_id, str(exc))
        return
    except Exception as exc:  # transport error, timeout: it may have been applied
        with open_write() as con:
            posting_ledger.failed(con, FLOW, key, f"{UNKNOWN_OUTCOME}: {type(exc).__name__}: {exc}"[:1000])
        if isinstance(exc, TransientError):
            raise
        result.add("retry_later", key, order_id, f"{type(exc).__name__}: {exc}")
        return
    _posted(open_write, key, order_id)
    _mark(target, key, f"{order_id}/{detail['packageReferenceId']}")
    _resolved(open_write, key)
    result.add("pushed", key, order_id, f"{detail['carrierCode']} {detail['trackingNumber']}")


def preview(result: PushResult, limit: int = 20) -> str:
    """A markdown table of the first outcomes."""
    if not result.samples:
        return result.reason or "nothing to confirm"
    lines = ["| shipment | Amazon order | outcome | detail |", "|---|---|---|---|"]
    for row in result.samples[:limit]:
        detail = row["detail"].replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {row['shipment']} | {row['amazon_order_id']} | {row['outcome']} | {detail} |")
    return "\n".join(lines)
