"""Posting Amazon orders to Sage exactly once in effect, closing cancelled ones, recording shipments.

Every write follows the posting-ledger protocol (sage_amazon.posting_ledger): the attempt is committed
as 'sending' before Sage is called; 'posted' with Sage's number after. A record left in 'sending' (run
killed, reply lost) is looked up in Sage by its customer order reference before anything is re-sent,
and the connectors themselves adopt an existing order with the same reference. So a run killed at any
point and re-run creates no duplicate and misses nothing.

Per order, the mart row's action (from order_statuses.yaml) decides:
- post : create the Sage order unless the ledger says it is posted; a row with a dead-letter reason
         (unmapped SKU, unknown currency, totals that do not add up, ...) goes to ops.dead_letters
         instead, and so does an order Sage refuses for a business reason;
- wait : Amazon has not confirmed the order yet (Pending): nothing now, the next run looks again;
- close: cancelled at Amazon: close the Sage order if it was posted; never post it otherwise.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sage_amazon import deadletters, posting_ledger
from sage_amazon.sage.errors import (
    SageBusinessError,
    SageConfigurationError,
    SageTransientError,
    SageUnknownOutcome,
)
from sage_amazon.sage.protocol import Address, SageTarget, SalesOrder, SalesOrderLine, Shipment, ShipmentLine

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

FLOW = "orders"  # sales order creation: ledger and dead letters keyed by AmazonOrderId
CLOSE_FLOW = "order_closures"  # ledger of closing cancelled orders, keyed by AmazonOrderId (letters: FLOW)
SHIPMENT_FLOW = "order_shipments"  # shipments recorded on Sage orders, keyed by "<order id>/<shipment id>"

ORDERS_TABLE, LINES_TABLE, SHIPMENTS_TABLE = "marts.sage_orders", "marts.sage_order_lines", "marts.sage_order_shipments"


@dataclass
class LoadResult:
    counts: Counter = field(default_factory=Counter)
    transient: list[str] = field(default_factory=list)  # records to retry (Sage busy / unreachable)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, outcome: str, record: str, detail: str = "") -> None:
        self.counts[outcome] += 1
        if outcome == "retry":
            self.transient.append(record)
        if len(self.samples) < 200:
            self.samples.append({"record": record, "outcome": outcome, "detail": detail[:160]})

    @property
    def posted(self) -> int:
        return self.counts["posted"] + self.counts["adopted"]


@dataclass(frozen=True)
class Retry:
    attempts: int = 4
    base_delay: float = 0.5

    def delay(self, attempt: int) -> float:
        import random

        return random.uniform(0.5, 1.0) * self.base_delay * (2 ** attempt)


# ----------------------------------------------------------------------------------- reading


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def read_orders(con: duckdb.DuckDBPyConnection, order_ids: Iterable[str] | None = None
                ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    where, params = "", []
    if order_ids is not None:
        where, params = "WHERE amazon_order_id IN (SELECT unnest(?::VARCHAR[]))", [sorted(set(order_ids))]
    orders = _rows(con, f"SELECT * FROM {ORDERS_TABLE} {where} ORDER BY purchase_date, amazon_order_id", params)
    lines: dict[str, list[dict[str, Any]]] = {}
    for line in _rows(con, f"SELECT * FROM {LINES_TABLE} {where} ORDER BY amazon_order_id, line_no", params):
        lines.setdefault(line["amazon_order_id"], []).append(line)
    return [(o, lines.get(o["amazon_order_id"], [])) for o in orders]


def build_sales_order(row: dict[str, Any], lines: list[dict[str, Any]]) -> SalesOrder:
    """The Sage sales order of a mart row and its lines (money stays Decimal)."""
    address_lines = tuple(v for v in (row.get("ship_to_line1"), row.get("ship_to_line2"), row.get("ship_to_line3")) if v)
    ship_to = None
    if row.get("ship_to_name") or address_lines or row.get("ship_to_city") or row.get("ship_to_postal_code"):
        ship_to = Address(name=row.get("ship_to_name") or "", lines=address_lines, city=row.get("ship_to_city") or "",
                          state=row.get("ship_to_state") or "", postal_code=row.get("ship_to_postal_code") or "",
                          country=row.get("ship_to_country") or "", phone=row.get("ship_to_phone") or "")
    return SalesOrder(
        customer_order_ref=row["amazon_order_id"],
        customer=row["customer"],
        site=row["site"],
        order_date=row["order_date"],
        currency=row["currency"],
        lines=tuple(
            SalesOrderLine(line_no=int(line["line_no"]), item=line["item"], quantity=Decimal(int(line["quantity"])),
                           gross_price=Decimal(line["gross_price"]), discount=Decimal(line["discount"] or 0),
                           description=(line.get("description") or "")[:60],
                           external_line_ref=line.get("external_line_ref") or "")
            for line in lines),
        freight=Decimal(row.get("freight") or 0),
        ship_to=ship_to,
        order_type=row.get("order_type") or "",
        status="open",
        fulfillment_channel=row.get("fulfillment_channel") or "",
    )


def _payload(row: dict[str, Any], lines: list[dict[str, Any]], order: SalesOrder | None = None) -> dict[str, Any]:
    if order is not None:
        return {"sales_order": asdict(order)}
    keep = ("amazon_order_id", "marketplace_id", "amazon_status", "currency", "order_total", "lines_total",
            "site", "customer", "purchase_date")
    return {"order": {k: row.get(k) for k in keep},
            "lines": [{k: line.get(k) for k in ("line_no", "sku", "item", "quantity", "gross_price", "discount")}
                      for line in lines]}


# ----------------------------------------------------------------------------------- orders


class _Loader:
    def __init__(self, con: duckdb.DuckDBPyConnection, target: SageTarget, retry: Retry,
                 sleep: Callable[[float], None]) -> None:
        self.con = con
        self.target = target
        self.retry = retry
        self.sleep = sleep
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def cur(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self.con.cursor()
            self._local.cur = cur
        return cur

    def add(self, outcome: str, record: str, detail: str = "") -> None:
        with self._lock:
            self.result.add(outcome, record, detail)

    def _sage(self, call: Callable[[], Any]) -> Any:
        """Retry transient Sage errors a few times within the run; others propagate."""
        for attempt in range(self.retry.attempts):
            try:
                return call()
            except SageTransientError:
                if attempt + 1 >= self.retry.attempts:
                    raise
                self.sleep(self.retry.delay(attempt))
        raise AssertionError("unreachable")

    # -- one order -------------------------------------------------------------------------
    def order(self, row: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        oid = row["amazon_order_id"]
        try:
            self._order(row, lines)
        except SageConfigurationError:
            raise
        except SageTransientError as exc:  # Sage stayed busy: the next run (or the op retry) tries again
            self.add("retry", oid, str(exc))
        except SageUnknownOutcome as exc:  # lookup itself failed: stays 'sending', resolved next run
            self.add("retry", oid, f"unknown outcome: {exc}")

    def _order(self, row: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        cur, oid, action = self.cur, row["amazon_order_id"], row["action"]
        entry = posting_ledger.get(cur, FLOW, oid)
        if entry is not None and entry.status == posting_ledger.SENDING:
            # unknown outcome of an earlier attempt: ask Sage before anything else
            number = self._sage(lambda: self.target.find_sales_order(oid))
            if number:
                posting_ledger.posted(cur, FLOW, oid, number)
                entry = posting_ledger.get(cur, FLOW, oid)
                self.add("adopted", oid, f"found {number} after an unknown outcome")
                deadletters.resolve(cur, FLOW, oid)
                if action == "post":
                    return
        posted_number = entry.sage_number if entry is not None and entry.status == posting_ledger.POSTED else None

        if action == "close":
            if posted_number:
                self._close(oid, posted_number)
            else:
                if entry is not None and entry.status == posting_ledger.SENDING:
                    posting_ledger.failed(cur, FLOW, oid, "cancelled at Amazon before it was posted")
                deadletters.resolve(cur, FLOW, oid)
                self.add("cancelled_unposted", oid)
            return
        if posted_number:
            self.add("already_posted", oid, posted_number)
            deadletters.resolve(cur, FLOW, oid)
            return
        if action == "wait":
            self.add("waiting", oid, row.get("amazon_status") or "")
            return
        reason = row.get("dead_letter_reason")
        if action != "post" and not reason:
            reason = f"unknown Amazon status: {row.get('amazon_status')}"
        if reason:
            deadletters.record(cur, FLOW, oid, reason, _payload(row, lines))
            self.add("dead_lettered", oid, reason)
            return
        order = build_sales_order(row, lines)
        digest = posting_ledger.payload_hash(order)
        for attempt in range(self.retry.attempts):
            posting_ledger.start(cur, FLOW, oid, digest)
            try:
                result = self.target.create_sales_order(order)
            except SageBusinessError as exc:
                posting_ledger.failed(cur, FLOW, oid, f"refused: {exc.reason}")
                deadletters.record(cur, FLOW, oid, f"Sage refused: {exc.reason}", _payload(row, lines, order))
                self.add("dead_lettered", oid, f"Sage refused: {exc.reason}")
                return
            except SageTransientError as exc:
                posting_ledger.failed(cur, FLOW, oid, f"transient: {exc}")  # nothing was applied
                if attempt + 1 >= self.retry.attempts:
                    raise
                self.sleep(self.retry.delay(attempt))
                continue
            except SageUnknownOutcome:
                number = self._sage(lambda: self.target.find_sales_order(oid))
                if number:
                    posting_ledger.posted(cur, FLOW, oid, number)
                    deadletters.resolve(cur, FLOW, oid)
                    self.add("adopted", oid, f"{number} found after a lost reply")
                    return
                if attempt + 1 >= self.retry.attempts:
                    raise
                continue  # not applied: send again (the ledger still says 'sending' until then)
            posting_ledger.posted(cur, FLOW, oid, result.sage_number)
            deadletters.resolve(cur, FLOW, oid)
            self.add("posted" if result.created else "adopted", oid, result.sage_number)
            return

    def _close(self, oid: str, number: str) -> None:
        cur = self.cur
        entry = posting_ledger.get(cur, CLOSE_FLOW, oid)
        if entry is not None and entry.status == posting_ledger.POSTED:
            self.add("already_closed", oid, number)
            return
        posting_ledger.start(cur, CLOSE_FLOW, oid, posting_ledger.payload_hash({"close": number}))
        for attempt in range(self.retry.attempts):
            try:
                self.target.close_sales_order(number, reason="Cancelled at Amazon")
                break
            except (SageTransientError, SageUnknownOutcome):  # closing is idempotent: just try again
                if attempt + 1 >= self.retry.attempts:
                    raise
                self.sleep(self.retry.delay(attempt))
            except SageBusinessError as exc:
                posting_ledger.failed(cur, CLOSE_FLOW, oid, f"refused: {exc.reason}")
                # under the orders flow: the order is posted, so it has no other open letter there
                deadletters.record(cur, FLOW, oid, f"Sage refused to close {number}: {exc.reason}",
                                   {"amazon_order_id": oid, "sage_number": number})
                self.add("dead_lettered", oid, exc.reason)
                return
        posting_ledger.posted(cur, CLOSE_FLOW, oid, number)
        deadletters.resolve(cur, FLOW, oid)
        self.add("closed", oid, number)


def load_orders(con: duckdb.DuckDBPyConnection, target: SageTarget, *, order_ids: Iterable[str] | None = None,
                workers: int = 1, retry: Retry | None = None,
                sleep: Callable[[float], None] = time.sleep) -> LoadResult:
    """Post, wait, close or dead-letter every order of marts.sage_orders (or just `order_ids`)."""
    posting_ledger.ensure(con)
    deadletters.ensure(con)
    loader = _Loader(con, target, retry or Retry(), sleep)
    work = read_orders(con, order_ids)
    # the common case of a re-run: orders already posted and still to post (or waiting) need no Sage call
    posted = dict(con.execute("SELECT record_key, sage_number FROM ops.posting_ledger WHERE flow = ? AND status = ?",
                              [FLOW, posting_ledger.POSTED]).fetchall())
    open_letters = {r[0] for r in con.execute(
        "SELECT record_key FROM ops.dead_letters WHERE flow = ? AND status = 'open'", [FLOW]).fetchall()}
    remaining = []
    for row, lines in work:
        oid = row["amazon_order_id"]
        if row["action"] in ("post", "wait") and oid in posted and oid not in open_letters:
            loader.add("already_posted", oid, posted[oid])
        else:
            remaining.append((row, lines))
    work = remaining
    if workers <= 1:
        for row, lines in work:
            loader.order(row, lines)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sage-post") as pool:
            for future in [pool.submit(loader.order, row, lines) for row, lines in work]:
                future.result()
    return loader.result


# ----------------------------------------------------------------------------------- shipments


def load_shipments(con: duckdb.DuckDBPyConnection, target: SageTarget, *, retry: Retry | None = None,
                   sleep: Callable[[float], None] = time.sleep, order_ids: Iterable[str] | None = None,
                   workers: int = 1) -> LoadResult:
    """Record each FBA shipment once on its Sage order (delivery, carrier, tracking, shipped quantities)."""
    posting_ledger.ensure(con)
    deadletters.ensure(con)
    loader = _Loader(con, target, retry or Retry(), sleep)
    where, params = "", []
    if order_ids is not None:
        where, params = "WHERE amazon_order_id IN (SELECT unnest(?::VARCHAR[]))", [sorted(set(order_ids))]
    rows = _rows(con, f"SELECT * FROM {SHIPMENTS_TABLE} {where} ORDER BY amazon_order_id, shipment_id, line_no", params)
    shipments: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        shipments.setdefault((r["amazon_order_id"], r["shipment_id"]), []).append(r)
    work = list(shipments.items())
    if workers <= 1:
        for (oid, shipment_id), lines in work:
            _shipment(loader, oid, shipment_id, lines)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sage-ship") as pool:
            for future in [pool.submit(_shipment, loader, oid, sid, lines) for (oid, sid), lines in work]:
                future.result()
    return loader.result


def _shipment(loader: _Loader, oid: str, shipment_id: str, lines: list[dict[str, Any]]) -> None:
    con, target, retry = loader.cur, loader.target, loader.retry
    key = f"{oid}/{shipment_id}"
    entry = posting_ledger.get(con, SHIPMENT_FLOW, key)
    if entry is not None and entry.status == posting_ledger.POSTED:
        loader.add("already_posted", key)
        return
    order_entry = posting_ledger.get(con, FLOW, oid)
    if order_entry is None or order_entry.status != posting_ledger.POSTED or not order_entry.sage_number:
        loader.add("waiting", key, "the Sage order is not posted (yet)")
        return
    unmatched = [line for line in lines if line.get("line_no") is None]
    if unmatched:
        reason = "shipment line not on the Sage order: " + ", ".join(sorted({str(u.get("sku")) for u in unmatched}))
        deadletters.record(con, SHIPMENT_FLOW, key, reason, {"lines": lines})
        loader.add("dead_lettered", key, reason)
        return
    qty: dict[int, Decimal] = {}
    items: dict[int, str] = {}
    for line in lines:
        qty[int(line["line_no"])] = qty.get(int(line["line_no"]), Decimal(0)) + Decimal(int(line["quantity_shipped"]))
        items[int(line["line_no"])] = line["item"]
    first = lines[0]
    shipment = Shipment(
        customer_order_ref=oid, sage_number=order_entry.sage_number, ship_date=first["ship_date"],
        carrier=first.get("carrier") or "", tracking_number=first.get("tracking_number") or "",
        lines=tuple(ShipmentLine(line_no=n, item=items[n], quantity=q) for n, q in sorted(qty.items())))
    posting_ledger.start(con, SHIPMENT_FLOW, key, posting_ledger.payload_hash(shipment))
    try:
        for attempt in range(retry.attempts):
            try:
                target.record_shipment(shipment)  # idempotent per tracking number
                break
            except (SageTransientError, SageUnknownOutcome):
                if attempt + 1 >= retry.attempts:
                    raise
                loader.sleep(retry.delay(attempt))
    except SageConfigurationError:
        raise
    except SageBusinessError as exc:
        posting_ledger.failed(con, SHIPMENT_FLOW, key, f"refused: {exc.reason}")
        deadletters.record(con, SHIPMENT_FLOW, key, f"Sage refused: {exc.reason}", asdict(shipment))
        loader.add("dead_lettered", key, exc.reason)
        return
    except (SageTransientError, SageUnknownOutcome) as exc:
        posting_ledger.failed(con, SHIPMENT_FLOW, key, f"transient: {exc}")
        loader.add("retry", key, str(exc))
        return
    posting_ledger.posted(con, SHIPMENT_FLOW, key, order_entry.sage_number)
    deadletters.resolve(con, SHIPMENT_FLOW, key)
    loader.add("posted", key, order_entry.sage_number)
