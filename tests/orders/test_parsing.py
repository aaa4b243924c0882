"""Parsing and mapping rules, without servers."""

import gzip
import json
from datetime import date
from decimal import Decimal

import pytest

from sage_amazon.amazon import orders as amazon
from sage_amazon.amazon.notifications import Ignored, OrderChange, parse_message
from sage_amazon.amazon.reports import decode_document, parse_flat_file, parse_fulfilled_shipments
from sage_amazon.amazon.values import money
from sage_amazon.mapping import orders as mapping


@pytest.mark.parametrize("raw,canonical", [
    ("Canceled", "CANCELLED"), ("CANCELLED", "CANCELLED"), ("Cancelled", "CANCELLED"),
    ("PartiallyShipped", "PARTIALLY_SHIPPED"), ("PARTIALLY_SHIPPED", "PARTIALLY_SHIPPED"),
    ("Shipped - Delivered to Buyer", "SHIPPED"), ("PendingAvailability", "PENDING_AVAILABILITY"), ("", ""),
])
def test_every_api_spelling_of_a_status_is_one_canonical_status(raw, canonical):
    assert amazon.canonical_status(raw) == canonical


def test_backfill_windows_are_contiguous_and_at_most_30_days():
    days = [date(2026, 1, 1) + (date(2026, 1, 2) - date(2026, 1, 1)) * i for i in range(65)] + [date(2026, 5, 1)]
    wins = amazon.windows(days)
    assert wins == [(date(2026, 1, 1), date(2026, 1, 30)), (date(2026, 1, 31), date(2026, 3, 1)),
                    (date(2026, 3, 2), date(2026, 3, 6)), (date(2026, 5, 1), date(2026, 5, 1))]


def test_money_from_json_numbers_keeps_cents_exact():
    assert money(19.99) == Decimal("19.99")
    assert money({"amount": "0.1", "currencyCode": "USD"}) == Decimal("0.10")
    assert money({"Amount": 1e-2}) == Decimal("0.01")
    assert money(None) is None and money("junk") is None


def _order_2026(**over):
    order = {
        "orderId": "111-0000001-0000001", "createdTime": "2026-03-04T23:59:59Z", "lastUpdatedTime": "2026-03-05T01:00:00Z",
        "salesChannel": {"marketplaceId": "A1F83G8C2ARO7P", "marketplaceName": "Amazon.co.uk"},
        "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"},
        "proceeds": {"grandTotal": {"amount": "57.97", "currencyCode": "GBP"}},
        "recipient": {"deliveryAddress": {"name": "A B", "addressLine1": "1 High Street", "city": "Leeds",
                                          "postalCode": "LS1 4AP", "countryCode": "GB"}},
        "orderItems": [{"orderItemId": "1", "quantityOrdered": 2,
                        "product": {"sellerSku": " NW-PAD-UL ", "price": {"unitPrice": {"amount": "29.99", "currencyCode": "GBP"}}},
                        "proceeds": {"breakdowns": [
                            {"type": "ITEM", "subtotal": {"amount": "59.98", "currencyCode": "GBP"}},
                            {"type": "SHIPPING", "subtotal": {"amount": "3.99", "currencyCode": "GBP"}},
                            {"type": "DISCOUNT", "subtotal": {"amount": "-6.00", "currencyCode": "GBP"},
                             "detailedBreakdowns": [{"subtype": "ITEM", "value": {"amount": "-6.00", "currencyCode": "GBP"}}]}]}}],
    }
    order.update(over)
    return order


