"""Posting Amazon orders to Sage exactly once in effect, closing cancelled ones, recording shipments.

Every write follows the posting-ledger protocol (sage_amazon.posting_ledger): the attempt is committed
as 'sending' before Sage is called; 'posted' with Sage's number after. A record left in 'sending' (run
killed, reply lost) is looked up in Sage by its customer order reference before anything is re-sent,
and the connectors themselves adopt an existing order with the same reference. So a run killed at any
point and re-run creates no duplicate and misses nothing.

The warehouse is never held across a call to Sage: orders are read in one short session, then posted in
chunks; each chunk's 'sending' entries are committed in one short write session before its calls, and its
outcomes in one after (`open_write` opens a short session: Warehouse.write or WarehouseResource.write).
A reader (`sage-amazon deadletter list`, a SQL client) waits at most one such session, not a posting run.
The connectors retry transient failures within their budget (sage_amazon.retrying); when one is still
unavailable after it, the load stops: the chunk's outcomes are recorded, the orders not attempted stay
unposted, and `Unfinished` (a TransientError) says which system, through which setting, and how many
records were left for the next run.

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
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sage_amazon import deadletters, posting_ledger, stopping
from sage_amazon.errors import PermanentError, TransientError, Unfinished, one_line
from sage_amazon.outcomes import Outcomes
from sage_amazon.sage.errors import SageBusinessError, SageUnknownOutcome
from sage_amazon.sage.protocol import Address, SageTarget, SalesOrder, SalesOrderLine, Shipment, ShipmentLine

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

FLOW = "orders"  # sales order creation: ledger and dead letters keyed by AmazonOrderId
CLOSE_FLOW = "order_closures"  # ledger of closing cancelled orders, keyed by AmazonOrderId (letters: FLOW)
SHIPMENT_FLOW = "order_shipments"  # shipments recorded on Sage orders, keyed by "<order id>/<shipment id>"

ORDERS_TABLE, LINES_TABLE, SHIPMENTS_TABLE = "marts.sage_orders", "marts.sage_order_lines", "marts.sage_order_shipments"


OpenWrite = Callable[[], AbstractContextManager]
CHUNK = 16  # orders whose 'sending' is committed together, then posted, then recorded together


@dataclass
class LoadResult(Outcomes):
    SAMPLES: ClassVar[int] = 200
    DETAIL_WIDTH: ClassVar[int | None] = 160
    transient: list[str] = field(default_factory=list)  # records left for the next attempt (Sage unavailable)
    stopped: str = ""  # why the load stopped before the end (a system stayed unavailable), else ""

    def add(self, outcome: str, record: str, detail: str = "", day: date | None = None) -> None:
        super().add(outcome, record, detail, day)
        if outcome in ("retry", "not_attempted"):
            self.transient.append(record)

    @property
    def posted(self) -> int:
        return self.counts["posted"] + self.counts["adopted"]


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


def build_sales_order(row: dict[str, Any], lines: list[dict[str, Any]],
                      billing: tuple[str, bool] = ("", True)) -> SalesOrder:
    """The Sage sales order of a mart row and its lines (money stays Decimal). `billing` is (order type, invoiced)
    from accounts.yaml's revenue source (AccountMap.order_billing): not invoiced, the order gets that type."""
    billing_type, invoiced = billing
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
                           description=line.get("description") or "",  # the target fits its field
                           external_line_ref=line.get("external_line_ref") or "")
            for line in lines),
        freight=Decimal(row.get("freight") or 0),
        tax=Decimal(row.get("tax") or 0) if invoiced else Decimal("0"),
        ship_to=ship_to,
        order_type=(billing_type if not invoiced else "") or row.get("order_type") or "",
        status="open",
        fulfillment_channel=row.get("fulfillment_channel") or "",
        invoiced=invoiced,
    )


