"""(a) the daily datasets: FBA customer returns, merchant-fulfilled returns and refund transactions (Finances
2024-06-19 listTransactions), compared with the sandbox's world; the returns tied to their orders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sage_amazon.returns import datasets
from tests.returns.conftest import FIRST_DAY, LAST_DAY, materialize, query


def _in_range(when: str) -> bool:
    return FIRST_DAY <= datetime.fromisoformat(when.replace("Z", "+00:00")).date() <= LAST_DAY


def _world_returns(amazon, channel: str) -> list[tuple]:
    return sorted((o["id"], r["sku"], r["qty"], r["disposition"], r["date"][:10])
                  for o in amazon.world.state["orders"].values() if o["channel"] == channel
                  for r in o["returns"] if _in_range(r["date"]))


def test_fba_and_merchant_returns_of_a_range(env, amazon) -> None:
    result = materialize(env, ["amazon_fba_returns", "amazon_mfn_returns"])
    fba = query(env, "SELECT amazon_order_id, sku, quantity, detailed_disposition, CAST(return_date AS VARCHAR), "
                     "license_plate_number, fulfillment_center_id FROM raw.amazon_fba_returns ORDER BY 1, 2")
    truth = _world_returns(amazon, "AFN")
    assert len(truth) >= 5 and {t[3] for t in truth} == {"SELLABLE", "CUSTOMER_DAMAGED"}
    assert [r[:5] for r in fba] == truth
    assert all(r[5].startswith("LPN") and r[6] for r in fba)
    mfn = query(env, "SELECT amazon_order_id, sku, quantity, CAST(return_date AS VARCHAR), refunded_amount, "
                     "order_quantity, currency FROM raw.amazon_mfn_returns ORDER BY 1, 2")
    mfn_truth = _world_returns(amazon, "MFN")
    assert len(mfn_truth) >= 5
    assert [(r[0], r[1], r[2], r[3]) for r in mfn] == [(t[0], t[1], t[2], t[4]) for t in mfn_truth]
    orders = amazon.world.state["orders"]
    for order_id, _sku, _qty, _day, refunded, _oq, currency in mfn:
        event = next(e for e in amazon.world.state["events"].values()
                     if e["kind"] == "Refund" and e.get("order_id") == order_id)
        back = -sum(Decimal(x["amount"]) for x in event["lines"] if x["amount_type"] in ("ItemPrice", "Promotion"))
        assert refunded == back and currency == orders[order_id]["currency"]
    md = result.asset_materializations_for_node("amazon_fba_returns")[0].metadata
    assert md["sp_api_calls"].value >= 3  # one report for the whole range: create, poll(s), document
    # a re-run replaces the days: the same rows, none doubled
    materialize(env, ["amazon_fba_returns", "amazon_mfn_returns"])
    assert query(env, "SELECT count(*) FROM raw.amazon_fba_returns")[0][0] == len(truth)
    assert query(env, "SELECT count(*) FROM raw.amazon_mfn_returns")[0][0] == len(mfn_truth)


def test_refund_transactions_with_amounts_per_item(env, amazon) -> None:
    materialize(env, ["amazon_refund_transactions"])
    events = {e["order_id"]: e for e in amazon.world.state["events"].values()
              if e["kind"] == "Refund" and _in_range(e["posted"])}
    heads = query(env, "SELECT amazon_order_id, transaction_type, total_amount, currency, refund_id, marketplace_id "
                       "FROM raw.amazon_refund_transactions ORDER BY 1")
    assert len(heads) == len(events) >= 10
    for order_id, ttype, total, currency, refund_id, mp in heads:
        e = events[order_id]
        assert ttype == "Refund" and refund_id == e["adjustment_id"] and mp == e["marketplace_id"]
        assert total == sum(Decimal(x["amount"]) for x in e["lines"])
        assert currency == amazon.world.state["orders"][order_id]["currency"]
    items = query(env, "SELECT amazon_order_id, sku, quantity, principal, tax, promotion, withheld_tax, fees, other, "
                       "item_total FROM raw.amazon_refund_items ORDER BY 1")
    assert len(items) == len(events)  # one returned line per refund in the sandbox
    for order_id, sku, qty, principal, tax, promo, withheld, fees, other, total in items:
        lines = events[order_id]["lines"]

        def pick(amount_type, description=None, _lines=lines):
            return sum((Decimal(x["amount"]) for x in _lines if x["amount_type"] == amount_type
                        and (description is None or x["amount_description"] == description)), Decimal("0"))

        assert sku == lines[0]["sku"] and qty == lines[0]["qty"]
        assert principal == pick("ItemPrice", "Principal") < 0
        assert tax == pick("ItemPrice", "Tax")
        assert promo == pick("Promotion") and withheld == pick("ItemWithheldTax") and fees == pick("ItemFees")
        assert other == 0 and total == principal + tax + promo + withheld + fees
    materialize(env, ["amazon_refund_transactions"])  # a re-run: the same rows
    assert query(env, "SELECT count(*) FROM raw.amazon_refund_items")[0][0] == len(items)


def test_returns_tied_to_their_orders(landed_env, amazon) -> None:
    env = landed_env  # orders, returns and refunds of the range landed (conftest)
    result = materialize(env, ["stg_amazon_returns"])
    rows = query(env, "SELECT channel, amazon_order_id, sku, quantity, units_shipped, status, marketplace_id "
                      "FROM staging.stg_amazon_returns ORDER BY 2")
    orders = amazon.world.state["orders"]
    assert len(rows) == len(_world_returns(amazon, "AFN")) + len(_world_returns(amazon, "MFN"))
    for channel, order_id, sku, qty, shipped, status, mp in rows:
        order = orders[order_id]
        assert status == "ok" and channel == order["channel"] and mp == order["marketplace_id"]
        assert shipped == sum(i["qty"] for i in order["items"] if i["sku"] == sku) >= qty
    from assets.returns.checks import refund_not_larger_than_order

    [tied] = result.get_asset_check_evaluations()
    assert tied.passed and refund_not_larger_than_order(warehouse=env["warehouse"]).passed


def test_a_return_of_an_unknown_order_or_sku_and_a_refund_larger_than_the_order(landed_env, amazon) -> None:
    env = landed_env
    with env["warehouse"].write() as con:
        order_id, sku, qty = con.execute("SELECT amazon_order_id, sku, quantity FROM raw.amazon_fba_returns "
                                         "ORDER BY 1 LIMIT 1").fetchone()
        day = FIRST_DAY.isoformat()
        for oid, s, q, ref in (("999-0000000-0000000", "NW-TENT-2P", 1, "LPNX1"), (order_id, "NW-NOPE", 1, "LPNX2"),
                               (order_id, sku, 50, "LPNX3")):
            con.execute("INSERT INTO raw.amazon_fba_returns (return_date, returned_at, amazon_order_id, sku, "
                        "quantity, detailed_disposition, license_plate_number, extracted_at) "
                        "VALUES (?, ?, ?, ?, ?, 'SELLABLE', ?, now())", [day, day, oid, s, q, ref])
        con.execute("UPDATE raw.amazon_refund_items SET principal = principal * 100 WHERE amazon_order_id = ?",
                    [order_id])
    result = materialize(env, ["stg_amazon_returns"], first=FIRST_DAY, last=FIRST_DAY)
    statuses = dict(query(env, "SELECT return_ref, status FROM staging.stg_amazon_returns"))
    assert statuses["LPNX1"] == "unknown_order" and statuses["LPNX2"] == "unknown_sku"
    assert statuses["LPNX3"] == "over_return"
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.metadata["unknown_order"].value == 1
    from assets.returns.checks import refund_not_larger_than_order

    evaluation = refund_not_larger_than_order(warehouse=env["warehouse"])
    assert not evaluation.passed and evaluation.metadata["larger_than_order"].value == 1


def test_parsers() -> None:
    now = datetime(2026, 11, 22)
    rows, drift = datasets.parse_mfn_returns([{"order id": "111-1", "return request date": "07-Jan-2026",
                                               "merchant sku": "S", "return quantity": "2",
                                               "refunded amount": " 12.50 ", "order date": "2025-12-30"}], now)
    assert not drift and rows[0]["return_date"].isoformat() == "2026-01-07" and rows[0]["quantity"] == 2
    assert rows[0]["refunded_amount"] == Decimal("12.50") and rows[0]["order_date"].isoformat() == "2025-12-30"
    assert datasets.parse_mfn_returns([{"order id": "1"}], now)[1]  # drift: columns missing
    assert datasets.parse_fba_returns([{"order-id": "1"}], now)[1]
    assert datasets.amount_kind("ProductCharges", "ShippingTax") == "tax"
    assert datasets.amount_kind("ProductCharges", "Shipping") == "shipping"
    assert datasets.amount_kind("Promotions", "Principal") == "promotion"
    assert datasets.amount_kind("Tax", "MarketplaceFacilitatorTax-Principal") == "withheld_tax"
    assert datasets.amount_kind("AmazonFees", "RefundCommission") == "fees"
    for kind in ("Refund", "A-to-z Guarantee Refund", "Chargeback Refund", "Order_Retrocharge", "SAFE-T Reimbursement"):
        assert datasets.is_refund_type(kind)
    assert not datasets.is_refund_type("Shipment") and not datasets.is_refund_type("ServiceFee")
