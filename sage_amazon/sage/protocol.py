"""The one target protocol every Sage connector implements (X3 over SOAP/REST, Sage 500 over SQL).

Flows (orders, shipments, settlements, returns, stock) speak only this protocol; they never know
which ERP is behind it. All money is Decimal. Every write is idempotent by its business reference:
the customer order reference (AmazonOrderId) for sales orders, the journal reference (settlement id
and accounting period) for journals, the Amazon refund reference for credit notes and debit notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Address:
    """A ship-to address already standardized to Sage's fields."""

    name: str
    lines: tuple[str, ...] = ()  # up to 3 address lines
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""  # ISO 3166-1 alpha-2
    phone: str = ""


@dataclass(frozen=True)
class SalesOrderLine:
    line_no: int  # 1-based, stable across re-posts (Amazon OrderItemId order)
    item: str  # Sage item code (ITMREF / ItemID), already mapped from the SellerSKU
    quantity: Decimal
    gross_price: Decimal  # unit price before discount, in the order currency
    discount: Decimal = Decimal("0")  # line discount amount (total for the line), >= 0
    description: str = ""
    external_line_ref: str = ""  # Amazon OrderItemId


@dataclass(frozen=True)
class SalesOrder:
    customer_order_ref: str  # AmazonOrderId: the idempotency key
    customer: str  # Sage customer code (one per marketplace)
    site: str  # Sage sales site
    order_date: date
    currency: str  # ISO 4217
    lines: tuple[SalesOrderLine, ...]
    freight: Decimal = Decimal("0")
    # sales tax Amazon charged the buyer (items, shipping, gift wrap) when Sage invoices the order (invoiced): the
    # settlement clears it from receivables with the rest. A target that computes tax itself (X3) leaves it to Sage
    tax: Decimal = Decimal("0")
    ship_to: Address | None = None
    order_type: str = ""  # empty: the target's default order type
    status: str = "open"  # open | closed (cancelled orders are closed, never created)
    fulfillment_channel: str = ""  # AFN | MFN
    # False under accounts.yaml `revenue: settlement`: the order serves fulfilment and stock only and must never
    # be invoiced to revenue; order_type then is the target's uninvoiced order type (X3 SOHTYP, Sage 500 UserFld3)
    invoiced: bool = True


@dataclass(frozen=True)
class SalesOrderResult:
    sage_number: str  # SOHNUM / SOKey-derived number
    created: bool  # False when an existing order was adopted (idempotent re-send)


@dataclass(frozen=True)
class ShipmentLine:
    line_no: int
    item: str
    quantity: Decimal


@dataclass(frozen=True)
class Shipment:
    customer_order_ref: str
    sage_number: str
    ship_date: date
    carrier: str = ""  # Sage carrier code
    tracking_number: str = ""
    lines: tuple[ShipmentLine, ...] = ()


@dataclass(frozen=True)
class JournalLine:
    account: str  # GL account code
    debit: Decimal = Decimal("0")  # transaction currency, >= 0; exactly one of debit/credit > 0
    credit: Decimal = Decimal("0")
    description: str = ""
    tax_code: str = ""
    ledger_debit: Decimal | None = None  # company currency; None means same as transaction amount
    ledger_credit: Decimal | None = None
    reference: str = ""  # free reference carried to the line (e.g. settlement id / category)
    # business partner of a line on a control (collective) account: X3 GACCENTRYD BPR, Sage 500 the AR customer.
    # The marketplace's Sage customer on `receivables` lines (revenue: sage_invoices) so its receivable clears
    partner: str = ""


@dataclass(frozen=True)
class ReceivableLine(JournalLine):
    """A `receivables` line (revenue: sage_invoices) with its amount per Amazon order: (AmazonOrderId, amount
    credited to that order's receivable, negative for a debit), what the line sums. A target keeping AR documents per
    order (Sage 500) applies each part to the order's invoice; what no order accounts for stays unapplied. Not part
    of the posted content (the journal digest leaves it out); X3 posts it as any JournalLine."""

    allocations: tuple[tuple[str, Decimal], ...] = ()


@dataclass(frozen=True)
class Journal:
    reference: str  # idempotency key, e.g. "AMZ-<settlement id>-<YYYYMM>"
    accounting_date: date
    currency: str  # transaction currency
    lines: tuple[JournalLine, ...]
    description: str = ""
    rate: Decimal = Decimal("1")  # transaction -> company currency rate
    site: str = ""  # company / financial site


@dataclass(frozen=True)
class JournalResult:
    document_number: str
    created: bool