def _payload(row: dict[str, Any], lines: list[dict[str, Any]], order: SalesOrder | None = None) -> dict[str, Any]:
    if order is not None:
        return {"sales_order": asdict(order)}
    keep = ("amazon_order_id", "marketplace_id", "amazon_status", "currency", "order_total", "lines_total",
            "site", "customer", "purchase_date")
    return {"order": {k: row.get(k) for k in keep},
            "lines": [{k: line.get(k) for k in ("line_no", "sku", "item", "quantity", "gross_price", "discount")}
                      for line in lines]}


# ----------------------------------------------------------------------------------- the run

Write = Callable[["duckdb.DuckDBPyConnection"], None]


@dataclass
class _Job:
    key: str  # the record (AmazonOrderId, or "<order id>/<shipment id>")
    data: Any
    starts: list[tuple[str, str, str]] = field(default_factory=list)  # (flow, record, payload hash) to mark 'sending'
    was_sending: set[tuple[str, str]] = field(default_factory=set)  # entries already 'sending' (unknown outcome)


class _Run:
    """One load: outcomes counted, ledger writes committed per chunk in short sessions, stopped at the first
    failure that outlived the connector's retry budget (or a permanent one)."""

    def __init__(self, open_write: OpenWrite, target: SageTarget, workers: int) -> None:
        self.open_write, self.target, self.workers = open_write, target, max(1, workers)
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._writes: list[Write] = []
        self._started: dict[str, list[tuple[str, str]]] = {}
        self.transient: TransientError | None = None
        self.permanent: PermanentError | None = None

    # -- outcomes and ledger writes ----------------------------------------------------------
    def add(self, outcome: str, record: str, detail: str = "") -> None:
        with self._lock:
            self.result.add(outcome, record, detail)

    def later(self, *writes: Write) -> None:
        """Ledger / dead-letter writes committed with the chunk's outcomes (after its Sage calls)."""
        with self._lock:
            self._writes.extend(writes)

    def flush(self) -> None:
        with self._lock:
            writes, self._writes = self._writes, []
        if not writes:
            return
        with self.open_write() as con:
            con.execute("BEGIN")
            try:
                for write in writes:
                    write(con)
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise

    def ensure_started(self, job: _Job, flow: str, key: str, digest: str) -> None:
        """'sending' committed now, before the call, unless the chunk already committed it."""
        with self._lock:
            if (flow, key) in self._started.get(job.key, []):
                return
            self._started.setdefault(job.key, []).append((flow, key))
        with self.open_write() as con:
            posting_ledger.start(con, flow, key, digest)

    @property
    def stopped(self) -> bool:
        return self.transient is not None or self.permanent is not None

    def _halt(self, exc: Exception) -> None:
        with self._lock:
            if isinstance(exc, PermanentError):
                self.permanent = self.permanent or exc
            else:
                self.transient = self.transient or exc

    def _release(self, job: _Job, why: str) -> None:
        """The job's 'sending' entries were not sent: 'failed', except those whose earlier outcome is unknown
        (they keep 'sending', so the next run asks Sage before sending)."""
        for flow, key in self._started.get(job.key, []):
            if (flow, key) not in job.was_sending:
                self.later(lambda con, f=flow, k=key: posting_ledger.failed(con, f, k, why))

    # -- the loop ------------------------------------------------------------------------------
    def run(self, jobs: Sequence[_Job], work: Callable[[_Job], None]) -> None:
        for n in range(0, len(jobs), CHUNK):
            chunk = jobs[n:n + CHUNK]
            if not self.stopped:
                try:  # a stop asked by the operator (SIGTERM, Ctrl-C) is honoured here, between chunks
                    with stopping.chunk(f"{len(jobs) - n} record(s) not attempted"):
                        self._run_chunk(chunk, work)
                    continue
                except stopping.Stopped as exc:
                    self._halt(exc)
            for job in chunk:
                self.add("not_attempted", job.key)

    def _run_chunk(self, chunk: Sequence[_Job], work: Callable[[_Job], None]) -> None:
        for job in chunk:
            if job.starts:
                self._started[job.key] = [(f, k) for f, k, _ in job.starts]
                self.later(*[lambda con, f=f, k=k, d=d: posting_ledger.start(con, f, k, d)
                             for f, k, d in job.starts])
        self.flush()  # every 'sending' of the chunk is committed before its first call
        try:
            if self.workers == 1 or len(chunk) == 1:
                for job in chunk:
                    self._guarded(work, job)
            else:
                with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sage-post") as pool:
                    list(pool.map(lambda job: self._guarded(work, job), chunk))
        finally:
            self.flush()  # what was done is recorded, even if a record raised something unexpected

    def _guarded(self, work: Callable[[_Job], None], job: _Job) -> None:
        if self.stopped:
            self.add("not_attempted", job.key)
            self._release(job, "not sent: the load stopped before this record")
            return
        try:
            work(job)
        except PermanentError as exc:
            self._halt(exc)
            self.add("failed", job.key, one_line(exc))
            self._release(job, f"not sent: {one_line(exc)}")
        except TransientError as exc:  # the connector's budget is spent: stop, the rest stays unposted
            self._halt(exc)
            self.add("retry", job.key, one_line(exc))

    def finish(self, what: str) -> LoadResult:
        """The result; raises the permanent error, or `Unfinished` when a system stayed unavailable."""
        self.flush()
        if self.permanent is not None:
            raise self.permanent
        if self.transient is not None:
            counts = self.result.counts
            left = counts["retry"] + counts["not_attempted"]
            self.result.stopped = (f"{one_line(self.transient)}; {left} {what}(s) left unposted "
                                   f"({counts['not_attempted']} not attempted), resumed by the next run")
            raise Unfinished(self.result.stopped, self.result)
        return self.result


