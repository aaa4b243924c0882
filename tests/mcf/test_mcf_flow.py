"""Issue 18.3 from outside, on both ERPs: every eligible Sage order of another channel is one MCF order at Amazon, its
tracking reaches the Sage order; an order Amazon cannot ship is a dead letter with Amazon's reason; a cancelled Sage
order cancels its MCF order; a second run sends nothing."""

from __future__ import annotations

from typing import Any

from tests.mcf.conftest import advance, materialize, mcf_orders, metadata, query, sent

WEB = {"SOW2600001": {"NW-STOVE-CMP": 2}, "SOW2600002": {"NW-LAMP-300": 1, "NW-PAD-UL": 1},
       "SOW2600005": {"NW-BAG-20F": 1}}  # the seeded web orders whose items are at FBA and whose address ships


def _sage_orders(erp: dict[str, Any]) -> dict[str, Any]:
    from sage_amazon.mcf import rules

    mcf = rules.load(erp["name"])
    target = erp["target"]
    orders = target.read_channel_orders(mcf.channels, mcf.other_channels)
    return {o.sage_number: o for o in orders}


def test_web_orders_ship_through_mcf_once_and_their_tracking_reaches_sage(erp: dict[str, Any], amazon: Any) -> None:
    resources = erp["resources"]
    first = materialize(resources)
    assert first.success
    at_amazon = mcf_orders(amazon)
    assert set(at_amazon) == set(WEB)  # one MCF order per eligible Sage order, under the Sage order number
    for number, skus in WEB.items():
        fo = at_amazon[number]
        assert {i["sellerSku"]: i["quantity"] for i in fo["items"]} == skus  # X3's NW-HL300 went as NW-LAMP-300
        assert fo["displayableOrderId"] == number and fo["shippingSpeedCategory"] == "Standard"
    assert at_amazon["SOW2600001"]["destinationAddress"]["postalCode"] == "98101"
    assert at_amazon["SOW2600001"]["destinationAddress"]["name"] == "Pat Doe"
    letters = query(resources, "SELECT record_key, reason FROM ops.dead_letters WHERE flow = 'mcf_orders' "
                               "AND status = 'open'")
    assert letters == [("SOW2600003", "Amazon cannot fulfil: InvalidDestinationAddress")]  # Amazon's reason
    assert metadata(first, "amazon_mcf_orders")["not_at_fba"] == 1  # SOW2600004: a merchant-fulfilled item
    assert all(c.passed for c in first.get_asset_check_evaluations())
    # the customers' names and streets stay in Sage: the warehouse keeps only the unsent order's until it is sent
    kept = query(resources, "SELECT sage_number FROM raw.sage_mcf_orders WHERE ship_to LIKE '%Main St%' "
                            "OR ship_to LIKE '%Pine Ave%' OR ship_to LIKE '%Elm St%' OR ship_to LIKE '%Oak Rd%'")
    assert kept == [("SOW2600003",)]
    assert not query(resources, "SELECT 1 FROM ops.dead_letters WHERE payload LIKE '%Lee Poe%' "
                                "OR payload LIKE '%Oak Rd%'")

    # the customer cancels SOW2600005 in Sage while Amazon is still planning it: its MCF order is cancelled
    erp["target"].close_sales_order("SOW2600005", "customer cancelled")
    erp["target"].close_sales_order("SOW2600003", "customer cancelled")  # the one Amazon could not ship
    assert _sage_orders(erp)["SOW2600005"].status == "cancelled"
    before = sent(amazon)
    second = materialize(resources)
    assert second.success
    assert mcf_orders(amazon)["SOW2600005"]["status"] == "Cancelled"
    assert not query(resources, "SELECT 1 FROM ops.dead_letters WHERE flow = 'mcf_orders' AND status = 'open'")
    assert sent(amazon) == {**before, "cancelFulfillmentOrder": before["cancelFulfillmentOrder"] + 1}

    # Amazon ships the two others: tracking and delivered quantities reach their Sage orders
    advance(amazon, 60)
    third = materialize(resources)
    assert third.success and metadata(third, "sage_mcf_deliveries")["posted"] == 2
    in_sage = _sage_orders(erp)
    for number in ("SOW2600001", "SOW2600002"):
        fo = mcf_orders(amazon)[number]
        assert fo["status"] == "Complete"
        assert in_sage[number].tracking == (fo["shipment"]["tracking"],)
        assert all(ln.shipped == ln.quantity for ln in in_sage[number].lines)
    assert in_sage["SOW2600003"].tracking == () and in_sage["SOW2600005"].tracking == ()

    # nothing new in Sage or at Amazon: a further run sends nothing and posts nothing
    before = sent(amazon)
    fourth = materialize(resources)
    assert fourth.success and sent(amazon) == before
    assert metadata(fourth, "sage_mcf_deliveries")["posted"] == 0
    assert metadata(fourth, "amazon_mcf_orders")["created"] == 0
    assert set(mcf_orders(amazon)) == set(WEB)
    assert _sage_orders(erp)["SOW2600001"].tracking == in_sage["SOW2600001"].tracking  # recorded once