@dataclass(frozen=True)
class CreditNoteLine:
    item: str
    quantity: Decimal
    net_price: Decimal  # unit price credited before the line's discount
    description: str = ""
    discount: Decimal = Decimal("0")  # promotion taken back on the line (total for the line), >= 0

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.net_price).quantize(Decimal("0.01")) - self.discount


@dataclass(frozen=True)
class CreditNote:
    reference: str  # idempotency key (Amazon refund / return reference)
    customer: str
    site: str
    currency: str
    document_date: date
    lines: tuple[CreditNoteLine, ...]
    original_order_ref: str = ""  # AmazonOrderId of the refunded order: the target links its sales order / invoice
    freight: Decimal = Decimal("0")  # shipping and gift wrap refunded (net of shipping promotions), >= 0
    tax: Decimal = Decimal("0")  # tax refunded, as Amazon computed it (the note carries it, Sage does not recompute)

    @property
    def total(self) -> Decimal:
        """What the note credits the customer: lines less discounts, freight and tax (= the refund)."""
        return sum((ln.amount for ln in self.lines), Decimal("0")) + self.freight + self.tax


@dataclass(frozen=True)
class CreditNoteResult:
    document_number: str
    created: bool
    applied_to: str = ""  # the Sage document it is linked to (X3 origin invoice / order, Sage 500 apply-to), if any


@dataclass(frozen=True)
class StockLevel:
    site: str
    item: str
    quantity: Decimal  # physical available quantity


@dataclass(frozen=True)
class Item:
    code: str
    description: str = ""
    unit: str = "UN"
    active: bool = True
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelOrderLine:
    line_no: int  # X3 SOPLIN / Sage 500 SOLineNo
    item: str
    quantity: Decimal
    shipped: Decimal = Decimal("0")


@dataclass(frozen=True)
class ChannelOrder:
    """A Sage sales order of another sales channel (web shop, B2B...), read for Multi-Channel Fulfillment
    (`read_channel_orders` of the X3 and Sage 500 targets; not part of the protocol every target offers)."""

    sage_number: str  # X3 SOHNUM / Sage 500 TranNo
    order_date: date
    channel: str  # what made it one: "SOHTYP SWEB", "SALFCY US01", "CustClass WEB", "UserFld4 SHOP"
    status: str  # open | cancelled | closed | other
    lines: tuple[ChannelOrderLine, ...]
    ship_to: Address | None = None
    customer: str = ""
    customer_order_ref: str = ""
    tracking: tuple[str, ...] = ()  # tracking numbers already recorded on the order


@runtime_checkable
class SageTarget(Protocol):
    """What a Sage ERP must offer the flows. Implementations raise the errors in `errors`."""

    name: str  # "x3" | "sage500"

    def close(self) -> None:
        """Release the connector's connections (HTTP pool, database engine); it is not used after."""

    def find_sales_order(self, customer_order_ref: str) -> str | None:
        """Sage number of the sales order carrying this customer order reference, if any."""

    def create_sales_order(self, order: SalesOrder) -> SalesOrderResult:
        """Create the order once; adopt an existing one with the same reference instead of duplicating."""

    def record_shipment(self, shipment: Shipment) -> None:
        """Mark lines shipped (delivery status, carrier, tracking, shipped quantities)."""

    def close_sales_order(self, sage_number: str, reason: str = "") -> None:
        """Close an order and its open lines (an Amazon cancellation)."""

    def find_journal(self, reference: str) -> str | None:
        """Document number of the journal posted with this reference, if any."""

    def post_journal(self, journal: Journal) -> JournalResult:
        """Post a balanced journal once per reference."""

    def create_credit_note(self, note: CreditNote) -> CreditNoteResult:
        """Create a credit note once per reference."""

    def create_debit_note(self, note: CreditNote) -> CreditNoteResult:
        """Charge a refund reversed by a later charge back to the customer, once per reference: a sales invoice of
        the amounts `note` carries (positive, as a credit note carries a refund), linked to the order (X3 SIH of
        type INV, Sage 500 AR invoice)."""

    def apply_all_open_items(self) -> int:
        """Apply each Amazon order's open credits from the connector (settlement payments, credit notes) to the
        documents Sage made for that order since; returns the applications made. 0 where the ledger keeps no open
        items per document (X3: the journal clears the customer's receivable)."""

    def read_stock(self, site: str, items: Sequence[str] | None = None) -> list[StockLevel]:
        """Available stock at a site, optionally for some items."""

    def read_items(self) -> list[Item]:
        """The item master."""