def session_opener(warehouse: Any) -> OpenWrite:
    """`open_write` from what a caller has: a callable (Warehouse.write), an object with .write(), or
    (compatibility) an open DuckDB connection, whose cursors are then used: the caller holds the
    warehouse, so readers wait for the whole load."""
    from contextlib import closing

    if hasattr(warehouse, "execute") and hasattr(warehouse, "cursor"):
        return lambda: closing(warehouse.cursor())
    if callable(getattr(warehouse, "write", None)):
        return warehouse.write
    return warehouse


def _entries(con: duckdb.DuckDBPyConnection, flows: Sequence[str], keys: Iterable[str]
             ) -> dict[tuple[str, str], posting_ledger.LedgerEntry]:
    rows = con.execute(
        """SELECT flow, record_key, sage_number, payload_hash, attempts, status, message, updated_at
           FROM ops.posting_ledger WHERE flow IN (SELECT unnest(?::VARCHAR[]))
           AND record_key IN (SELECT unnest(?::VARCHAR[]))""", [list(flows), sorted(set(keys))]).fetchall()
    return {(r[0], r[1]): posting_ledger.LedgerEntry(*r) for r in rows}


def _posted(entry: posting_ledger.LedgerEntry | None) -> str | None:
    return entry.sage_number if entry is not None and entry.status == posting_ledger.POSTED else None


def _set_posted(flow: str, key: str, number: str) -> Write:
    return lambda con: posting_ledger.posted(con, flow, key, number)


def _set_failed(flow: str, key: str, message: str) -> Write:
    return lambda con: posting_ledger.failed(con, flow, key, message)


def _resolve(flow: str, key: str) -> Write:
    return lambda con: deadletters.resolve(con, flow, key)


def _letter(flow: str, key: str, reason: str, payload: Any) -> Write:
    return lambda con: deadletters.record(con, flow, key, reason, payload)


# ----------------------------------------------------------------------------------- orders


