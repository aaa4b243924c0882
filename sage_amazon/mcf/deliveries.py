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
from sage_amazon.mcf.fulfil import OpenWrite, SyncResult
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
    for key, row in zip(keys, shipments, strict=True):
        entry = entries[key]
        if entry is not None and entry.status == posting_ledger.POSTED:
            result.add("already_posted", key)
            continue
        shipment = shipment_of(row, orders.get(row["sage_number"]), map_carrier(row["carrier"]))
        with open_write() as con:
            posting_ledger.start(con, FLOW, key, posting_ledger.payload_hash(shipment))
        try:
            target.record_shipment(shipment)  # idempotent per tracking number: a re-send records nothing twice
        except SageBusinessError as exc:
            with open_write() as con:
                posting_ledger.failed(con, FLOW, key, f"refused: {exc.reason}")
                deadletters.record(con, FLOW, key, f"Sage refused: {exc.reason}", {"shipment": row})
            result.add("dead_lettered", key, exc.reason)
            continue
        except TransientError as exc:
            with open_write() as con:
                posting_ledger.failed(con, FLOW, key, f"transient: {one_line(exc)}")
            raise
        with open_write() as con:
            posting_ledger.posted(con, FLOW, key, shipment.sage_number)
            deadletters.resolve(con, FLOW, key)
        result.add("posted", key, f"{shipment.sage_number} {shipment.carrier} {shipment.tracking_number}")
    return result
