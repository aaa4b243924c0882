"""`X3Target`: the Sage target protocol on Sage X3 (SOAP writes, api1 REST reads)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

import httpx

from sage_amazon.retrying import RetryPolicy, System, retry_call

from ..errors import (
    MalformedRequest,
    SageBusinessError,
    SageConfigurationError,
    SageTransientError,
    SageUnknownOutcome,
)
from ..protocol import (
    Address,
    ChannelOrder,
    ChannelOrderLine,
    CreditNote,
    CreditNoteResult,
    Item,
    Journal,
    JournalResult,
    SalesOrder,
    SalesOrderResult,
    Shipment,
    StockLevel,
)
from .objectxml import Description, build_object, parse_description, parse_object
from .refusals import refusal
from .rest import X3Rest, quote_literal
from .soap import SoapResult, X3Soap

log = logging.getLogger(__name__)
T = TypeVar("T")
ORDER_OPTIONAL = frozenset({"INVDTAAMT", "YFULCHN", "YAMZITMID", "ITMDES", "DISCRGVAL1", "BPDNAM", "BPDADDLIG",
                            "BPDCTY", "BPDSAT", "BPDPOSCOD", "BPDCRY", "BPDTEL", "ORDSTA", "SOHTYP"})
SHIPMENT_OPTIONAL = frozenset({"BPTNUM", "YTRKNUM", "SHIDAT", "SOPLIN"})
JOURNAL_OPTIONAL = frozenset({"DEBLED", "CDTLED", "FREREF", "VAT", "DES", "DESVCR", "RATMLT", "TYP", "BPR"})
NOTE_OPTIONAL = frozenset({"YAMZORDREF", "ITMDES1", "SOHNUM", "SIHORINUM"})  # links, never money
UNIT_DISCOUNT = Decimal("0.0001")
MAX_SENDS = 3  # sends of one write whose replies were lost and that X3 shows no trace of


class X3Target:
    """Sage X3 behind the `SageTarget` protocol.

    Build it with `X3Target.from_settings(url, user, password, pool, folder, pool_size=4)` (the
    SAGE_X3_* settings). `pool_size` bounds concurrent calls into X3 (size the X3 classic SOAP pool
    accordingly). Transient failures (pool busy, connection refused) are retried within `retry`
    (sage_amazon.retrying.RetryPolicy, default from the SAGE_AMAZON_RETRY_BUDGET_SECONDS and
    SAGE_AMAZON_CALL_TIMEOUT_SECONDS settings), then raised as one SageTransientError naming
    SAGE_X3_URL; after an unknown outcome (reply lost) the record is looked up by its business
    reference and adopted instead of being sent twice.
    """

    name = "x3"

    def __init__(self, url: str, user: str, password: str, pool: str, folder: str, *, pool_size: int = 4,
                 language: str = "ENG", retry: RetryPolicy | None = None, timeout: float | None = None,
                 sales_order_type: str = "", journal_type: str = "", journal_site: str = "",
                 credit_note_type: str = "CRN", debit_note_type: str = "INV",
                 publications: dict[str, str] | None = None) -> None:
        self.retry = retry or RetryPolicy.from_config()
        if timeout is not None:
            self.retry = replace(self.retry, timeout=timeout)
        self.system = System("Sage X3", "SAGE_X3_URL", url.rstrip("/"))
        self.gate = threading.BoundedSemaphore(max(pool_size, 1))
        self.http = httpx.Client(auth=(user, password), timeout=self.retry.timeout,
                                 limits=httpx.Limits(max_connections=max(pool_size, 1) + 2))
        self.soap = X3Soap(url, user, password, pool, language=language, gate=self.gate, http=self.http)
        self.rest = X3Rest(url, folder, gate=self.gate, http=self.http, user=user)
        self.sales_order_type, self.journal_type = sales_order_type, journal_type
        self.journal_site, self.credit_note_type = journal_site, credit_note_type
        self.debit_note_type = debit_note_type
        # public names of the GESAWE publications; customers often publish their own (WSCOMCLT, YWSSIH)
        self.publications = {"SOH": "SOH", "SIH": "SIH", "GAS": "GAS", "BPC": "BPC", "ITM": "ITM",
                             **(publications or {})}
        self._descriptions: dict[str, Description] = {}
        self._lock = threading.Lock()
        # one writer per business reference inside this process (lock striping)
        self._ref_locks = tuple(threading.Lock() for _ in range(64))

    def _ref_lock(self, reference: str) -> threading.Lock:
        import zlib

        return self._ref_locks[zlib.crc32(reference.encode("utf-8")) % len(self._ref_locks)]

    def _check_reference(self, publication: str, field_name: str, value: str, refused: str) -> None:
        """A reference longer than its X3 field would be cut, and never found again by lookup."""
        group = self.description(publication).header_group(field_name)
        length = group.fields[field_name].length if group else 0
        if not value or (length and len(value) > length):
            raise MalformedRequest(f"{field_name} must be 1 to {length} characters, got {value!r}", refused=refused)

    @classmethod
    def from_settings(cls, url: str, user: str, password: str, pool: str, folder: str, pool_size: int = 4,
                      **options) -> X3Target:
        return cls(url, user, password, pool, folder, pool_size=pool_size, **options)

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ plumbing

    def _retrying(self, fn: Callable[[], T], what: str = "api1 read") -> T:
        """Transient failures retried within the retry budget (sage_amazon.retrying), then one
        SageTransientError naming SAGE_X3_URL and how long it waited."""
        def give_up(exc: BaseException, message: str) -> BaseException:
            return SageTransientError(message)  # the message names the call already

        return retry_call(fn, system=self.system, what=what, retry_on=SageTransientError, policy=self.retry,
                          give_up=give_up)

    def _call(self, operation: str, publication: str, **params) -> SoapResult:
        name = self.publications[publication]
        return self._retrying(lambda: self.soap.call(operation, name, **params), f"{operation} {name}")

    def _checked(self, result: SoapResult, refused: str) -> SoapResult:
        if result.status != 1:
            raise refusal(result.errors or tuple(m for _, m in result.messages), refused)
        for kind, text in result.messages:
            if kind == 2:
                log.info("X3 warning on %s: %s", refused, text)
        return result

    def description(self, publication: str, refresh: bool = False) -> Description:
        with self._lock:
            cached = self._descriptions.get(publication)
        if cached is not None and not refresh:
            return cached
        result = self._checked(self._call("getDescription", publication), f"getDescription {publication}")
        desc = parse_description(self.publications[publication], result.result_xml or "")
        with self._lock:
            self._descriptions[publication] = desc
        return desc

    def _write_once(self, publication: str, refused: str, build: Callable[[Description], str],
                    lookup: Callable[[], str | None], operation: str = "save",
                    keys: list[tuple[str, str]] | None = None) -> tuple[str | None, SoapResult | None]:
        """Send a write at most once per known outcome: after a lost reply, look the record up by its
        business reference and adopt it; re-send only when X3 has no trace of it."""
        last_error: SageUnknownOutcome | None = None
        for _ in range(MAX_SENDS):
            desc = self.description(publication)
            params = {"object_xml": build(desc)}
            if keys is not None:
                params["keys"] = keys
            try:
                result = self._call(operation, publication, **params)
            except SageUnknownOutcome as exc:
                last_error = exc
                try:
                    found = self._settled_lookup(lookup)
                except SageTransientError as lookup_error:
                    raise exc from lookup_error  # still unknown: the caller must look up later
                if found:
                    log.info("X3 %s: reply lost, adopting %s", refused, found)
                    return found, None
                continue
            if result.status != 1 and any("input xml refused" in m.lower() for m in result.errors):
                # the publication changed under us (new group ids): describe again, once
                self.description(publication, refresh=True)
                result = self._call(operation, publication, **{**params, "object_xml": build(
                    self.description(publication))})
            return None, self._checked(result, refused)
        assert last_error is not None
        raise last_error

    def _settled_lookup(self, lookup: Callable[[], str | None]) -> str | None:
        """After a lost reply X3 may still be running the write (queued in its pool, or slower than our timeout:
        it does not stop when the client gives up): look for it until one more call timeout has passed before
        concluding it never arrived. A re-send sooner would make a second record (seen on a loaded machine)."""
        deadline = time.monotonic() + self.retry.timeout
        while True:
            found = lookup()  # retried within the budget by the lookup itself
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(min(1.0, max(0.05, self.retry.timeout / 10)))

    # ------------------------------------------------------------------ sales orders

    def find_sales_order(self, customer_order_ref: str) -> str | None:
        rows = self._retrying(lambda: list(self.rest.query(
            "SORDER", where=f"CUSORDREF eq {quote_literal(customer_order_ref)}", order_by="SOHNUM", count=5)))
        return rows[0]["SOHNUM"] if rows else None

    def create_sales_order(self, order: SalesOrder) -> SalesOrderResult:
        refused = f"SOH order {order.customer_order_ref}"
        self._check_reference("SOH", "CUSORDREF", order.customer_order_ref, refused)
        with self._ref_lock(order.customer_order_ref):
            return self._create_sales_order(order, refused)

    def _create_sales_order(self, order: SalesOrder, refused: str) -> SalesOrderResult:
        if not order.invoiced and not order.order_type:
            raise SageConfigurationError("an order never invoiced (revenue: settlement) needs accounts.yaml "
                                         "targets.x3.uninvoiced_order_type", refused=refused)
        existing = self.find_sales_order(order.customer_order_ref)
        if existing:
            return SalesOrderResult(existing, created=False)

        def build(desc: Description) -> str:
            header: dict[str, object] = {
                "SALFCY": order.site, "SOHNUM": "", "BPCORD": order.customer,
                "ORDDAT": order.order_date.strftime("%Y%m%d"), "CUSORDREF": order.customer_order_ref,
                "CUR": order.currency,
            }
            if not order.invoiced:  # revenue: settlement: the type whose deliveries X3 does not invoice, only
                header["SOHTYP"] = order.order_type
            elif order.order_type or self.sales_order_type:
                header["SOHTYP"] = order.order_type or self.sales_order_type
            if order.status == "closed":
                header["ORDSTA"] = 2
            if order.freight:
                header["INVDTAAMT"] = _dec(order.freight)
            if order.fulfillment_channel:
                header["YFULCHN"] = order.fulfillment_channel
            if order.ship_to is not None:
                addr = order.ship_to
                header.update(BPDNAM=addr.name, BPDADDLIG=list(addr.lines[:3]), BPDCTY=addr.city,
                              BPDSAT=addr.state, BPDPOSCOD=addr.postal_code, BPDCRY=addr.country,
                              BPDTEL=addr.phone)
            lines = []
            for line in sorted(order.lines, key=lambda ln: ln.line_no):
                values: dict[str, object] = {"ITMREF": line.item, "QTY": _dec(line.quantity),
                                             "GROPRI": _dec(line.gross_price)}
                if line.description:
                    values["ITMDES"] = line.description
                if line.discount:
                    # X3 discounts are per sales unit; rounded to X3's 4 price decimals
                    values["DISCRGVAL1"] = _dec((line.discount / line.quantity).quantize(UNIT_DISCOUNT,
                                                                                         ROUND_HALF_UP))
                if line.external_line_ref:
                    values["YAMZITMID"] = line.external_line_ref
                lines.append((line.line_no, values))
            return build_object(desc, header, lines, optional=ORDER_OPTIONAL)

        adopted, result = self._write_once("SOH", refused, build,
                                           lambda: self.find_sales_order(order.customer_order_ref))
        if adopted:
            return SalesOrderResult(adopted, created=False)
        header, _ = parse_object(result.result_xml)
        number = str(header.get("SOHNUM", "")).strip()
        if not number:
            raise SageBusinessError("X3 saved the order but returned no SOHNUM", refused=refused)
        return SalesOrderResult(number, created=True)

    def _read_order(self, sage_number: str) -> tuple[dict, list[dict]]:
        result = self._checked(self._call("read", "SOH", keys=[("SOHNUM", sage_number)]),
                               f"SOH order {sage_number}")
        return parse_object(result.result_xml)

    def record_shipment(self, shipment: Shipment) -> None:
        refused = f"SOH order {shipment.sage_number} ({shipment.customer_order_ref}) shipment"
        header, lines = self._read_order(shipment.sage_number)
        tracking_seen = str(header.get("YTRKNUM", "")).split()
        if shipment.tracking_number and shipment.tracking_number in tracking_seen:
            return  # this shipment is already recorded (idempotent replay)
        updates: list[tuple[int, dict]] = []
        if not shipment.lines:
            for pos, line in enumerate(lines, start=1):
                updates.append((pos, {"SOPLIN": line.get("SOPLIN", ""), "DLVQTY": line.get("QTY", "0")}))
        else:
            for sl in shipment.lines:
                pos, line = _match_line(lines, sl.line_no, sl.item)
                if line is None:
                    raise SageBusinessError(f"line {sl.line_no} ({sl.item}) is not on the order", refused=refused)
                ordered = Decimal(line.get("QTY") or "0")
                delivered = min(ordered, Decimal(line.get("DLVQTY") or "0") + sl.quantity)
                updates.append((pos, {"SOPLIN": line.get("SOPLIN", ""), "DLVQTY": _dec(delivered)}))
        head: dict[str, object] = {"SHIDAT": shipment.ship_date.strftime("%Y%m%d")}
        if shipment.carrier:
            head["BPTNUM"] = shipment.carrier
        if shipment.tracking_number:
            head["YTRKNUM"] = " ".join([*tracking_seen, shipment.tracking_number])[-40:].strip()
        desc = self.description("SOH")
        xml = build_object(desc, head, updates, optional=SHIPMENT_OPTIONAL)
        self._checked(self._call("modify", "SOH", keys=[("SOHNUM", shipment.sage_number)], object_xml=xml),
                      refused)

    def close_sales_order(self, sage_number: str, reason: str = "") -> None:
        header, _ = self._read_order(sage_number)
        if str(header.get("ORDSTA", "")).strip() == "2":
            return
        xml = build_object(self.description("SOH"), {"ORDSTA": 2})
        self._checked(self._call("modify", "SOH", keys=[("SOHNUM", sage_number)], object_xml=xml),
                      f"SOH order {sage_number} closing" + (f" ({reason})" if reason else ""))

    def read_channel_orders(self, order_types: Sequence[str] = (), sales_sites: Sequence[str] = (),
                            since: date | None = None) -> list[ChannelOrder]:
        """Sales orders of other channels (order type in `order_types` or sales site in `sales_sites`), read through
        api1 (SORDER $query, then $details for the lines). ORDSTA 2 with nothing delivered is a cancellation."""
        terms = [f"SOHTYP eq {quote_literal(v)}" for v in order_types] + [
            f"SALFCY eq {quote_literal(v)}" for v in sales_sites]
        if not terms:
            return []
        where = "(" + " or ".join(terms) + ")"
        if since is not None:
            where += f" and ORDDAT ge @{since.isoformat()}@"
        heads = self._retrying(lambda: list(self.rest.query("SORDER", where=where, order_by="SOHNUM")))
        orders = []
        for head in heads:
            number = str(head["SOHNUM"]).strip()
            doc = self._retrying(lambda number=number: self.rest.details("SORDER", number)) or {}
            # line_no: the line's position on the order, what record_shipment matches a shipment line by
            lines = tuple(ChannelOrderLine(pos, str(q["ITMREF"]).strip(), Decimal(str(q.get("QTY") or 0)),
                                           Decimal(str(q.get("DLVQTY") or 0)))
                          for pos, q in enumerate(doc.get("SOHSOQ", []), start=1))
            closed = str(head.get("ORDSTA", "1")).strip() == "2"
            delivered = any(ln.shipped for ln in lines)
            status = ("closed" if delivered else "cancelled") if closed else "open"
            addr = head.get("BPDADDLIG") or []
            addr = addr if isinstance(addr, list) else [addr]
            name = head.get("BPDNAM") or ""
            ship_to = Address(name=str(name[0] if isinstance(name, list) else name).strip(),
                              lines=tuple(str(a).strip() for a in addr if str(a).strip()),
                              city=str(head.get("BPDCTY") or "").strip(), state=str(head.get("BPDSAT") or "").strip(),
                              postal_code=str(head.get("BPDPOSCOD") or "").strip(),
                              country=str(head.get("BPDCRY") or "").strip(), phone=str(head.get("BPDTEL") or "").strip())
            channel = (f"SOHTYP {head.get('SOHTYP')}" if head.get("SOHTYP") in order_types
                       else f"SALFCY {head.get('SALFCY')}")
            orders.append(ChannelOrder(
                sage_number=number, order_date=date.fromisoformat(str(head["ORDDAT"])[:10]), channel=channel,
                status=status, lines=lines, ship_to=ship_to, customer=str(head.get("BPCORD") or "").strip(),
                customer_order_ref=str(head.get("CUSORDREF") or "").strip(),
                tracking=tuple(str(head.get("YTRKNUM") or "").split())))
        return orders

    # ------------------------------------------------------------------ journals

    def find_journal(self, reference: str) -> str | None:
        rows = self._retrying(lambda: list(self.rest.query(
            "GACCENTRY", where=f"REF eq {quote_literal(reference)}", order_by="NUM", count=5)))
        return rows[0]["NUM"] if rows else None

    def post_journal(self, journal: Journal) -> JournalResult:
        refused = f"GAS journal {journal.reference}"
        self._check_reference("GAS", "REF", journal.reference, refused)
        with self._ref_lock(journal.reference):
            return self._post_journal(journal, refused)

    def _post_journal(self, journal: Journal, refused: str) -> JournalResult:
        existing = self.find_journal(journal.reference)
        if existing:
            return JournalResult(existing, created=False)

        def build(desc: Description) -> str:
            header: dict[str, object] = {"FCY": journal.site or self.journal_site,
                                         "ACCDAT": journal.accounting_date.strftime("%Y%m%d"),
                                         "CUR": journal.currency, "REF": journal.reference,
                                         "DESVCR": journal.description, "RATMLT": _dec(journal.rate)}
            if self.journal_type:
                header["TYP"] = self.journal_type
            lines = []
            for num, line in enumerate(journal.lines, start=1):
                # DES whole: build_object cuts every Char field to the LEN getDescription publishes for it
                # (GACCENTRYD DES: 30 in the sandbox's GAS), so the warehouse keeps the whole description
                values: dict[str, object] = {"ACC": line.account, "DEB": _dec(line.debit),
                                             "CDT": _dec(line.credit), "DES": line.description}
                if line.ledger_debit is not None:
                    values["DEBLED"] = _dec(line.ledger_debit)
                if line.ledger_credit is not None:
                    values["CDTLED"] = _dec(line.ledger_credit)
                if line.reference:
                    values["FREREF"] = line.reference
                if line.tax_code:
                    values["VAT"] = line.tax_code
                if line.partner:  # GACCENTRYD BPR: the customer of a line on a collective (control) account
                    values["BPR"] = line.partner
                lines.append((num, values))
            return build_object(desc, header, lines, optional=JOURNAL_OPTIONAL)

        adopted, result = self._write_once("GAS", refused, build, lambda: self.find_journal(journal.reference))
        if adopted:
            return JournalResult(adopted, created=False)
        header, _ = parse_object(result.result_xml)
        return JournalResult(str(header.get("NUM", "")).strip(), created=True)

    # ------------------------------------------------------------------ credit and debit notes

    def _find_note(self, reference: str) -> str | None:
        rows = self._retrying(lambda: list(self.rest.query(
            "SINVOICE", where=f"INVREF eq {quote_literal(reference)}", order_by="NUM", count=5)))
        return rows[0]["NUM"] if rows else None

    def create_credit_note(self, note: CreditNote) -> CreditNoteResult:
        """An SIH credit memo (SIVTYP credit_note_type) whose lines name the order (SOHNUM) and its invoice
        (SIHORINUM), once per reference (INVREF)."""
        return self._create_note(note, self.credit_note_type, f"SIH credit note {note.reference}")

    def apply_all_open_items(self) -> int:
        return 0  # the settlement journal clears the customer's receivable: no open items per document to apply

    def create_debit_note(self, note: CreditNote) -> CreditNoteResult:
        """A refund reversed by a later charge (issue 15.2): an SIH sales invoice (SIVTYP debit_note_type) of the
        amount charged back, built as the credit note is (`note` carries the amounts charged back, positive), its
        lines naming the order (SOHNUM) but no origin invoice: X3 takes SIHORINUM on a credit memo only. Once per
        reference (INVREF, `AMZ-RV-<refund id>`)."""
        return self._create_note(note, self.debit_note_type, f"SIH debit note {note.reference}")

    def _create_note(self, note: CreditNote, invoice_type: str, refused: str) -> CreditNoteResult:
        self._check_reference("SIH", "INVREF", note.reference, refused)
        with self._ref_lock(note.reference):
            return self._write_note(note, invoice_type, refused)

    def _find_invoice(self, order_ref: str) -> str:
        """The X3 invoice (not a credit memo) of an Amazon order, by the order id it carries (YAMZORDREF); "" if none.
        Never a document this connector made (INVREF AMZ-...): a debit note carries the order id too."""
        rows = self._retrying(lambda: list(self.rest.query(
            "SINVOICE", where=f"YAMZORDREF eq {quote_literal(order_ref)}", order_by="NUM", count=20)))
        return next((r["NUM"] for r in rows if r.get("SIVTYP") != self.credit_note_type
                     and not str(r.get("INVREF") or "").startswith("AMZ-")), "")

    def _write_note(self, note: CreditNote, invoice_type: str, refused: str) -> CreditNoteResult:
        existing = self._find_note(note.reference)
        order = (self.find_sales_order(note.original_order_ref) or "") if note.original_order_ref else ""
        credit = invoice_type == self.credit_note_type  # only a credit memo names an origin invoice
        invoice = self._find_invoice(note.original_order_ref) if credit and note.original_order_ref else ""
        if existing:
            return CreditNoteResult(existing, created=False, applied_to=invoice or order)

        def build(desc: Description) -> str:
            header: dict[str, object] = {
                "SALFCY": note.site, "SIVTYP": invoice_type, "NUM": "", "INVREF": note.reference,
                "INVDAT": note.document_date.strftime("%Y%m%d"), "BPCINV": note.customer, "CUR": note.currency,
                "YAMZORDREF": note.original_order_ref}
            if note.freight or note.tax:  # invoicing elements 1 shipping, 2 discount, 3 tax (never left out)
                group = desc.header_group("INVDTAAMT")
                if note.tax and group is not None and group.fields["INVDTAAMT"].dim < 3:
                    raise SageConfigurationError(f"publication {desc.publication} has fewer than 3 invoicing "
                                                 "elements (INVDTAAMT): the tax needs the third")
                header["INVDTAAMT"] = [_dec(note.freight), _dec(Decimal("0")), _dec(note.tax)]
            lines = []
            for num, ln in enumerate(note.lines, start=1):
                values: dict[str, object] = {"ITMREF": ln.item, "QTY": _dec(ln.quantity), "GROPRI": _dec(ln.net_price)}
                if ln.description:
                    values["ITMDES1"] = ln.description
                if ln.discount:  # per sales unit, as on the order (the plan keeps it exact to the cent)
                    values["DISCRGVAL1"] = _dec(ln.discount / ln.quantity)
                if order:
                    values["SOHNUM"] = order
                if invoice:
                    values["SIHORINUM"] = invoice
                lines.append((num, values))
            return build_object(desc, header, lines, optional=NOTE_OPTIONAL)

        adopted, result = self._write_once("SIH", refused, build, lambda: self._find_note(note.reference))
        if adopted:
            return CreditNoteResult(adopted, created=False, applied_to=invoice or order)
        header, _ = parse_object(result.result_xml)
        return CreditNoteResult(str(header.get("NUM", "")).strip(), created=True, applied_to=invoice or order)

    # ------------------------------------------------------------------ reads

    def _company_of(self, site: str) -> str:
        fcy = self._retrying(lambda: list(self.rest.query("FACILITY", where=f"FCY eq {quote_literal(site)}", count=1)))
        return str((fcy[0].get("LEGCPY") or "") if fcy else "").strip()

    def first_open_day(self, site: str, day: date) -> date | None:
        """The first day on or after `day` in an open period of the site's company (PERIOD.PERSTA 2 = open, read
        through api1): `day` itself while its period is open, else the start of the next open period; None when
        X3 cannot say (no company, no PERIOD class on the endpoint, no open period after it). [UNCONFIRMED] PERIOD
        as an api1 class with CPY, PERSTRDAT, PERENDDAT, PERSTA (1 not open, 2 open, 3 closed): sage-erp.md names
        no fiscal-period table; the X3 sandbox serves it so."""
        company = self._company_of(site or self.journal_site)
        if not company:
            return None
        where = f"CPY eq {quote_literal(company)} and PERENDDAT ge @{day.isoformat()}@"
        try:
            rows = self._retrying(lambda: list(self.rest.query("PERIOD", where=where, order_by="PERSTRDAT",
                                                               count=60)))
        except SageConfigurationError:  # an endpoint without the PERIOD class: the caller keeps its own date
            return None
        for row in rows:
            if int(row.get("PERSTA") or 0) == 2:
                start = date.fromisoformat(str(row["PERSTRDAT"])[:10])
                return max(day, start)
        return None

    def company_currency(self, site: str) -> str | None:
        """COMPANY.CUR of the site's company (FACILITY.LEGCPY), read through api1; None when X3 cannot say."""
        company = self._company_of(site)
        if not company:
            return None
        cpy = self._retrying(lambda: list(self.rest.query("COMPANY", where=f"CPY eq {quote_literal(company)}",
                                                          count=1)))
        return (cpy[0].get("CUR") or None) if cpy else None

    def exchange_rates(self, company_currency: str) -> dict[str, list[tuple[date, Decimal]]]:
        """TABCHANGE daily rates (CHGTYP 1) to `company_currency`: currency -> [(from day, rate)], ascending."""
        rows = self._retrying(lambda: list(self.rest.query(
            "TABCHANGE", where=f"CURDEN eq {quote_literal(company_currency)} and CHGTYP eq 1",
            order_by="CHGSTRDAT", count=500)))
        out: dict[str, list[tuple[date, Decimal]]] = {}
        for row in rows:
            out.setdefault(str(row["CUR"]), []).append(
                (date.fromisoformat(str(row["CHGSTRDAT"])[:10]), Decimal(str(row["CHGRAT"]))))
        return {cur: sorted(days) for cur, days in out.items()}

    def read_stock(self, site: str, items: Sequence[str] | None = None) -> list[StockLevel]:
        where = f"STOFCY eq {quote_literal(site)}"
        wanted = list(dict.fromkeys(items)) if items is not None else None
        chunks = [wanted[i:i + 20] for i in range(0, len(wanted), 20)] if wanted else [None]
        if wanted == []:
            return []
        levels: list[StockLevel] = []
        for chunk in chunks:
            clause = where
            if chunk:
                clause += " and (" + " or ".join(f"ITMREF eq {quote_literal(i)}" for i in chunk) + ")"
            rows = self._retrying(lambda clause=clause: list(self.rest.query("ITMMVT", where=clause,
                                                                             order_by="ITMREF")))
            for row in rows:
                available = Decimal(str(row.get("PHYSTO", 0))) - Decimal(str(row.get("PHYALL", 0)))
                levels.append(StockLevel(site=row["STOFCY"], item=row["ITMREF"], quantity=available))
        return levels

    def read_items(self) -> list[Item]:
        rows = self._retrying(lambda: list(self.rest.query("ITMMASTER", order_by="ITMREF")))
        return [Item(code=r["ITMREF"], description=" ".join(p for p in (r.get("ITMDES1", ""), r.get("ITMDES2", ""))
                                                             if p).strip(),
                     unit=r.get("STU") or "UN", active=str(r.get("ITMSTA", 1)) == "1",
                     extra={k: str(r[k]) for k in ("ITMDES3", "TCLCOD", "SAU", "EANCOD") if r.get(k)})
                for r in rows]


def _dec(value: Decimal) -> str:
    if isinstance(value, float):
        raise TypeError("amounts are Decimal, never float")
    return format(Decimal(value), "f")


def _match_line(lines: list[dict], line_no: int, item: str) -> tuple[int, dict | None]:
    """The order line a shipment line refers to: by position (line numbers are the order's LIN
    numbers, sent in order), confirmed by item; else the only line with that item."""
    if 1 <= line_no <= len(lines) and lines[line_no - 1].get("ITMREF") == item:
        return line_no, lines[line_no - 1]
    same = [(pos, ln) for pos, ln in enumerate(lines, start=1) if ln.get("ITMREF") == item]
    return same[0] if len(same) == 1 else (0, None)