def test_a_2026_order_becomes_order_and_item_rows():
    row, items = amazon.parse_order_2026(_order_2026(), "x", None)
    assert row["partition_date"] == date(2026, 3, 4)  # the UTC purchase day
    assert (row["order_status"], row["fulfillment_channel"], row["currency"]) == ("UNSHIPPED", "MFN", "GBP")
    assert row["order_total"] == Decimal("57.97") and row["ship_city"] == "Leeds"
    (item,) = items
    assert item["sku"] == "NW-PAD-UL" and item["quantity"] == 2
    assert (item["unit_price"], item["item_price"], item["shipping_price"], item["promotion_discount"]) == (
        Decimal("29.99"), Decimal("59.98"), Decimal("3.99"), Decimal("6.00"))
    # the total check the mart makes: price + shipping - discount
    assert item["item_price"] + item["shipping_price"] - item["promotion_discount"] == row["order_total"]


def test_a_2026_order_without_items_is_schema_drift():
    with pytest.raises(amazon.SchemaDrift):
        amazon.parse_order_2026({k: v for k, v in _order_2026().items() if k != "orderItems"}, "x", None)


def test_all_orders_report_rows_group_into_orders_with_lines_keyed_by_sku():
    text = ("amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tfulfillment-channel\tsales-channel\t"
            "sku\tquantity\tcurrency\titem-price\titem-tax\tshipping-price\titem-promotion-discount\tship-city\n"
            "111-1\t2026-03-04T10:00:00+00:00\t2026-03-05T10:00:00+00:00\tShipped\tAmazon\tAmazon.com\tA\t2\tUSD\t20.00\t1.45\t0\t0\tSeattle\n"
            "111-1\t2026-03-04T10:00:00+00:00\t2026-03-05T10:00:00+00:00\tShipped\tAmazon\tAmazon.com\tB\t1\tUSD\t5.50\t0\t0\t0.55\tSeattle\n"
            "111-2\t2026-03-04T11:00:00+00:00\t2026-03-04T11:00:00+00:00\tPending\tMerchant\tAmazon.de\tA\t1\tEUR\t10.00\t0\t4.49\t0\tBerlin\n")
    rows = parse_flat_file(decode_document(gzip.compress(text.encode()), "GZIP", "text/plain; charset=UTF-8"))
    extract = amazon.orders_from_report_rows(rows, marketplace_by_channel={"amazon.com": "ATVPDKIKX0DER",
                                                                           "amazon.de": "A1PA6795UKMFR9"})
    orders = {o["amazon_order_id"]: o for o in extract.orders}
    assert orders["111-1"]["marketplace_id"] == "ATVPDKIKX0DER" and orders["111-1"]["fulfillment_channel"] == "AFN"
    assert orders["111-2"]["order_status"] == "PENDING" and orders["111-2"]["currency"] == "EUR"
    lines = [i for i in extract.items if i["amazon_order_id"] == "111-1"]
    assert [(i["sku"], i["unit_price"], i["promotion_discount"]) for i in lines] == [
        ("A", Decimal("10.00"), Decimal("0")), ("B", Decimal("5.50"), Decimal("0.55"))]
    assert all(i["order_item_id"].startswith(amazon.REPORT_LINE_PREFIX) for i in lines)


def test_report_without_the_needed_columns_is_drift():
    extract = amazon.orders_from_report_rows([{"amazon-order-id": "1", "sku": "A"}])
    assert extract.drift and not extract.orders
    _, problems = parse_fulfilled_shipments([{"amazon-order-id": "1"}])
    assert problems


def test_order_change_notifications_are_parsed_and_junk_is_ignored():
    body = {"NotificationType": "ORDER_CHANGE", "EventTime": "2026-11-20T10:05:00Z",
            "Payload": {"OrderChangeNotification": {"AmazonOrderId": "111-1", "OrderChangeType": "OrderStatusChange",
                                                    "Summary": {"OrderStatus": "Canceled", "MarketplaceId": "M",
                                                                "PurchaseDate": "2026-11-19T23:30:00Z"}}},
            "NotificationMetadata": {"NotificationId": "n-1"}}
    change = parse_message(json.dumps(body))
    assert isinstance(change, OrderChange)
    assert (change.amazon_order_id, change.order_status, change.purchase_day) == ("111-1", "CANCELLED", date(2026, 11, 19))
    wrapped = parse_message(json.dumps({"Type": "Notification", "Message": json.dumps(body)}))
    assert isinstance(wrapped, OrderChange) and wrapped.notification_id == "n-1"
    assert isinstance(parse_message("{"), Ignored)
    assert isinstance(parse_message(json.dumps({**body, "NotificationType": "FEED_PROCESSING_FINISHED"})), Ignored)


