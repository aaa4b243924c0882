"""Each shipment Amazon made for an MCF order posted once to its Sage order: delivered quantities, ship date,
carrier (carriers.yaml) and tracking, as the FBA shipment flow posts Amazon's shipments (target.record_shipment,
idempotent per tracking number), through the posting ledger (flow mcf_deliveries). A shipment Sage refuses is a
dead letter with Sage's reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sage_amazon import deadletters, posting_ledger
from sage_amazon.errors import TransientError, one_line
from sage_amazon.mcf import store
from sage_amazon.mcf.fulfil import CHUNK, BatchedWrites, OpenWrite, SyncResult
from sage_amazon.sage.errors import SageBusinessError
from sage_amazon.sage.protocol import Shipment, ShipmentLine

FLOW = "mcf_deliveries"


def shipment_of(row: dict[str, Any], order: dict[str, Any] | None, carrier: str) -> Shipment:
    items = {ln["line_no"]: ln["item"] for ln in (order or {}).get("lines", [])}
    lines = tuple(ShipmentLine(line_no=i["line_no"], item=items.get(i["line_no"], i["sku"]),
                               quantity=Decimal(i["quantity"])) for i in row["items"])
    number = row["sage_number"]
    return Shipment(customer_order_ref=(order or {}).get("customer_order_ref") or number, sage_number=number,
                    ship_date=date.fromisoformat(row["shipping_date"][:10]), carrier=carrier,
                    tracking_number=row["tracking_number"], lines=lines)


def post(open_write: OpenWrite, target: Any, map_carrier: Any) -> SyncResult:
    """map_carrier(amazon carrier code) -> the Sage carrier code."""
    result = SyncResult()
    with open_write() as con:
        posting_ledger.bind(con, target)
        deadletters.ensure(con)
        shipments = store.shipments(con)
        orders = {o["sage_number"]: o for o in store.sage_orders(con)}
        keys = [f"{s['seller_fulfillment_order_id']}/{s['amazon_shipment_id']}" for s in shipments]
        entries = {k: posting_ledger.get(con, FLOW, k) for k in keys}
    todo = []
    for key, row in zip(keys, shipments, strict=True):
        entry = entries[key]
        if entry is not None and entry.status == posting_ledger.POSTED:
            result.add("already_posted", key)
            continue
        todo.append((key, shipment_of(row, orders.get(row["sage_number"]), map_carrier(row["carrier"])), row))
    for first in range(0, len(todo), CHUNK):
        _post_chunk(open_write, target, todo[first:first + CHUNK], result)
    return result


def _post_chunk(open_write: OpenWrite, target: Any, chunk: list[tuple[str, Shipment, dict[str, Any]]],
                result: SyncResult) -> None:
    """The chunk's ledger entries started in one session, the shipments sent, their outcomes in one more session
    (also when Sage fails half way: record_shipment is idempotent per tracking number, a resend records nothing)."""
    writes = BatchedWrites(open_write)
    for key, shipment, _ in chunk:
        writes.later(lambda con, key=key, shipment=shipment: posting_ledger.start(
            con, FLOW, key, posting_ledger.payload_hash(shipment)))
    writes.flush()
    try:
        for key, shipment, row in chunk:
            try:
                target.record_shipment(shipment)
            except SageBusinessError as exc:
                reason = exc.reason

                def refused(con: Any, key: str = key, reason: str = reason, row: dict[str, Any] = row) -> None:
                    posting_ledger.failed(con, FLOW, key, f"refused: {reason}")
                    deadletters.record(con, FLOW, key, f"Sage refused: {reason}", {"shipment": row})

                writes.later(refused)
                result.add("dead_lettered", key, reason)
                continue
            except TransientError as exc:
                message = f"transient: {one_line(exc)}"
                writes.later(lambda con, key=key, message=message: posting_ledger.failed(con, FLOW, key, message))
                raise

            def posted(con: Any, key: str = key, number: str = shipment.sage_number) -> None:
                posting_ledger.posted(con, FLOW, key, number)
                deadletters.resolve(con, FLOW, key)

            writes.later(posted)
            result.add("posted", key, f"{shipment.sage_number} {shipment.carrier} {shipment.tracking_number}")
    finally:
        writes.flush()
