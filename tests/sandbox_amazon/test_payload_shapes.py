"""Every generated order, item, financial event and notification of a 90-day seller validates against
Amazon's models (rendered in-process, so all variants are covered: FBA/MFN, cancelled, gift wrap,
promotions, refunds, fees, reimbursements, advertising)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from sage_amazon.sandbox.amazon import finances_api, notifications, orders_api
from sage_amazon.sandbox.amazon.wire import dumps
from sage_amazon.sandbox.amazon.world import World, WorldOptions

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    w = World(tmp_path_factory.mktemp("shapes"), WorldOptions(seed=42, now=NOW))
    yield w
    w.close()


def _wire(body: object) -> object:
    return json.loads(dumps(body))


def test_orders_all_variants(world, models) -> None:
    orders = world.orders_sorted()
    assert {o["status"] for o in orders} >= {"Shipped", "Canceled", "Unshipped"}
    assert any(o["channel"] == "MFN" for o in orders) and any(len(o["items"]) > 1 for o in orders)
    assert any(i["gift_wrap"] != "0" for o in orders for i in o["items"])
    v0 = "orders-api-model/ordersV0.json"
    v26 = "orders-api-model/orders_2026-01-01.json"
    everything = orders_api.INCLUDED
    for order in orders:
        for pii in (set(), {"buyerInfo", "shippingAddress"}):
            models.validate(v0, "getOrder", 200, _wire({"payload": orders_api.order_v0(order, pii)}))
        models.validate(v0, "getOrderItems", 200, _wire({"payload": {
            "AmazonOrderId": order["id"], "OrderItems": [orders_api.order_item_v0(order, i) for i in order["items"]]}}))
        models.validate(v26, "getOrder", 200, _wire({"order": orders_api.order_2026(order, everything, True)}))


def test_financial_events_all_kinds(world, models) -> None:
    events = sorted(world.state["events"].values(), key=lambda e: e["posted"])
    rendered = finances_api.render_events(world, events)
    assert set(rendered) >= {"ShipmentEventList", "RefundEventList", "ServiceFeeEventList", "AdjustmentEventList",
                             "ProductAdsPaymentEventList"}
    model = "finances-api-model/financesV0.json"
    models.validate(model, "listFinancialEvents", 200, _wire({"payload": {"FinancialEvents": rendered}}))
    groups = [{k: v for k, v in g.items() if k != "_mp"} for g in finances_api.groups(world)]
    models.validate(model, "listFinancialEventGroups", 200, _wire({"payload": {"FinancialEventGroupList": groups}}))


def test_notification_payloads(world, models) -> None:
    for order in world.orders_sorted()[-50:]:
        body = notifications.order_change({"order": order, "at": order["last_update"], "reason": "x",
                                           "change_type": "OrderStatusChange"}, "sub", NOW)
        models.validate_notification("OrderChangeNotification.json", body)
    for inv in world.state["inventory"].values():
        body = notifications.inventory_change({"inventory": inv, "at": inv["updated"]}, "sub", NOW)
        models.validate_notification("FBAInventoryAvailabilityChangeNotification.json", body)


def test_money_is_exact_on_the_wire(world) -> None:
    import re

    text = dumps(finances_api.render_events(world, list(world.state["events"].values())))
    amounts = re.findall(r'"CurrencyAmount":([^,}]+)', text)
    assert amounts and all(re.fullmatch(r"-?\d+\.\d{2}", a) for a in amounts), "exact 2-decimal numbers"