@dataclass
class _Order:
    row: dict[str, Any]
    lines: list[dict[str, Any]]
    entry: posting_ledger.LedgerEntry | None
    close_entry: posting_ledger.LedgerEntry | None
    order: SalesOrder | None = None

    @property
    def oid(self) -> str:
        return self.row["amazon_order_id"]

    @property
    def reason(self) -> str | None:
        reason = self.row.get("dead_letter_reason")
        if self.row["action"] not in ("post", "wait", "close") and not reason:
            reason = f"unknown Amazon status: {self.row.get('amazon_status')}"
        return reason


def _order_job(o: _Order, billing: tuple[str, bool] = ("", True)) -> _Job:
    job = _Job(o.oid, o)
    posted_number, action = _posted(o.entry), o.row["action"]
    if o.entry is not None and o.entry.status == posting_ledger.SENDING:
        job.was_sending.add((FLOW, o.oid))
    if action == "post" and not posted_number and not o.reason:
        o.order = build_sales_order(o.row, o.lines, billing)
        job.starts.append((FLOW, o.oid, posting_ledger.payload_hash(o.order)))
    elif action == "close" and posted_number and _posted(o.close_entry) is None:
        job.starts.append((CLOSE_FLOW, o.oid, posting_ledger.payload_hash({"close": posted_number})))
        if o.close_entry is not None and o.close_entry.status == posting_ledger.SENDING:
            job.was_sending.add((CLOSE_FLOW, o.oid))
    return job


def _post_order(run: _Run, job: _Job) -> None:
    o: _Order = job.data
    target, oid, action = run.target, o.oid, o.row["action"]
    posted_number = _posted(o.entry)
    if o.entry is not None and o.entry.status == posting_ledger.SENDING:
        # unknown outcome of an earlier attempt: ask Sage before anything else
        number = target.find_sales_order(oid)
        if number:
            run.later(_set_posted(FLOW, oid, number), _resolve(FLOW, oid))
            run.add("adopted", oid, f"found {number} after an unknown outcome")
            if action == "post":
                return
            posted_number = number

    if action == "close":
        if posted_number:
            _close(run, job, o, posted_number)
        else:
            if o.entry is not None and o.entry.status == posting_ledger.SENDING:
                run.later(_set_failed(FLOW, oid, "cancelled at Amazon before it was posted"))
            run.later(_resolve(FLOW, oid))
            run.add("cancelled_unposted", oid)
        return
    if posted_number:
        run.add("already_posted", oid, posted_number)
        run.later(_resolve(FLOW, oid))
        return
    if action == "wait":
        run.add("waiting", oid, o.row.get("amazon_status") or "")
        return
    if o.reason:
        run.later(_letter(FLOW, oid, o.reason, _payload(o.row, o.lines)))
        run.add("dead_lettered", oid, o.reason)
        return
    order = o.order or build_sales_order(o.row, o.lines)
    run.ensure_started(job, FLOW, oid, posting_ledger.payload_hash(order))
    for send in (1, 2):
        try:
            result = target.create_sales_order(order)
        except SageBusinessError as exc:
            run.later(_set_failed(FLOW, oid, f"refused: {exc.reason}"),
                      _letter(FLOW, oid, f"Sage refused: {exc.reason}", _payload(o.row, o.lines, order)))
            run.add("dead_lettered", oid, f"Sage refused: {exc.reason}")
            return
        except SageUnknownOutcome:
            number = target.find_sales_order(oid)  # a TransientError here leaves 'sending' for the next run
            if number:
                run.later(_set_posted(FLOW, oid, number), _resolve(FLOW, oid))
                run.add("adopted", oid, f"{number} found after a lost reply")
                return
            if send == 2:
                raise  # still 'sending': the next run looks it up first
            continue  # not applied: send again (the ledger says 'sending' until then)
        except TransientError as exc:  # nothing was applied
            run.later(_set_failed(FLOW, oid, f"transient: {one_line(exc)}"))
            raise
        run.later(_set_posted(FLOW, oid, result.sage_number), _resolve(FLOW, oid))
        run.add("posted" if result.created else "adopted", oid, result.sage_number)
        return


