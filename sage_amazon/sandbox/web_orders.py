"""Sales orders of the seller's own web shop, seeded in both ERP sandboxes (X3 order type SWEB, customer WEBUS;
Sage 500 customer WEBUS of customer class WEB): the orders Multi-Channel Fulfillment ships from FBA stock.

Each seed maps a SKU to its own item code (X3 renames some items). Dates are fixed: nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WEB_ORDER_TYPE = "SWEB"  # X3 order type of web shop orders
WEB_CUSTOMER = ("WEBUS", "Northwind web shop customers", "USD", "US")  # code, name, currency, country
WEB_CUSTOMER_CLASS = ("WEB", "Web shop customers")  # Sage 500 tarCustClass


@dataclass(frozen=True)
class WebOrder:
    number: str  # X3 SOHNUM / Sage 500 TranNo (10 characters)
    order_date: date
    lines: tuple[tuple[str, int, str], ...]  # (SKU, quantity, unit price)
    ship_to: tuple[str, str, str, str, str, str]  # name, line 1, city, state, postal code, country
    note: str = ""


_PAT = ("Pat Doe", "1 Main St", "Seattle", "WA", "98101", "US")
WEB_ORDERS: tuple[WebOrder, ...] = (
    WebOrder("SOW2600001", date(2026, 11, 20), (("NW-STOVE-CMP", 2, "39.99"),), _PAT),
    WebOrder("SOW2600002", date(2026, 11, 20), (("NW-LAMP-300", 1, "19.99"), ("NW-PAD-UL", 1, "59.99")),
             ("Sam Roe", "22 Pine Ave", "Portland", "OR", "97201", "US")),
    WebOrder("SOW2600003", date(2026, 11, 21), (("NW-PACK-45L", 1, "129.00"),),
             ("Lee Poe", "9 Oak Rd", "Denver", "CO", "ABCDE", "US"), "a postal code Amazon cannot deliver to"),
    WebOrder("SOW2600004", date(2026, 11, 21), (("NW-KNIFE-MT", 1, "27.49"),), _PAT,
             "a merchant-fulfilled item: not stocked at FBA, never an MCF order"),
    WebOrder("SOW2600005", date(2026, 11, 22), (("NW-BAG-20F", 1, "189.95"),),
             ("Kim Loe", "5 Elm St", "Austin", "TX", "73301", "US")),
)
