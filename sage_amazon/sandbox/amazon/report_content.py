"""Tab-separated report documents built from the world (orders, shipments, returns, inventory)."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from sage_amazon.sandbox.amazon import settlement_file
from sage_amazon.sandbox.amazon.wire import parse_iso
from sage_amazon.sandbox.seller_catalog import CATALOG, CATALOG_BY_SKU, MARKETPLACES_BY_ID

ORDERS_BY_DATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
ORDERS_BY_UPDATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
FBA_SHIPMENTS = "GET_AMAZON_FULFILLED_SHIPMENTS_DATA_GENERAL"
FBA_RETURNS = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
FBA_MYI = "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA"
MFN_RETURNS = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
REQUESTABLE = (ORDERS_BY_DATE, ORDERS_BY_UPDATE, FBA_SHIPMENTS, FBA_RETURNS, FBA_MYI, MFN_RETURNS)
SETTLEMENT_TYPES = (settlement_file.V2_TYPE, settlement_file.V1_TYPE)

ORDER_COLUMNS = ("amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date", "order-status",
                 "fulfillment-channel", "sales-channel", "order-channel", "ship-service-level", "product-name",
                 "sku", "asin", "item-status", "quantity", "currency", "item-price", "item-tax", "shipping-price",
                 "shipping-tax", "gift-wrap-price", "gift-wrap-tax", "item-promotion-discount",
                 "ship-promotion-discount", "ship-city", "ship-state", "ship-postal-code", "ship-country",
                 "promotion-ids", "is-business-order", "purchase-order-number", "price-designation")
SHIPMENT_COLUMNS = ("amazon-order-id", "merchant-order-id", "shipment-id", "shipment-item-id", "amazon-order-item-id",
                    "merchant-order-item-id", "purchase-date", "payments-date", "shipment-date", "reporting-date",
                    "buyer-email", "buyer-name", "buyer-phone-number", "sku", "product-name", "quantity-shipped",
                    "currency", "item-price", "item-tax", "shipping-price", "shipping-tax", "gift-wrap-price",
                    "gift-wrap-tax", "ship-service-level", "recipient-name", "ship-address-1", "ship-address-2",
                    "ship-address-3", "ship-city", "ship-state", "ship-postal-code", "ship-country",
                    "ship-phone-number", "bill-address-1", "bill-address-2", "bill-address-3", "bill-city",
                    "bill-state", "bill-postal-code", "bill-country", "item-promotion-discount",
                    "ship-promotion-discount", "carrier", "tracking-number", "estimated-arrival-date",
                    "fulfillment-center-id", "fulfillment-channel", "sales-channel")
RETURN_COLUMNS = ("return-date", "order-id", "sku", "asin", "fnsku", "product-name", "quantity",
                  "fulfillment-center-id", "detailed-disposition", "reason", "status", "license-plate-number",
                  "customer-comments")
# the merchant-fulfilled returns report (Seller Central "Returns reports attributes"): headers in words
MFN_RETURN_COLUMNS = ("Order ID", "Order date", "Return request date", "Return request status", "Amazon RMA ID",
                      "Seller RMA ID", "Label type", "Label cost", "Currency code", "Return carrier", "Tracking ID",
                      "Label to be paid by", "A-to-z claim", "Is prime", "ASIN", "Merchant SKU", "Item Name",
                      "Return quantity", "Return reason", "In policy", "Return type", "Resolution", "Invoice number",
                      "Return delivery date", "Order Amount", "Order quantity", "SafeT action reason",
                      "SafeT claim id", "SafeT claim state", "SafeT claim creation time",
                      "SafeT claim reimbursement amount", "Refunded Amount", "Category")
MYI_COLUMNS = ("sku", "fnsku", "asin", "product-name", "condition", "your-price", "mfn-listing-exists",
               "mfn-fulfillable-quantity", "afn-listing-exists", "afn-warehouse-quantity", "afn-fulfillable-quantity",
               "afn-unsellable-quantity", "afn-reserved-quantity", "afn-total-quantity", "per-unit-volume",
               "afn-inbound-working-quantity", "afn-inbound-shipped-quantity", "afn-inbound-receiving-quantity",
               "afn-researching-quantity", "afn-reserved-future-supply", "afn-future-supply-buyable")


def _tsv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    out.write("\t".join(columns) + "\n")
    for row in rows:
        out.write("\t".join(str(row.get(c, "")) for c in columns) + "\n")
    return out.getvalue()


def _iso_offset(value: str) -> str:
    return parse_iso(value).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _item_status(order: dict[str, Any], item: dict[str, Any]) -> str:
    if order["status"] == "Canceled":
        return "Cancelled"
    return "Shipped" if item["qty_shipped"] >= item["qty"] else "Unshipped"


def orders_report(world: Any, mps: list[str], start: datetime, end: datetime, by_update: bool) -> str:
    rows = []
    for order in world.orders_sorted():
        if order["marketplace_id"] not in mps:
            continue
        when = parse_iso(order["last_update"] if by_update else order["purchase_date"])
        if not start <= when < end:
            continue
        mp = MARKETPLACES_BY_ID[order["marketplace_id"]]
        for it in order["items"]:
            cat = CATALOG_BY_SKU[it["sku"]]
            rows.append({
                "amazon-order-id": order["id"], "purchase-date": _iso_offset(order["purchase_date"]),
                "last-updated-date": _iso_offset(order["last_update"]), "order-status": order["status"],
                "fulfillment-channel": "Amazon" if order["channel"] == "AFN" else "Merchant",
                "sales-channel": mp.name, "ship-service-level": order["ship_level"], "product-name": cat.title,
                "sku": it["sku"], "asin": cat.asin, "item-status": _item_status(order, it), "quantity": it["qty"],
                "currency": order["currency"], "item-price": it["item_price"], "item-tax": it["item_tax"],
                "shipping-price": it["shipping"], "shipping-tax": it["shipping_tax"],
                "gift-wrap-price": it["gift_wrap"], "gift-wrap-tax": it["gift_wrap_tax"],
                "item-promotion-discount": it["promo"], "ship-promotion-discount": "0.00",
                "ship-city": order["address"]["City"], "ship-state": order["address"]["StateOrRegion"],
                "ship-postal-code": order["address"]["PostalCode"], "ship-country": order["address"]["CountryCode"],
                "promotion-ids": it["promo_id"], "is-business-order": str(order["is_business"]).lower(),
            })
    return _tsv(ORDER_COLUMNS, rows)


def shipments_report(world: Any, mps: list[str], start: datetime, end: datetime) -> str:
    rows = []
    for order in world.orders_sorted():
        ship = order.get("shipment")
        if order["marketplace_id"] not in mps or order["channel"] != "AFN" or not ship:
            continue
        shipped = parse_iso(ship["date"])
        if not start <= shipped < end:
            continue
        mp = MARKETPLACES_BY_ID[order["marketplace_id"]]
        addr = order["address"]
        for n, it in enumerate(order["items"]):
            rows.append({
                "amazon-order-id": order["id"], "shipment-id": ship["shipment_id"],
                "shipment-item-id": f"{ship['shipment_id']}{n:02d}", "amazon-order-item-id": it["order_item_id"],
                "purchase-date": _iso_offset(order["purchase_date"]),
                "payments-date": _iso_offset(order["purchase_date"]), "shipment-date": _iso_offset(ship["date"]),
                "reporting-date": _iso_offset(ship["date"]), "buyer-email": order["buyer_email"],
                "buyer-name": addr["Name"], "sku": it["sku"], "product-name": CATALOG_BY_SKU[it["sku"]].title,
                "quantity-shipped": it["qty"], "currency": order["currency"], "item-price": it["item_price"],
                "item-tax": it["item_tax"], "shipping-price": it["shipping"], "shipping-tax": it["shipping_tax"],
                "gift-wrap-price": it["gift_wrap"], "gift-wrap-tax": it["gift_wrap_tax"],
                "ship-service-level": order["ship_level"], "recipient-name": addr["Name"],
                "ship-address-1": addr["AddressLine1"], "ship-city": addr["City"],
                "ship-state": addr["StateOrRegion"], "ship-postal-code": addr["PostalCode"],
                "ship-country": addr["CountryCode"], "ship-phone-number": addr["Phone"],
                "item-promotion-discount": it["promo"], "ship-promotion-discount": "0.00",
                "carrier": ship["carrier"], "tracking-number": ship["tracking"],
                "estimated-arrival-date": _iso_offset(ship["date"]), "fulfillment-center-id": ship["fc"],
                "fulfillment-channel": "AFN", "sales-channel": mp.name,
            })
    return _tsv(SHIPMENT_COLUMNS, rows)


def returns_report(world: Any, mps: list[str], start: datetime, end: datetime) -> str:
    rows = []
    for order in world.orders_sorted():
        if order["marketplace_id"] not in mps or order["channel"] != "AFN":
            continue
        for ret in order["returns"]:
            if not start <= parse_iso(ret["date"]) < end:
                continue
            cat = CATALOG_BY_SKU[ret["sku"]]
            rows.append({
                "return-date": _iso_offset(ret["date"]), "order-id": order["id"], "sku": cat.sku, "asin": cat.asin,
                "fnsku": cat.fnsku, "product-name": cat.title, "quantity": ret["qty"],
                "fulfillment-center-id": ret["fc"], "detailed-disposition": ret["disposition"],
                "reason": ret["reason"], "status": "Unit returned to inventory" if ret["disposition"] == "SELLABLE"
                else "Reimbursed", "license-plate-number": ret["lpn"], "customer-comments": "",
            })
    return _tsv(RETURN_COLUMNS, rows)


def _day_month(value: str) -> str:
    return parse_iso(value).strftime("%d-%b-%Y")


def _refunded(order: dict[str, Any], ret: dict[str, Any]) -> str:
    """What the buyer got back (principal and tax less the promotion), as the refund event carries it."""
    from sage_amazon.sandbox.amazon import seller

    return str(-sum((Decimal(x["amount"]) for x in seller.refund_lines(order, ret)
                     if x["amount_type"] in ("ItemPrice", "Promotion")), Decimal("0")))


def mfn_returns_report(world: Any, mps: list[str], start: datetime, end: datetime) -> str:
    """Merchant-fulfilled returns by return request date: the returns of the world's MFN orders."""
    rows = []
    for order in world.orders_sorted():
        if order["marketplace_id"] not in mps or order["channel"] != "MFN":
            continue
        for ret in order["returns"]:
            if not start <= parse_iso(ret["date"]) < end:
                continue
            cat = CATALOG_BY_SKU[ret["sku"]]
            item = next(i for i in order["items"] if i["order_item_id"] == ret["order_item_id"])
            refunded = order.get("refunded")
            rows.append({
                "Order ID": order["id"], "Order date": _day_month(order["purchase_date"]),
                "Return request date": _day_month(ret["date"]),
                "Return request status": "Closed" if refunded else "Approved",
                "Amazon RMA ID": "D" + ret["lpn"][3:], "Label type": "AmazonPrePaidLabel",
                "Currency code": order["currency"], "Return carrier": order["shipment_template"]["carrier"],
                "Label to be paid by": "Customer", "A-to-z claim": "N", "Is prime": "Y" if order["is_prime"] else "N",
                "ASIN": cat.asin, "Merchant SKU": cat.sku, "Item Name": cat.title, "Return quantity": ret["qty"],
                "Return reason": ret["reason"], "In policy": "Y", "Return type": "C-Returns",
                "Resolution": "StandardRefund", "Return delivery date": _day_month(ret["date"]),
                "Order Amount": item["item_price"], "Order quantity": item["qty"],
                "Refunded Amount": _refunded(order, ret) if refunded else "", "Category": cat.product_type,
            })
    return _tsv(MFN_RETURN_COLUMNS, rows)