def _close(run: _Run, job: _Job, o: _Order, number: str) -> None:
    oid = o.oid
    if _posted(o.close_entry) is not None:
        run.add("already_closed", oid, number)
        return
    run.ensure_started(job, CLOSE_FLOW, oid, posting_ledger.payload_hash({"close": number}))
    for send in (1, 2):
        try:
            run.target.close_sales_order(number, reason="Cancelled at Amazon")
            break
        except SageBusinessError as exc:
            run.later(_set_failed(CLOSE_FLOW, oid, f"refused: {exc.reason}"),
                      # under the orders flow: the order is posted, so it has no other open letter there
                      _letter(FLOW, oid, f"Sage refused to close {number}: {exc.reason}",
                              {"amazon_order_id": oid, "sage_number": number}))
            run.add("dead_lettered", oid, exc.reason)
            return
        except SageUnknownOutcome:
            if send == 2:
                raise  # closing is idempotent: the next run closes it again
        except TransientError as exc:
            run.later(_set_failed(CLOSE_FLOW, oid, f"transient: {one_line(exc)}"))
            raise
    run.later(_set_posted(CLOSE_FLOW, oid, number), _resolve(FLOW, oid))
    run.add("closed", oid, number)


def order_billing(target: SageTarget) -> tuple[str, bool]:
    """(order type, invoiced) of the sales orders for `target` from accounts.yaml's `revenue` (one source of
    revenue): `settlement` gives the target's uninvoiced order type and invoiced False, `sage_invoices` normal
    invoiced orders. A MappingError (a PermanentError: one line) when the map cannot say."""
    from sage_amazon.mapping import MappingError, accounts

    try:
        amap = accounts.load()
        name = getattr(target, "name", "")
        if name not in amap.targets:
            return "", amap.revenue == "sage_invoices"
        return amap.order_billing(name)
    except MappingError as exc:
        raise PermanentError(one_line(exc)) from None


def load_orders(open_write: OpenWrite, target: SageTarget, *, order_ids: Iterable[str] | None = None,
                workers: int = 1, billing: tuple[str, bool] | None = None) -> LoadResult:
    """Post, wait, close or dead-letter every order of marts.sage_orders (or just `order_ids`).

    `billing` (order type, invoiced) defaults to accounts.yaml's revenue source (order_billing): under
    `revenue: settlement` the orders are created with the target's uninvoiced order type, never invoiced.

    `open_write()` opens a short write session (Warehouse.write). Raises `Unfinished` (a TransientError,
    carrying the result) when Sage stayed unavailable, a PermanentError when it refused the login."""
    open_write = session_opener(open_write)
    if billing is None:
        billing = order_billing(target)
    with open_write() as con:
        posting_ledger.bind(con, target)  # another Sage than last time: a fresh ledger, never a silent skip
        deadletters.ensure(con)
        work = read_orders(con, order_ids)
        ids = [row["amazon_order_id"] for row, _ in work]
        entries = _entries(con, (FLOW, CLOSE_FLOW), ids)
        open_letters = {r[0] for r in con.execute(
            "SELECT record_key FROM ops.dead_letters WHERE flow = ? AND status = 'open'", [FLOW]).fetchall()}
    run = _Run(open_write, target, workers)
    jobs = []
    for row, lines in work:
        oid = row["amazon_order_id"]
        entry = entries.get((FLOW, oid))
        if row["action"] in ("post", "wait") and _posted(entry) and oid not in open_letters:
            run.add("already_posted", oid, _posted(entry) or "")  # the common re-run case: no Sage call
            continue
        jobs.append(_order_job(_Order(row, lines, entry, entries.get((CLOSE_FLOW, oid))), billing))
    run.run(jobs, lambda job: _post_order(run, job))
    return run.finish("order")


# ----------------------------------------------------------------------------------- shipments


