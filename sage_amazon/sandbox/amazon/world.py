"""The sandbox seller's world: orders, inventory, money and settlements, moving with time.

All state lives in `World.state[kind][id]` (JSON-able dicts) and is written through to the Store.
History and live traffic go through the same transitions (`advance`), so a settlement built from
90 days of history and one closed while the sandbox runs follow the same rules.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sage_amazon.sandbox.amazon import seller
from sage_amazon.sandbox.amazon.seller import q, settlement_period
from sage_amazon.sandbox.amazon.store import Store
from sage_amazon.sandbox.amazon.wire import iso, parse_iso, utcnow
from sage_amazon.sandbox.seller_catalog import CATALOG, DEFAULT_MARKETPLACE_IDS, SELLER_ID

KINDS = ("meta", "orders", "events", "settlements", "inventory", "reports", "documents", "feeds",
         "feed_documents", "listings", "fulfillment_orders", "destinations", "subscriptions", "tokens",
         "outbox")
LIVE_WEIGHTS = {"ATVPDKIKX0DER": 0.6, "A1F83G8C2ARO7P": 0.25, "A1PA6795UKMFR9": 0.15}


@dataclass
class WorldOptions:
    seed: int = 42
    history_days: int = 90
    now: datetime | None = None  # anchor of the generated history; default: the real clock
    marketplace_ids: tuple[str, ...] = DEFAULT_MARKETPLACE_IDS
    order_rate: float = 1.0  # live orders per minute (0: none)
    time_scale: float = 1.0  # >1 speeds up live processing (reports, order moves) and rate-limit refills


class World:
    def __init__(self, data_dir: Path, options: WorldOptions, clock: Callable[[], datetime] = utcnow) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.options = options
        self.clock = clock
        self.lock = threading.RLock()
        self.store = Store(self.data_dir / "state.sqlite")
        self.state: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
        self._dirty: set[tuple[str, str]] = set()
        self.notify_enabled = False  # history produces no notifications
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        # before the history: its first 6-hour step may come before any order (on some days the seed places
        # none in the first hours), and advance() walks the open orders
        self._open_orders: set[str] = set()
        meta = self.store.get("meta", "world")
        if meta is None:
            self._generate()
        else:
            for kind in KINDS:
                self.state[kind] = dict(self.store.all(kind))
        self.notify_enabled = True
        self._open_orders = {oid for oid, o in self.state["orders"].items() if not self._terminal(o)}

    # ----------------------------------------------------------------- persistence
    @property
    def meta(self) -> dict[str, Any]:
        return self.state["meta"]["world"]

    def save(self, kind: str, doc_id: str) -> None:
        self._dirty.add((kind, doc_id))

    def put(self, kind: str, doc_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        self.state[kind][doc_id] = doc
        self.save(kind, doc_id)
        return doc

    def flush(self) -> None:
        with self.lock:
            if not self._dirty:
                return
            by_kind: dict[str, list[tuple[str, Any]]] = {}
            for kind, doc_id in sorted(self._dirty):
                doc = self.state[kind].get(doc_id)
                if doc is None:
                    self.store.delete(kind, doc_id)
                else:
                    by_kind.setdefault(kind, []).append((doc_id, doc))
            for kind, items in by_kind.items():
                self.store.put_many(kind, items)
            self._dirty.clear()

    def next_id(self, name: str, start: int = 1) -> int:
        counters = self.meta.setdefault("counters", {})
        counters[name] = counters.get(name, start - 1) + 1
        self.save("meta", "world")
        return counters[name]

    def close(self) -> None:
        self.flush()
        self.store.close()

    # ----------------------------------------------------------------- history
    def _generate(self) -> None:
        opts = self.options
        now = (opts.now or self.clock()).replace(microsecond=0)
        start = (now - timedelta(days=opts.history_days)).replace(hour=0, minute=0, second=0)
        self.put("meta", "world", {
            "seed": opts.seed, "generated_at": iso(now), "history_start": iso(start),
            "marketplace_ids": list(opts.marketplace_ids), "counters": {}, "closed_until": {},
            "reserve": {}, "days_done": {}, "live_orders": 0, "next_live_at": None,
        })
        for mp in opts.marketplace_ids:
            for cat in CATALOG:
                if cat.fba:
                    rng = random.Random(f"{opts.seed}:stock:{mp}:{cat.sku}")
                    self.put("inventory", f"{mp}|{cat.sku}", {
                        "marketplace_id": mp, "sku": cat.sku, "fulfillable": rng.randint(150, 400),
                        "reserved": 0, "unfulfillable": 0, "researching": 0, "inbound": [],
                        "updated": iso(start)})
                self.put("listings", f"{mp}|{cat.sku}", {
                    "marketplace_id": mp, "sku": cat.sku, "status": ["BUYABLE", "DISCOVERABLE"],
                    "price": str(cat.price(mp)), "quantity": None if cat.fba else 25,
                    "product_type": cat.product_type, "attributes": {}, "created": iso(start),
                    "updated": iso(start)})
            # first settlement period starting inside the history
            period_start, period_end = settlement_period(mp, start)
            self.meta["closed_until"][mp] = iso(period_end if period_start < start else period_start)
        orders: list[dict[str, Any]] = []
        day = start
        while day <= now:
            for mp in opts.marketplace_ids:
                rng = seller.day_rng(opts.seed, f"orders:{mp}", day)
                lo, hi = seller.ORDERS_PER_DAY.get(mp, (2, 6))
                times = sorted(day + timedelta(seconds=rng.uniform(0, 86400)) for _ in range(rng.randint(lo, hi)))
                for t in times:
                    if t <= now:
                        orders.append(seller.make_order(rng, mp, t.replace(microsecond=0)))
            day += timedelta(days=1)
        orders.sort(key=lambda o: o["purchase_date"])
        # Walk time forward so inventory, postings and settlements happen in order.
        cursor = start
        pending = list(orders)
        index = 0
        while cursor < now:
            step = min(cursor + timedelta(hours=6), now)
            while index < len(pending) and parse_iso(pending[index]["purchase_date"]) <= step:
                self.place_order(pending[index], parse_iso(pending[index]["purchase_date"]))
                index += 1
            self.advance(step)
            cursor = step
        self.advance(now)
        self.meta["next_live_at"] = iso(now)
        self.flush()

    # ----------------------------------------------------------------- orders
    @staticmethod
    def _terminal(order: dict[str, Any]) -> bool:
        if order["status"] == "Canceled":
            return True
        ret = order["plan"].get("return")
        return order["status"] == "Shipped" and (ret is None or bool(order.get("refunded")))

    def place_order(self, order: dict[str, Any], at: datetime) -> dict[str, Any]:
        while order["id"] in self.state["orders"]:  # astronomically rare id collision: re-draw deterministically
            order["id"] = order["id"][:-1] + str((int(order["id"][-1]) + 1) % 10)
        self.put("orders", order["id"], order)
        self._open_orders.add(order["id"])
        if order["channel"] == "AFN":
            for it in order["items"]:
                self._move_stock(order["marketplace_id"], it["sku"], at, fulfillable=-it["qty"], reserved=it["qty"])
        self._order_changed(order, at, "OrderStatusChange")
        return order

    def add_live_order(self, marketplace_id: str | None = None, at: datetime | None = None) -> dict[str, Any]:
        """Place a new order now (what a buyer does); returns the order document."""
        with self.lock:
            at = (at or self.clock()).replace(microsecond=0)
            n = self.meta["live_orders"] = self.meta["live_orders"] + 1
            self.save("meta", "world")
            rng = random.Random(f"{self.options.seed}:live:{n}")
            mps = [m for m in self.options.marketplace_ids]
            mp = marketplace_id or rng.choices(mps, weights=[LIVE_WEIGHTS.get(m, 0.1) for m in mps])[0]
            order = seller.make_order(rng, mp, at, live=True)
            scale = max(self.options.time_scale, 1e-9)
            plan = order["plan"]
            for key in ("unshipped_at", "cancel_at", "ship_at"):
                if plan.get(key):
                    plan[key] = iso(at + (parse_iso(plan[key]) - at) / scale)
            if order["channel"] == "MFN":
                plan["ship_at"] = None  # the seller confirms the shipment (confirmShipment)
            self.place_order(order, at)
            self.flush()
            return order

    def confirm_shipment(self, order: dict[str, Any], carrier: str, tracking: str, ship_date: datetime,
                         items: list[tuple[str, int]]) -> None:
        at = self.clock()
        for item_id, qty in items:
            it = next(i for i in order["items"] if i["order_item_id"] == item_id)
            it["qty_shipped"] = min(it["qty"], it["qty_shipped"] + qty)
        complete = all(i["qty_shipped"] >= i["qty"] for i in order["items"])
        order["shipment"] = {**order["shipment_template"], "carrier": carrier, "tracking": tracking,
                             "date": iso(ship_date)}
        order["status"] = "Shipped" if complete else "PartiallyShipped"
        order["last_update"] = iso(at)
        if complete:
            self._post_order_charges(order, at)
        self.save("orders", order["id"])
        self._order_changed(order, at, "OrderStatusChange")

    def advance(self, now: datetime) -> None:
        """Apply every transition due by `now`: order moves, postings, other fees, settlements."""
        with self.lock:
            for oid in sorted(self._open_orders, key=lambda i: self.state["orders"][i]["purchase_date"]):
                self._advance_order(self.state["orders"][oid], now)
            self._open_orders = {oid for oid in self._open_orders if not self._terminal(self.state["orders"][oid])}
            self._receive_inbound(now)
            self._daily_events(now)
            self._close_settlements(now)

    def _advance_order(self, order: dict[str, Any], now: datetime) -> None:
        plan = order["plan"]
        mp = order["marketplace_id"]
        if plan.get("cancel_at") and order["status"] in ("Pending", "Unshipped"):
            at = parse_iso(plan["cancel_at"])
            if at <= now:
                order["status"] = "Canceled"
                order["last_update"] = iso(at)
                if order["channel"] == "AFN":
                    for it in order["items"]:
                        self._move_stock(mp, it["sku"], at, fulfillable=it["qty"], reserved=-it["qty"])
                self.save("orders", order["id"])
                self._order_changed(order, at, "OrderStatusChange", reason="CancelledBySeller")
                return
        if order["status"] == "Pending" and parse_iso(plan["unshipped_at"]) <= now and not plan.get("cancel_at"):
            at = parse_iso(plan["unshipped_at"])
            order["status"] = "Unshipped"
            order["last_update"] = iso(at)
            self.save("orders", order["id"])
            self._order_changed(order, at, "OrderStatusChange")
        if plan.get("ship_at") and order["status"] in ("Pending", "Unshipped"):
            at = parse_iso(plan["ship_at"])
            if at <= now:
                order["status"] = "Shipped"
                order["last_update"] = iso(at)
                order["shipment"] = {**order["shipment_template"], "date": iso(at)}
                for it in order["items"]:
                    it["qty_shipped"] = it["qty"]
                    if order["channel"] == "AFN":
                        self._move_stock(mp, it["sku"], at, reserved=-it["qty"])
                self._post_order_charges(order, at)
                self.save("orders", order["id"])
                self._order_changed(order, at, "OrderStatusChange")
        ret = plan.get("return")
        if ret and order["status"] == "Shipped":
            if not order["returns"] and parse_iso(ret["at"]) <= now:
                at = parse_iso(ret["at"])
                it = next(i for i in order["items"] if i["order_item_id"] == ret["order_item_id"])
                order["returns"].append({"date": iso(at), "order_item_id": it["order_item_id"], "sku": it["sku"],
                                         "qty": ret["qty"], "reason": ret["reason"], "lpn": ret["lpn"],
                                         "disposition": "SELLABLE" if ret["sellable"] else "CUSTOMER_DAMAGED",
                                         "fc": order["shipment_template"]["fc"]})
                if order["channel"] == "AFN":
                    if ret["sellable"]:
                        self._move_stock(mp, it["sku"], at, fulfillable=ret["qty"])
                    else:
                        self._move_stock(mp, it["sku"], at, unfulfillable=ret["qty"])
                self.save("orders", order["id"])
            if order["returns"] and not order.get("refunded") and parse_iso(ret["refund_at"]) <= now:
                at = parse_iso(ret["refund_at"])
                order["refunded"] = iso(at)
                self._post_event("Refund", mp, at, seller.refund_lines(order, ret), order_id=order["id"],
                                 adjustment_id=ret["adjustment_id"], fulfillment=order["channel"])
                self.save("orders", order["id"])

    def _post_order_charges(self, order: dict[str, Any], at: datetime) -> None:
        self._post_event("Order", order["marketplace_id"], at, seller.order_charge_lines(order),
                         order_id=order["id"], shipment_id=order["shipment_template"]["shipment_id"],
                         fulfillment=order["channel"])

    def _order_changed(self, order: dict[str, Any], at: datetime, change_type: str,
                       reason: str = "") -> None:
        if self.notify_enabled:
            self.emit("ORDER_CHANGE", {"order": order, "at": iso(at), "change_type": change_type,
                                       "reason": reason or f"Order status changed to {order['status']}"})

    # ----------------------------------------------------------------- money
    def _post_event(self, kind: str, mp: str, at: datetime, lines: list[dict[str, Any]], **fields: Any) -> None:
        closed = parse_iso(self.meta["closed_until"][mp])
        posted = max(at, closed)  # never post into a settlement that is already published
        n = self.next_id("event")
        event_id = f"E{n:08d}"
        event = self.put("events", event_id, {"id": event_id, "kind": kind, "marketplace_id": mp,
                                              "posted": iso(posted), "lines": lines, **fields})
        if self.notify_enabled:
            self.emit("TRANSACTION_UPDATE", {"event": event})

    def _daily_events(self, now: datetime) -> None:
        """Fees and reimbursements that are not tied to an order, at most once per marketplace-day."""
        start = parse_iso(self.meta["history_start"])
        for mp in self.options.marketplace_ids:
            done = self.meta["days_done"].get(mp)
            day = parse_iso(done) + timedelta(days=1) if done else start
            currency = seller.marketplace(mp).currency
            while day + timedelta(days=1) <= now:
                rng = seller.day_rng(self.options.seed, f"fees:{mp}", day)
                if day.day == 1:
                    self._post_event("other-transaction", mp, day + timedelta(hours=6), [{
                        "amount_type": "other-transaction", "amount_description": "Subscription Fee",
                        "amount": str(-seller.subscription_fee(currency))}], description="Subscription Fee")
                if day.day == 15:
                    units = sum(v["fulfillable"] + v["reserved"] + v["unfulfillable"]
                                for v in self.state["inventory"].values() if v["marketplace_id"] == mp)
                    self._post_event("other-transaction", mp, day + timedelta(hours=9), [{
                        "amount_type": "other-transaction", "amount_description": "Storage Fee",
                        "amount": str(-seller.storage_fee(currency, units))}], description="Storage Fee")
                if rng.random() < 0.06:
                    cat = rng.choice([c for c in CATALOG if c.fba])
                    amount = q(cat.price(mp) * Decimal("0.55"))
                    self._post_event("other-transaction", mp, day + timedelta(hours=rng.uniform(1, 23)), [{
                        "amount_type": "FBA Inventory Reimbursement", "amount_description": "WAREHOUSE_DAMAGE",
                        "amount": str(amount), "sku": cat.sku, "qty": 1}], description="WAREHOUSE_DAMAGE",
                        adjustment_id=str(rng.randint(10**13, 10**14 - 1)))
                if day.weekday() == 0:
                    spend = q(Decimal(str(round(rng.uniform(12, 55), 2))) * (2 if mp == "ATVPDKIKX0DER" else 1))
                    if mp == "A1PA6795UKMFR9" and rng.random() < 0.25:
                        spend = q(Decimal(str(round(rng.uniform(2600, 4800), 2))))  # a launch campaign
                    self._post_event("ServiceFee", mp, day + timedelta(hours=3), [{
                        "amount_type": "Cost of Advertising", "amount_description": "TransactionTotalAmount",
                        "amount": str(-spend)}], description="Cost of Advertising",
                        invoice_id=f"INV-{mp[-4:]}-{day.strftime('%Y%m%d')}")
                self.meta["days_done"][mp] = iso(day)
                day += timedelta(days=1)
        self.save("meta", "world")

    def _close_settlements(self, now: datetime) -> None:
        for mp in self.options.marketplace_ids:
            while True:
                start = parse_iso(self.meta["closed_until"][mp])
                _, end = settlement_period(mp, start)
                if end > now:
                    break
                self._close_settlement(mp, start, end)

    def _close_settlement(self, mp: str, start: datetime, end: datetime) -> None:
        currency = seller.marketplace(mp).currency
        events = [e for e in self.state["events"].values()
                  if e["marketplace_id"] == mp and start <= parse_iso(e["posted"]) < end]
        events.sort(key=lambda e: (e["posted"], e["id"]))
        recent = end - timedelta(days=7)
        principal = sum((Decimal(line["amount"]) for e in events if e["kind"] == "Order" and
                         parse_iso(e["posted"]) >= recent for line in e["lines"]
                         if line["amount_type"] == "ItemPrice" and line["amount_description"] == "Principal"),
                        Decimal("0"))
        previous = Decimal(self.meta["reserve"].get(mp, "0"))
        current = q(principal * seller.RESERVE_RATE)
        reserve_lines = []
        if previous:
            reserve_lines.append({"amount_type": "other-transaction",
                                  "amount_description": "Previous Reserve Amount Balance", "amount": str(previous)})
        if current:
            reserve_lines.append({"amount_type": "other-transaction",
                                  "amount_description": "Current Reserve Amount", "amount": str(-current)})
        total = sum((Decimal(line["amount"]) for e in events for line in e["lines"]), Decimal("0"))
        total += sum((Decimal(line["amount"]) for line in reserve_lines), Decimal("0"))
        sid = seller.settlement_id(self.options.seed, mp, start)
        doc = {"settlement_id": sid, "marketplace_id": mp, "currency": currency, "start": iso(start),
               "end": iso(end), "deposit": iso(end + timedelta(days=2)), "total": str(q(total)),
               "event_ids": [e["id"] for e in events], "reserve_lines": reserve_lines,
               "reserve_posted": iso(end - timedelta(seconds=1)),
               "group_id": f"{sid}-{mp[-6:]}-FEG"}
        self.put("settlements", sid, doc)
        self.meta["reserve"][mp] = str(current)
        self.meta["closed_until"][mp] = iso(end)
        self.save("meta", "world")
        self.emit("SETTLEMENT_CLOSED", {"settlement": doc})

    # ----------------------------------------------------------------- inventory
    def _move_stock(self, mp: str, sku: str, at: datetime, **delta: int) -> None:
        key = f"{mp}|{sku}"
        inv = self.state["inventory"].get(key)
        if inv is None:
            return
        if delta.get("fulfillable", 0) < 0 and inv["fulfillable"] + delta["fulfillable"] < 0:
            inv["fulfillable"] += 300  # emergency inbound received: FBA never sells stock it has not got
        for name, value in delta.items():
            inv[name] += value
        inv["updated"] = iso(at)
        if inv["fulfillable"] < 40 and not inv["inbound"]:
            inv["inbound"].append({"qty": 250, "shipped": iso(at), "receive_at": iso(at + timedelta(days=4))})
        self.save("inventory", key)
        if self.notify_enabled:
            self.emit("FBA_INVENTORY_AVAILABILITY_CHANGES", {"inventory": inv, "at": iso(at)})

    def _receive_inbound(self, now: datetime) -> None:
        for key, inv in self.state["inventory"].items():
            due = [s for s in inv["inbound"] if parse_iso(s["receive_at"]) <= now]
            if due:
                for shipment in due:
                    inv["fulfillable"] += shipment["qty"]
                    inv["updated"] = shipment["receive_at"]
                inv["inbound"] = [s for s in inv["inbound"] if s not in due]
                self.save("inventory", key)
                if self.notify_enabled:
                    self.emit("FBA_INVENTORY_AVAILABILITY_CHANGES", {"inventory": inv, "at": iso(now)})

    # ----------------------------------------------------------------- live clock
    def tick(self) -> None:
        """Called periodically by the server: live orders arrive, then everything due happens."""
        with self.lock:
            now = self.clock()
            rate = self.options.order_rate
            if rate > 0:
                nxt = self.meta.get("next_live_at")
                due = parse_iso(nxt) if nxt else now
                # after a long stop, do not replay a flood of orders: at most a few catch-up orders
                due = max(due, now - timedelta(minutes=5 / rate))
                while due <= now:
                    self.add_live_order(at=due)
                    rng = random.Random(f"{self.options.seed}:gap:{self.meta['live_orders']}")
                    due = due + timedelta(seconds=rng.expovariate(rate / 60.0))
                self.meta["next_live_at"] = iso(due)
                self.save("meta", "world")
            self.advance(now)
            self.flush()

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener(kind, data)

    # ----------------------------------------------------------------- queries
    def settlement_lines(self, settlement: dict[str, Any]) -> list[dict[str, Any]]:
        """Detail lines of a settlement in file order, each with its transaction context."""
        rows: list[dict[str, Any]] = []
        for event_id in settlement["event_ids"]:
            event = self.state["events"][event_id]
            for line in event["lines"]:
                rows.append({**line, "transaction_type": event["kind"], "order_id": event.get("order_id", ""),
                             "shipment_id": event.get("shipment_id", ""),
                             "adjustment_id": event.get("adjustment_id", "") if event["kind"] != "Order" else "",
                             "fulfillment": event.get("fulfillment", ""), "posted": event["posted"]})
        for line in settlement["reserve_lines"]:
            rows.append({**line, "transaction_type": "other-transaction", "order_id": "", "shipment_id": "",
                         "adjustment_id": "", "fulfillment": "", "posted": settlement["reserve_posted"]})
        return rows

    def orders_sorted(self) -> list[dict[str, Any]]:
        return sorted(self.state["orders"].values(), key=lambda o: (o["purchase_date"], o["id"]))


__all__ = ["World", "WorldOptions", "SELLER_ID"]
