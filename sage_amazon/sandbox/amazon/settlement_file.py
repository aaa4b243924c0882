"""Settlement flat files as Amazon writes them: V2 (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2) and the
older V1 layout (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE). Tab separated, header row, then one summary
row (ids, dates, total, currency only), then the detail rows whose amounts add up to total-amount.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sage_amazon.sandbox.amazon import seller
from sage_amazon.sandbox.amazon.wire import parse_iso
from sage_amazon.sandbox.seller_catalog import CATALOG, MARKETPLACES_BY_ID

V2_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
V1_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE"
V2_COLUMNS = (
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount", "currency",
    "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id", "marketplace-name",
    "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date", "posted-date-time",
    "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
    "promotion-id",
)
V1_COLUMNS = (
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount", "currency",
    "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id", "marketplace-name",
    "shipment-fee-type", "shipment-fee-amount", "order-fee-type", "order-fee-amount", "fulfillment-id",
    "posted-date", "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku",
    "quantity-purchased", "price-type", "price-amount", "item-related-fee-type", "item-related-fee-amount",
    "misc-fee-amount", "other-fee-amount", "other-fee-reason-description", "promotion-id", "promotion-type",
    "promotion-amount", "direct-payment-type", "direct-payment-amount", "other-amount",
)


# Amazon's changelog: the V2 flat file shows amounts in the marketplace's local currency format, so an
# Amazon.de file reads 95,00 and 1.250,00 (decimal comma, dot between thousands); Amazon.com and
# Amazon.co.uk write 95.00. V1 files keep the decimal point.
DECIMAL_COMMA_MARKETPLACES = frozenset({"A1PA6795UKMFR9", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4", "A1RKKUPIHCS9HS",
                                        "A1805IZSGTT6HS", "AMEN7PMS3EDWL", "A1C3SOZRARQ6R3"})


def local_amount(value: str | Decimal, decimal_comma: bool) -> str:
    """An amount as the file writes it: 1234.5 -> '1234.50', or '1.234,50' with a decimal comma."""
    text = str(Decimal(value).quantize(Decimal("0.01")))
    if not decimal_comma:
        return text
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, cents = digits.split(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return sign + ".".join([whole, *groups]) + "," + cents


def ts(value: str | datetime) -> str:
    dt = parse_iso(value) if isinstance(value, str) else value
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def day(value: str | datetime) -> str:
    dt = parse_iso(value) if isinstance(value, str) else value
    return dt.astimezone(UTC).strftime("%Y-%m-%d 00:00:00 UTC")


def _summary(header: dict[str, Any], columns: tuple[str, ...], decimal_comma: bool = False) -> list[str]:
    row = dict.fromkeys(columns, "")
    row.update({"settlement-id": header["settlement_id"], "settlement-start-date": ts(header["start"]),
                "settlement-end-date": ts(header["end"]), "deposit-date": ts(header["deposit"]),
                "total-amount": local_amount(header["total"], decimal_comma), "currency": header["currency"]})
    return [row[c] for c in columns]


def v2_row(sid: str, currency: str, market_name: str, line: dict[str, Any], decimal_comma: bool = False) -> list[str]:
    is_order = line["transaction_type"] in ("Order", "Refund")
    return [
        sid, "", "", "", "", currency, line["transaction_type"], line.get("order_id", ""), "",
        line.get("adjustment_id", ""), line.get("shipment_id", ""), market_name,
        line["amount_type"], line["amount_description"], local_amount(line["amount"], decimal_comma),
        line.get("fulfillment", ""),
        day(line["posted"]), ts(line["posted"]), line.get("order_item_code", "") if is_order else "", "",
        "", line.get("sku", ""), str(line.get("qty", "")) if is_order else "", line.get("promotion_id", ""),
    ]


def v1_row(sid: str, currency: str, market_name: str, line: dict[str, Any], decimal_comma: bool = False) -> list[str]:
    row = dict.fromkeys(V1_COLUMNS, "")
    tt, at, ad, amount = line["transaction_type"], line["amount_type"], line["amount_description"], line["amount"]
    is_order = tt in ("Order", "Refund")
    row.update({"settlement-id": sid, "currency": currency, "transaction-type": tt,
                "order-id": line.get("order_id", ""), "adjustment-id": line.get("adjustment_id", ""),
                "shipment-id": line.get("shipment_id", ""), "marketplace-name": market_name,
                "fulfillment-id": line.get("fulfillment", ""), "posted-date": ts(line["posted"]),
                "order-item-code": line.get("order_item_code", "") if is_order else "",
                "sku": line.get("sku", ""), "quantity-purchased": str(line.get("qty", "")) if is_order else ""})
    if at == "ItemPrice":
        row.update({"price-type": ad, "price-amount": amount})
    elif at in ("ItemFees", "ItemWithheldTax", "Cost of Advertising"):
        row.update({"item-related-fee-type": ad if at != "Cost of Advertising" else "Cost of Advertising",
                    "item-related-fee-amount": amount})
    elif at == "Promotion":
        row.update({"promotion-id": line.get("promotion_id", ""), "promotion-type": ad, "promotion-amount": amount})
    else:  # other-transaction and reimbursements: the description is the transaction type in V1
        row.update({"transaction-type": ad if at == "other-transaction" else tt,
                    "other-fee-reason-description": ad if at != "other-transaction" else "",
                    "other-amount": amount})
    return [row[c] for c in V1_COLUMNS]


def write_settlement(out: IO[str], header: dict[str, Any], lines: Iterable[dict[str, Any]], version: int = 2) -> None:
    columns = V2_COLUMNS if version == 2 else V1_COLUMNS
    render = v2_row if version == 2 else v1_row
    mp = MARKETPLACES_BY_ID.get(header["marketplace_id"])
    name = mp.name if mp else ""
    comma = version == 2 and header["marketplace_id"] in DECIMAL_COMMA_MARKETPLACES
    out.write("\t".join(columns) + "\n")
    out.write("\t".join(_summary(header, columns, comma)) + "\n")
    for line in lines:
        out.write("\t".join(render(header["settlement_id"], header["currency"], name, line, comma)) + "\n")


# ---------------------------------------------------------------------------- benchmark-size files
def synthetic_lines(seed: int, marketplace_id: str, start: datetime, count: int) -> Iterator[dict[str, Any]]:
    """`count` detail lines of plausible orders, refunds and fees, generated one order at a time."""
    rng = random.Random(f"{seed}:bulk:{marketplace_id}")
    emitted = 0
    span = timedelta(days=seller.SETTLEMENT_DAYS).total_seconds()
    while emitted < count:
        at = start + timedelta(seconds=span * emitted / max(count, 1))
        order = seller.make_order(rng, marketplace_id, at)
        event = {"transaction_type": "Order", "order_id": order["id"], "fulfillment": order["channel"],
                 "shipment_id": order["shipment_template"]["shipment_id"], "posted": at}
        batch = [{**event, **line} for line in seller.order_charge_lines(order)]
        ret = order["plan"].get("return")
        if ret:
            batch += [{**event, "transaction_type": "Refund", "adjustment_id": ret["adjustment_id"], "shipment_id": "",
                       **line} for line in seller.refund_lines(order, ret)]
        if rng.random() < 0.01:
            cat = rng.choice(CATALOG)
            batch.append({"transaction_type": "other-transaction", "amount_type": "FBA Inventory Reimbursement",
                          "amount_description": "WAREHOUSE_DAMAGE", "amount": str(seller.q(cat.price(marketplace_id)
                                                                                           * Decimal("0.5"))),
                          "posted": at, "sku": cat.sku, "adjustment_id": str(rng.randint(10**13, 10**14 - 1))})
        for line in batch[: count - emitted]:
            yield line
            emitted += 1


def generate_settlement_file(path: Path, lines: int, seed: int = 42, marketplace_id: str = "ATVPDKIKX0DER",
                             version: int = 2) -> dict[str, Any]:
    """Write a settlement file of exactly `lines` detail rows in bounded memory.

    The summary row (with the total) comes first, so details stream to a temporary file while the total
    is summed, then header + summary + details are concatenated. Returns the header (with the total).
    """
    path = Path(path)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    mp = MARKETPLACES_BY_ID[marketplace_id]
    header = {"settlement_id": seller.settlement_id(seed, marketplace_id, start), "marketplace_id": marketplace_id,
              "currency": mp.currency, "start": start, "end": start + timedelta(days=seller.SETTLEMENT_DAYS),
              "deposit": start + timedelta(days=seller.SETTLEMENT_DAYS + 2)}
    render = v2_row if version == 2 else v1_row
    columns = V2_COLUMNS if version == 2 else V1_COLUMNS
    comma = version == 2 and marketplace_id in DECIMAL_COMMA_MARKETPLACES
    tmp = path.with_name(path.name + ".details.tmp")
    total = Decimal("0")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as out:
            buffer: list[str] = []
            for line in synthetic_lines(seed, marketplace_id, start, lines):
                total += Decimal(line["amount"])
                buffer.append("\t".join(render(header["settlement_id"], mp.currency, mp.name, line, comma)))
                if len(buffer) >= 5000:
                    out.write("\n".join(buffer) + "\n")
                    buffer.clear()
            if buffer:
                out.write("\n".join(buffer) + "\n")
        header["total"] = seller.q(total)
        with path.open("w", encoding="utf-8", newline="") as out:
            out.write("\t".join(columns) + "\n")
            out.write("\t".join(_summary(header, columns, comma)) + "\n")
            with tmp.open("r", encoding="utf-8", newline="") as details:
                while chunk := details.read(1 << 20):
                    out.write(chunk)
    finally:
        if tmp.exists():
            os.unlink(tmp)
    return header