def inventory_report(world: Any, mps: list[str]) -> str:
    rows = []
    mp = mps[0]
    for cat in CATALOG:
        inv = world.state["inventory"].get(f"{mp}|{cat.sku}")
        listing = world.state["listings"].get(f"{mp}|{cat.sku}", {})
        inbound = sum(s["qty"] for s in inv["inbound"]) if inv else 0
        row = {"sku": cat.sku, "fnsku": cat.fnsku, "asin": cat.asin, "product-name": cat.title, "condition": "New",
               "your-price": listing.get("price", str(cat.price(mp))), "mfn-listing-exists": "No" if cat.fba else "Yes",
               "mfn-fulfillable-quantity": "" if cat.fba else listing.get("quantity") or 0,
               "afn-listing-exists": "Yes" if cat.fba else "No", "per-unit-volume": str(cat.weight_kg * Decimal("0.01"))}
        if inv:
            row.update({"afn-warehouse-quantity": inv["fulfillable"] + inv["unfulfillable"] + inv["reserved"],
                        "afn-fulfillable-quantity": inv["fulfillable"], "afn-unsellable-quantity": inv["unfulfillable"],
                        "afn-reserved-quantity": inv["reserved"],
                        "afn-total-quantity": inv["fulfillable"] + inv["unfulfillable"] + inv["reserved"] + inbound,
                        "afn-inbound-working-quantity": 0, "afn-inbound-shipped-quantity": inbound,
                        "afn-inbound-receiving-quantity": 0, "afn-researching-quantity": inv["researching"],
                        "afn-reserved-future-supply": 0, "afn-future-supply-buyable": 0})
        else:
            continue
        rows.append(row)
    return _tsv(MYI_COLUMNS, rows)


def build(world: Any, report: dict[str, Any]) -> str:
    mps = report.get("marketplaceIds") or list(world.options.marketplace_ids)
    start = parse_iso(report["dataStartTime"])
    end = parse_iso(report["dataEndTime"])
    kind = report["reportType"]
    if kind in (ORDERS_BY_DATE, ORDERS_BY_UPDATE):
        return orders_report(world, mps, start, end, by_update=kind == ORDERS_BY_UPDATE)
    if kind == FBA_SHIPMENTS:
        return shipments_report(world, mps, start, end)
    if kind == FBA_RETURNS:
        return returns_report(world, mps, start, end)
    if kind == MFN_RETURNS:
        return mfn_returns_report(world, mps, start, end)
    return inventory_report(world, mps)


def settlement_text(world: Any, settlement: dict[str, Any], version: int) -> str:
    out = io.StringIO()
    settlement_file.write_settlement(out, settlement, world.settlement_lines(settlement), version=version)
    return out.getvalue()
