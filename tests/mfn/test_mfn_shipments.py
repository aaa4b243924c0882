"""Merchant-fulfilled shipments recorded in Sage 500 are confirmed to Amazon once (confirmShipment), against the
Amazon sandbox (in-process) and a Sage 500 sandbox database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import dagster as dg
import duckdb

from sage_amazon import deadletters, posting_ledger
from sage_amazon.amazon import shipment_confirmation as sc
from sage_amazon.sage.protocol import SalesOrder, SalesOrderLine
from sage_amazon.sandbox.sage500 import ship_order

from .conftest import orders_v0

SAGE_CUSTOMER = {"ATVPDKIKX0DER": ("AMZUS", "US01"), "A1F83G8C2ARO7P": ("AMZGB", "GB01"),
                 "A1PA6795UKMFR9": ("AMZDE", "DE01")}
NOT_IN_SAGE = {"NW-FILTER-SQ", "NW-CHAIR-FLD"}


def mfn_unshipped(amazon: Any, marketplace_id: str, taken: set[str]) -> dict[str, Any]:
    """An MFN order Amazon shows Unshipped whose SKUs are all Sage items."""
    for order in sorted(amazon.world.state["orders"].values(), key=lambda o: o["id"]):
        if (order["channel"] == "MFN" and order["status"] == "Unshipped" and order["marketplace_id"] == marketplace_id
                and order["id"] not in taken and not {i["sku"] for i in order["items"]} & NOT_IN_SAGE):
            taken.add(order["id"])
            return order
    raise AssertionError(f"no MFN Unshipped order left in {marketplace_id}")


TAKEN: set[str] = set()


def sage_order(target: Any, order_id: str, marketplace_id: str, items: list[tuple[str, str, int, str]]) -> str:
    """The Sage 500 sales order the order flow would have created (lines carry the Amazon OrderItemIds)."""
    customer, site = SAGE_CUSTOMER[marketplace_id]
    currency = {"ATVPDKIKX0DER": "USD", "A1F83G8C2ARO7P": "GBP", "A1PA6795UKMFR9": "EUR"}[marketplace_id]
    lines = tuple(SalesOrderLine(n, sku, Decimal(qty), Decimal(price), external_line_ref=item_id)
                  for n, (item_id, sku, qty, price) in enumerate(items, start=1))
    return target.create_sales_order(SalesOrder(order_id, customer, site, date(2026, 11, 20), currency, lines,
                                                fulfillment_channel="MFN")).sage_number


def from_amazon(target: Any, order: dict[str, Any]) -> str:
    return sage_order(target, order["id"], order["marketplace_id"],
                      [(i["order_item_id"], i["sku"], i["qty"], str(i["unit_price"])) for i in order["items"]])


def materialize(resources: dict[str, Any]) -> dict[str, Any]:
    from assets.mfn.assets import amazon_shipment_confirmations

    with dg.instance_for_test() as instance:
        result = dg.materialize([amazon_shipment_confirmations], resources=resources, instance=instance)
    assert result.success
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def amazon_status(amazon: Any, order_id: str, marketplace_id: str) -> str:
    return orders_v0(amazon, marketplace_id).get_order(order_id).payload["OrderStatus"]


def ledger(resources: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    return resources["warehouse"].warehouse.write()


def test_sage_shipments_are_confirmed_to_amazon_once(amazon, sage500_db, target, resources):
    us = mfn_unshipped(amazon, "ATVPDKIKX0DER", TAKEN)
    gb = mfn_unshipped(amazon, "A1F83G8C2ARO7P", TAKEN)
    from_amazon(target, us)
    from_amazon(target, gb)
    us_ship = ship_order(sage500_db.engine, us["id"], "UPS GROUND", "1ZSAGE0000000001", date(2026, 11, 22))
    gb_ship = ship_order(sage500_db.engine, gb["id"], "BEST WAY", "BW-778899", date(2026, 11, 22))
    assert amazon_status(amazon, us["id"], "ATVPDKIKX0DER") == "Unshipped"

    meta = materialize(resources)
    assert (meta["pushed"], meta["dead_lettered"], meta["skipped"]) == (2, 0, 0), meta["preview"]
    assert meta["confirm_shipment_calls"] == 2
    # what Amazon (the sandbox) shows, read back through python-amazon-sp-api
    assert amazon_status(amazon, us["id"], "ATVPDKIKX0DER") == "Shipped"
    assert amazon_status(amazon, gb["id"], "A1F83G8C2ARO7P") == "Shipped"
    assert amazon.confirmations.for_order(us["id"]) == [(us["id"], "UPS", "1ZSAGE0000000001")]
    assert amazon.confirmations.for_order(gb["id"]) == [(gb["id"], "Best Way", "BW-778899")]  # carrierName of Other
    items = orders_v0(amazon).get_order_items(us["id"]).payload["OrderItems"]
    assert all(i["QuantityShipped"] == i["QuantityOrdered"] for i in items)
    assert not target.unpushed_shipments()  # marked pushed in Sage

    again = materialize(resources)  # nothing twice
    assert (again["pushed"], again["confirm_shipment_calls"], again["dead_lettered"]) == (0, 0, 0)
    assert len(amazon.confirmations.for_order(us["id"])) == 1
    with ledger(resources) as con:
        for ship_no in (us_ship, gb_ship):
            entry = posting_ledger.get(con, sc.FLOW, ship_no)
            assert (entry.status, entry.attempts) == ("posted", 1)


def test_refusals_become_dead_letters_with_amazons_reason(amazon, sage500_db, target, resources):
    sage_order(target, "113-0000000-0000404", "ATVPDKIKX0DER", [("11111111111111", "NW-KNIFE-MT", 1, "27.49")])
    unknown_ship = ship_order(sage500_db.engine, "113-0000000-0000404", "FEDEX GROUND", "7700000404", date(2026, 11, 22))
    known = mfn_unshipped(amazon, "ATVPDKIKX0DER", TAKEN)  # known to Amazon, but Sage holds a wrong OrderItemId
    sage_order(target, known["id"], "ATVPDKIKX0DER",
               [("99999999999999", known["items"][0]["sku"], known["items"][0]["qty"], "10.00")])
    wrong_ship = ship_order(sage500_db.engine, known["id"], "USPS PRIORITY", "9400111", date(2026, 11, 22))

    meta = materialize(resources)
    assert (meta["pushed"], meta["dead_lettered"], meta["open_dead_letters"]) == (0, 2, 2), meta["preview"]
    with ledger(resources) as con:
        letters = {d.record_key: d for d in deadletters.open_letters(con, sc.FLOW)}
        assert "Invalid order ID: 113-0000000-0000404" in letters[unknown_ship].reason
        assert "InvalidInput" in letters[wrong_ship].reason and "99999999999999" in letters[wrong_ship].reason
        assert posting_ledger.get(con, sc.FLOW, wrong_ship).status == "failed"
    assert amazon_status(amazon, known["id"], "ATVPDKIKX0DER") == "Unshipped"
    assert len(target.unpushed_shipments()) == 2  # still offered: a fix in Sage plus a replay clears them

    again = materialize(resources)  # re-tried, refused again: same letters, one more attempt each
    assert (again["dead_lettered"], again["open_dead_letters"]) == (2, 2)
    with ledger(resources) as con:
        assert {d.attempts for d in deadletters.open_letters(con, sc.FLOW)} == {2}


class LostReply:
    """The real client, but the reply to confirmShipment is lost after Amazon applied it (a 503 after retries)."""

    def __init__(self, api: Any) -> None:
        self.api = api

    def call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        from sage_amazon.amazon.client import SpApiError

        response = self.api.call(operation, *args, **kwargs)
        if operation == "confirmShipment":
            raise SpApiError("gave up after 3 attempts: HTTP 503", status=503, operation=operation)
        return response


def test_unknown_outcome_is_checked_on_amazon_not_resent(amazon, sage500_db, target, resources):
    order = mfn_unshipped(amazon, "A1PA6795UKMFR9", TAKEN)
    from_amazon(target, order)
    ship_no = ship_order(sage500_db.engine, order["id"], "DHL EXPRESS", "JD0142", date(2026, 11, 22))
    api = resources["sp_api"].get_client()
    with ledger(resources) as con:
        first = sc.push_shipments(con, target, LostReply(api))
        assert first.counts["retry_later"] == 1 and first.transient == [ship_no]
        assert posting_ledger.get(con, sc.FLOW, ship_no).message.startswith(sc.UNKNOWN_OUTCOME)
        assert len(amazon.confirmations.for_order(order["id"])) == 1  # Amazon did apply it

        second = sc.push_shipments(con, target, api)  # getOrder: Shipped -> adopted, not sent again
        assert (second.counts["adopted"], second.counts["pushed"]) == (1, 0)
        assert api.calls["confirmShipment"] == 1 and api.calls["getOrder"] >= 1
        assert len(amazon.confirmations.for_order(order["id"])) == 1
        assert posting_ledger.get(con, sc.FLOW, ship_no).status == "posted"
    assert not target.unpushed_shipments()


def test_left_over_sending_on_an_unshipped_order_is_sent(amazon, sage500_db, target, resources):
    order = mfn_unshipped(amazon, "A1F83G8C2ARO7P", TAKEN)
    from_amazon(target, order)
    ship_no = ship_order(sage500_db.engine, order["id"], "UPS 2ND DAY", "1ZCRASH", date(2026, 11, 22))
    with ledger(resources) as con:  # a crash between start and the call: Amazon never heard of it
        sc.ensure(con)
        posting_ledger.start(con, sc.FLOW, ship_no, "crashed")
    meta = materialize(resources)
    assert (meta["pushed"], meta["confirm_shipment_calls"]) == (1, 1), meta["preview"]
    assert amazon_status(amazon, order["id"], "A1F83G8C2ARO7P") == "Shipped"
    with ledger(resources) as con:
        assert posting_ledger.get(con, sc.FLOW, ship_no).attempts == 2


def test_targets_without_shipments_report_zero_and_why(tmp_path):
    class X3Like:
        name = "x3"

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        result = sc.push_shipments(con, X3Like(), api=None)
    assert not result.supported and sum(result.counts.values()) == 0
    assert "x3" in result.reason and "unpushed_shipments" in result.reason


def test_package_detail_follows_the_model():
    from sage_amazon.sage.protocol import Shipment, ShipmentLine
    from sage_amazon.sage.sage500.rules import AmazonCarrier
    from sage_amazon.sage.sage500.target import SageShipment

    s = SageShipment("0000000042", Shipment("113-1", "0000000007", date(2026, 11, 20), "BEST WAY", "BW1",
                                            (ShipmentLine(1, "NW-KNIFE-MT", Decimal("2")),
                                             ShipmentLine(2, "NW-MAP-KIT", Decimal("1")))),
                     AmazonCarrier("Other", "Best Way"), {1: "501", 2: "502"})
    detail = sc.package_detail(s)
    assert detail == {"packageReferenceId": "42", "carrierCode": "Other", "carrierName": "Best Way",
                      "trackingNumber": "BW1", "shipDate": "2026-11-20T12:00:00Z",
                      "orderItems": [{"orderItemId": "501", "quantity": 2}, {"orderItemId": "502", "quantity": 1}]}
    no_tracking = SageShipment("43", Shipment("113-1", "7", date(2026, 11, 20), "UPS GROUND", ""), s.amazon_carrier,
                               {})
    try:
        sc.package_detail(no_tracking)
    except sc.Refused as exc:
        assert "tracking" in str(exc)
    else:
        raise AssertionError("a shipment without tracking must be refused")


def shipped_mfn(amazon: Any, marketplace_id: str) -> dict[str, Any]:
    for order in sorted(amazon.world.state["orders"].values(), key=lambda o: o["id"]):
        if (order["channel"] == "MFN" and order["status"] == "Shipped" and order["marketplace_id"] == marketplace_id
                and order["id"] not in TAKEN and not {i["sku"] for i in order["items"]} & NOT_IN_SAGE):
            TAKEN.add(order["id"])
            return order
    raise AssertionError(f"no MFN Shipped order in {marketplace_id}")


def test_orders_amazon_already_shows_shipped_are_adopted(amazon, sage500_db, target, resources):
    asked = shipped_mfn(amazon, "ATVPDKIKX0DER")  # marketplace unknown to the warehouse: getOrder says Shipped
    extracted = shipped_mfn(amazon, "ATVPDKIKX0DER")  # marketplace known: confirmShipment refused, then getOrder
    for order in (asked, extracted):
        from_amazon(target, order)
        ship_order(sage500_db.engine, order["id"], "UPS GROUND", "1ZSELLERCENTRAL", date(2026, 11, 22))
    with ledger(resources) as con:
        con.execute("CREATE TABLE raw.amazon_orders (amazon_order_id VARCHAR, marketplace_id VARCHAR)")
        con.execute("INSERT INTO raw.amazon_orders VALUES (?, 'ATVPDKIKX0DER')", [extracted["id"]])
    before = len(amazon.confirmations.calls)
    meta = materialize(resources)
    assert (meta["pushed"], meta["adopted_from_amazon"], meta["dead_lettered"]) == (0, 2, 0), meta["preview"]
    assert meta["confirm_shipment_calls"] == 1 and len(amazon.confirmations.calls) == before
    assert not target.unpushed_shipments()


def test_x3_target_reports_zero_and_why(amazon_resources):
    from resources.sage import SageResource

    meta = materialize({**amazon_resources, "sage": SageResource(target="x3")})
    assert (meta["supported"], meta["pushed"], meta["skipped"], meta["dead_lettered"]) == (False, 0, 0, 0)
    assert "unpushed_shipments" in meta["reason"]