def load_shipments(open_write: OpenWrite, target: SageTarget, *, order_ids: Iterable[str] | None = None,
                   workers: int = 1) -> LoadResult:
    """Record each FBA shipment once on its Sage order (delivery, carrier, tracking, shipped quantities).
    Same sessions and stopping rule as `load_orders`."""
    open_write = session_opener(open_write)
    with open_write() as con:
        posting_ledger.bind(con, target)  # another Sage than last time: a fresh ledger, never a silent skip
        deadletters.ensure(con)
        where, params = "", []
        if order_ids is not None:
            where, params = "WHERE amazon_order_id IN (SELECT unnest(?::VARCHAR[]))", [sorted(set(order_ids))]
        rows = _rows(con, f"SELECT * FROM {SHIPMENTS_TABLE} {where} "
                          "ORDER BY amazon_order_id, shipment_id, line_no", params)
        shipments: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in rows:
            shipments.setdefault((r["amazon_order_id"], r["shipment_id"]), []).append(r)
        entries = _entries(con, (SHIPMENT_FLOW, FLOW),
                           [f"{o}/{s}" for o, s in shipments] + [o for o, _ in shipments])
    run = _Run(open_write, target, workers)
    jobs = []
    for (oid, shipment_id), lines in shipments.items():
        key = f"{oid}/{shipment_id}"
        entry, order_entry = entries.get((SHIPMENT_FLOW, key)), entries.get((FLOW, oid))
        if _posted(entry) is not None:
            run.add("already_posted", key)
            continue
        if _posted(order_entry) is None:
            run.add("waiting", key, "the Sage order is not posted (yet)")
            continue
        unmatched = [line for line in lines if line.get("line_no") is None]
        if unmatched:
            reason = "shipment line not on the Sage order: " + ", ".join(sorted({str(u.get("sku")) for u in unmatched}))
            run.later(_letter(SHIPMENT_FLOW, key, reason, {"lines": lines}))
            run.add("dead_lettered", key, reason)
            continue
        shipment = _shipment(oid, _posted(order_entry) or "", lines)
        job = _Job(key, shipment, starts=[(SHIPMENT_FLOW, key, posting_ledger.payload_hash(shipment))])
        jobs.append(job)
    run.run(jobs, lambda job: _record_shipment(run, job))
    return run.finish("shipment")


def _shipment(oid: str, sage_number: str, lines: list[dict[str, Any]]) -> Shipment:
    qty: dict[int, Decimal] = {}
    items: dict[int, str] = {}
    for line in lines:
        qty[int(line["line_no"])] = qty.get(int(line["line_no"]), Decimal(0)) + Decimal(int(line["quantity_shipped"]))
        items[int(line["line_no"])] = line["item"]
    first = lines[0]
    return Shipment(
        customer_order_ref=oid, sage_number=sage_number, ship_date=first["ship_date"],
        carrier=first.get("carrier") or "", tracking_number=first.get("tracking_number") or "",
        lines=tuple(ShipmentLine(line_no=n, item=items[n], quantity=q) for n, q in sorted(qty.items())))


def _record_shipment(run: _Run, job: _Job) -> None:
    key, shipment = job.key, job.data
    for send in (1, 2):
        try:
            run.target.record_shipment(shipment)  # idempotent per tracking number
            break
        except SageBusinessError as exc:
            run.later(_set_failed(SHIPMENT_FLOW, key, f"refused: {exc.reason}"),
                      _letter(SHIPMENT_FLOW, key, f"Sage refused: {exc.reason}", asdict(shipment)))
            run.add("dead_lettered", key, exc.reason)
            return
        except SageUnknownOutcome as exc:
            if send == 2:
                run.later(_set_failed(SHIPMENT_FLOW, key, f"transient: {one_line(exc)}"))  # idempotent: resend
                raise
        except TransientError as exc:
            run.later(_set_failed(SHIPMENT_FLOW, key, f"transient: {one_line(exc)}"))
            raise
    run.later(_set_posted(SHIPMENT_FLOW, key, shipment.sage_number), _resolve(SHIPMENT_FLOW, key))
    run.add("posted", key, shipment.sage_number)