def test_sku_mapping_exact_then_alias_and_per_target(tmp_path, monkeypatch):
    monkeypatch.delenv("SAGE_AMAZON_MAPPING_DIR", raising=False)
    rules = mapping.sku_rules("x3")
    assert mapping.map_sku("NW-TENT-2P", ["NW-TENT-2P"], rules) == ("NW-TENT-2P", "exact")
    assert mapping.map_sku("NW-LAMP-300", ["NW-HL300"], rules) == ("NW-HL300", "alias")
    assert mapping.map_sku("NW-FILTER-SQ", ["NW-TENT-2P"], rules) == (None, "unmapped")
    assert mapping.sku_rules("sage500").aliases == {}
    # a partner's file replaces the shipped default
    (tmp_path / "skus.yaml").write_text("exact_match: false\naliases:\n  x3:\n    NW-TENT-2P: TENT\n")
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path))
    rules = mapping.sku_rules("x3")
    assert mapping.map_sku("NW-TENT-2P", ["NW-TENT-2P"], rules) == ("TENT", "alias")
    assert mapping.map_sku("NW-PAD-UL", ["NW-PAD-UL"], rules) == (None, "unmapped")


def test_marketplace_status_and_carrier_maps(monkeypatch):
    monkeypatch.delenv("SAGE_AMAZON_MAPPING_DIR", raising=False)
    rows = {r["marketplace_id"]: r for r in mapping.marketplace_rows("x3")}
    assert (rows["A1F83G8C2ARO7P"]["site"], rows["A1F83G8C2ARO7P"]["customer"], rows["A1F83G8C2ARO7P"]["currency"]) == (
        "GB01", "AMZGB", "GBP")
    actions = {r["amazon_status"]: r["action"] for r in mapping.status_rows()}
    assert (actions["PENDING"], actions["UNSHIPPED"], actions["CANCELLED"]) == ("wait", "post", "close")
    assert mapping.map_carrier(" royal mail ", "sage500") == "ROYAL MAIL 48"
    assert mapping.map_carrier("Pigeon Post", "sage500") == "BEST WAY"
    assert mapping.marketplace_by_channel()["amazon.de"] == "A1PA6795UKMFR9"


def test_an_empty_day_blocks_only_where_orders_were_expected(tmp_path):
    import duckdb

    from sage_amazon.orders import raw

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    raw.ensure(con)
    d = [date(2026, 3, i) for i in range(1, 11)]
    today = date(2026, 3, 20)
    # a seller whose history starts on the 4th: the empty days before are not suspicious, a gap after is
    by_day = {day: 12 for day in d[3:]}
    by_day[d[6]] = 0
    assert raw.unexpected_empty_days(con, d, by_day, today) == [d[6]]
    # nothing at all in the range and no history: nothing to compare with
    assert raw.unexpected_empty_days(con, d, {}, today) == []
    # ... but with 14 logged days of ~20 orders before, an empty day is suspicious
    before = [date(2026, 2, 14) + (d[1] - d[0]) * i for i in range(14)]
    con.executemany("INSERT INTO ops.order_extractions VALUES ('orders', ?, now()::TIMESTAMP, 's', 'day', 20, 1, NULL)",
                    [[b] for b in before])
    assert raw.unexpected_empty_days(con, [date(2026, 2, 28)], {}, today) == [date(2026, 2, 28)]
    # today is never judged: the day is not over
    assert raw.unexpected_empty_days(con, [today], {}, today) == []
