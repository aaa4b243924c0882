"""Sage500Target: the SageTarget protocol on a Sage 500 ERP database, through SQLAlchemy.

Production URL: mssql+pyodbc://... or mssql+pymssql://... (the Sage 500 company database); the sandbox
is PostgreSQL with the same tables and procedures (sage_amazon.sandbox.sage500). Construct with
`Sage500Target(db_url, company_id="NWD")` or `Sage500Target.from_settings()` (env SAGE500_DB_URL,
SAGE500_COMPANY_ID).

Writes go the way Sage 500 integrations do: sales orders are staged in StgSalesOrder / StgSOLine (one
transaction per session) and imported by spSOapiSalesOrdIns; what failed stays in staging with
ProcessStatus 2 and its reasons in tdmMigrationLogWrk, which become typed errors. Journals are posted
as a GL batch (tglPosting -> spglAPIPostBatchlessGLPosting -> tglTransaction).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import URL, Connection, Engine, bindparam, create_engine, exc, make_url, text

from sage_amazon.money import cents
from sage_amazon.retrying import RetryPolicy, System, retry_call
from sage_amazon.sage import errors as e
from sage_amazon.sage.protocol import (
    CreditNote,
    CreditNoteResult,
    Item,
    Journal,
    JournalResult,
    SalesOrder,
    SalesOrderResult,
    Shipment,
    ShipmentLine,
    StockLevel,
)

from .rules import STATUS_CODES, UNIT_PRICE_QUANTUM, AmazonCarrier, Sage500Rules
from .shim import call_procedure

log = logging.getLogger(__name__)
T = TypeVar("T")

SO_TRAN_TYPE = 801
CREDIT_MEMO_TRAN_TYPE = 502
GL_POSTED = 500
# tdmMigrationLogWrk.ColumnID of a failure -> the typed error it means (first match wins)
_COLUMN_ERRORS: tuple[tuple[str, type[e.SageBusinessError]], ...] = (
    ("CustID", e.UnknownCustomer),
    ("ItemID", e.UnknownItem),
    ("DfltWarehouseID", e.UnknownSite),
    ("WarehouseID", e.UnknownSite),
    ("GLAcctNo", e.UnknownAccount),
)
_GL_ERRORS = {-3: e.UnknownAccount, -5: e.ClosedPeriod, -7: e.UnbalancedJournal}
# Sage column widths that would make the whole staging INSERT fail if exceeded
_WIDTHS = {"CustID": 12, "CustPONo": 30, "CurrID": 3, "ItemID": 30, "DfltWarehouseID": 6}


@dataclass(frozen=True)
class SageShipment:
    """A shipment processed in Sage 500 for an Amazon order, not yet confirmed to Amazon."""

    shipment_no: str  # tsoShipment.TranNo: pass it to mark_shipments_pushed
    shipment: Shipment  # customer_order_ref = AmazonOrderId, carrier = Sage ShipMethID
    amazon_carrier: AmazonCarrier
    order_item_ids: Mapping[int, str]  # SOLineNo -> Amazon OrderItemId (tsoSOLine.UserFld1)


def _timeouts(url: URL, seconds: float) -> dict[str, Any]:
    """Driver arguments bounding connecting and each statement to `seconds` (SAGE_AMAZON_CALL_TIMEOUT_SECONDS)."""
    whole = max(1, int(round(seconds)))
    driver = url.get_driver_name()
    if driver == "psycopg2":
        return {"connect_timeout": whole, "options": f"-c statement_timeout={whole * 1000}"}
    if driver == "pymssql":
        return {"login_timeout": whole, "timeout": whole}
    if driver == "pyodbc":
        return {"timeout": whole}
    return {}


def _retried(method: Callable[..., T]) -> Callable[..., T]:
    """Transient failures (nothing applied: connection refused, dropped before sending, an import that rolled
    back) retried within the target's retry budget, then one SageTransientError naming SAGE500_DB_URL."""
    import functools

    @functools.wraps(method)
    def call(self: Sage500Target, *args: Any, **kwargs: Any) -> T:
        return retry_call(lambda: method(self, *args, **kwargs), system=self.system, what=method.__name__,
                          retry_on=e.SageTransientError, policy=self.retry,
                          give_up=lambda exc, message: e.SageTransientError(message))

    return call


class Sage500Target:
    name = "sage500"

    def __init__(self, db_url: str | URL | Engine, company_id: str | None = None, *,
                 rules: Sage500Rules | None = None, user_id: str = "amazon", retry: RetryPolicy | None = None) -> None:
        self.rules = rules or Sage500Rules.load()
        self.company_id = company_id or self.rules.company_id
        self.user_id = user_id
        self.retry = retry or RetryPolicy.from_config()
        if isinstance(db_url, Engine):
            self.engine = db_url
        else:
            url = make_url(db_url)
            self.engine = create_engine(url, pool_pre_ping=True, connect_args=_timeouts(url, self.retry.timeout))
        self.system = System("Sage 500", "SAGE500_DB_URL", self.engine.url.render_as_string(hide_password=True))
        self._push_table_ready = False

    @classmethod
    def from_settings(cls, settings: Any = None) -> Sage500Target:
        """From an object or mapping with sage500_db_url / sage500_company_id, else the environment."""
        def pick(name: str, env: str, default: str | None) -> str | None:
            if isinstance(settings, Mapping) and settings.get(name):
                return settings[name]
            if settings is not None and getattr(settings, name, None):
                return getattr(settings, name)
            return os.environ.get(env, default)

        url = pick("sage500_db_url", "SAGE500_DB_URL",
                   "postgresql+psycopg2://postgres@127.0.0.1:5432/sage500_sandbox")
        return cls(url, pick("sage500_company_id", "SAGE500_COMPANY_ID", None))

    def __repr__(self) -> str:
        return f"Sage500Target({self.engine.url.render_as_string(hide_password=True)!r}, {self.company_id!r})"

    # -- plumbing -------------------------------------------------------------------------------------
    @contextmanager
    def _tx(self, *, sent: bool = False) -> Iterator[Connection]:
        """A transaction with driver errors turned into the protocol's errors. `sent`: a lost
        connection may have applied the write (unknown outcome) rather than nothing (transient)."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except e.SageError:
            raise
        except exc.DBAPIError as err:
            reason = str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__
            if err.connection_invalidated or isinstance(err, exc.OperationalError):
                if any(s in reason for s in ("does not exist", "authentication failed", "Login failed")):
                    raise e.SageConfigurationError(reason) from err
                raise (e.SageUnknownOutcome if sent else e.SageTransientError)(reason) from err
            if isinstance(err, exc.ProgrammingError):
                raise e.SageConfigurationError(reason) from err
            raise e.MalformedRequest(reason) from err

    def _proc(self, conn: Connection, name: str, inputs: Mapping[str, Any],
              outputs: Sequence[tuple[str, str]]) -> dict[str, Any]:
        return call_procedure(conn, name, inputs, outputs)

    def _next_keys(self, conn: Connection, counter: str, count: int = 1) -> int:
        out = self._proc(conn, "spGetNextBlockSurrogateKey", {"iTableName": counter, "iNumKeys": count},
                         [("oStartKey", "int"), ("oEndKey", "int")])
        return int(out["ostartkey"])

    # -- sales orders ---------------------------------------------------------------------------------
    @_retried
    def find_sales_order(self, customer_order_ref: str) -> str | None:
        with self._tx() as conn:
            return self._existing_orders(conn, [customer_order_ref]).get(customer_order_ref, (None,))[0]

    def _existing_orders(self, conn: Connection, refs: Sequence[str]) -> dict[str, tuple[str, int]]:
        if not refs:
            return {}
        rows = conn.execute(text(
            "SELECT CustPONo, TranNo, Status FROM tsoSalesOrder WHERE CompanyID = :c AND TranType = 801 "
            "AND CustPONo IN :refs ORDER BY SOKey").bindparams(bindparam("refs", expanding=True)),
            {"c": self.company_id, "refs": list(refs)})
        found: dict[str, tuple[str, int]] = {}
        for po, tran_no, status in rows:
            found.setdefault(po, (tran_no, status))
        return found

    @_retried
    def create_sales_order(self, order: SalesOrder) -> SalesOrderResult:
        result = self.create_sales_orders([order])[0]
        if isinstance(result, e.SageError):
            raise result
        return result

    def create_sales_orders(self, orders: Sequence[SalesOrder]) -> list[SalesOrderResult | e.SageError]:
        """Import orders as one staging session; one result per order, in order: a SalesOrderResult,
        or the typed error with Sage's reason (nothing is raised for a refused order)."""
        results: dict[str, SalesOrderResult | e.SageError] = {}
        with self._tx() as conn:
            existing = self._existing_orders(conn, [o.customer_order_ref for o in orders])
        to_stage: list[tuple[SalesOrder, str]] = []
        promote: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for order in orders:
            ref = order.customer_order_ref
            if ref in seen:  # the same order twice in one call: one result for both
                continue
            seen.add(ref)
            try:
                status = self._status_text(order)
                if ref in existing:
                    tran_no, current = existing[ref]
                    results[ref] = SalesOrderResult(tran_no, created=False)
                    if current == STATUS_CODES["Pending Approval"] and status != "Pending Approval":
                        promote.append((ref, tran_no, status))
                else:
                    self._check_widths(order)
                    to_stage.append((order, status))
            except e.SageError as err:
                results[ref] = err
        if to_stage:
            results.update(self._import_session(to_stage))
        if promote:  # Amazon released a pending order: release it in Sage too (the order is adopted anyway)
            try:
                self._update_headers([(tran_no, status, "") for _, tran_no, status in promote])
            except e.SageError as err:
                log.warning("could not release pending Sage 500 orders %s: %s", [p[1] for p in promote], err)
        return [results[o.customer_order_ref] for o in orders]

    def _status_text(self, order: SalesOrder) -> str:
        try:
            return self.rules.sage_status(order.status or "open")
        except KeyError as err:
            raise e.MalformedRequest(str(err.args[0]), refused=f"sales order {order.customer_order_ref}") from err

    def _check_widths(self, order: SalesOrder) -> None:
        values = {"CustID": order.customer, "CustPONo": order.customer_order_ref, "CurrID": order.currency,
                  "DfltWarehouseID": order.site}
        long_items = [line.item for line in order.lines if len(line.item) > _WIDTHS["ItemID"]]
        if long_items:
            values["ItemID"] = long_items[0]
        for column, value in values.items():
            if len(value or "") > _WIDTHS[column]:
                raise e.MalformedRequest(f"{column} '{value}' is longer than Sage's {_WIDTHS[column]} characters",
                                         refused=f"sales order {order.customer_order_ref}")
        if not order.lines:
            raise e.MalformedRequest("an order needs at least one line",
                                     refused=f"sales order {order.customer_order_ref}")

    def _import_session(self, staged: Sequence[tuple[SalesOrder, str]]) -> dict[str, SalesOrderResult | e.SageError]:
        refs = [o.customer_order_ref for o, _ in staged]
        with self._tx() as conn:
            session = self._next_keys(conn, "tdmMigrationLogWrk")
            first_no = self._next_keys(conn, "tsoSalesOrder", len(staged))
            tran_nos = {o.customer_order_ref: f"{first_no + i:010d}" for i, (o, _) in enumerate(staged)}
            self._purge_stale_staging(conn, refs)
            conn.execute(text(_STG_HEADER_SQL), [self._header_row(session, tran_nos[o.customer_order_ref], o, s)
                                                 for o, s in staged])
            conn.execute(text(_STG_LINE_SQL), [row for o, _ in staged
                                               for row in self._line_rows(session, tran_nos[o.customer_order_ref], o)])
        outcome = self._run_import(session)
        with self._tx() as conn:
            created = self._existing_orders(conn, refs)
            failures = self._session_failures(conn, session)
        results: dict[str, SalesOrderResult | e.SageError] = {}
        for order, _ in staged:
            ref, tran_no = order.customer_order_ref, tran_nos[order.customer_order_ref]
            refused = f"sales order {ref} (Sage 500 staging TranNo {tran_no}, session {session})"
            if ref in created:
                results[ref] = SalesOrderResult(created[ref][0], created=True)
            elif tran_no in failures:
                results[ref] = _order_error(failures[tran_no], refused)
            elif outcome.get("_oretval") == 3:
                results[ref] = e.SageConfigurationError(_session_reason(failures, "bad import parameters"),
                                                        refused=refused)
            else:  # the procedure rolled back (return value 0): nothing was created, safe to resend
                results[ref] = e.SageTransientError(_session_reason(failures, "import did not process the order"),
                                                    refused=refused)
        return results

    def _run_import(self, session: int) -> dict[str, Any]:
        outcome: dict[str, Any] = {}
        for _ in range(1000):  # the procedure processes a bounded number of rows per call
            with self._tx(sent=True) as conn:
                outcome = self._proc(conn, "spSOapiSalesOrdIns", {
                    "iCancel": 0, "iSessionKey": session, "iCompanyID": self.company_id, "iRptOption": 3,
                    "iPrintWarnings": 0, "UseStageTable": 1,
                }, [("oContinue", "smallint"), ("oRecsProcessed", "int"), ("oFailedRecs", "int"),
                    ("oTotalRecs", "int"), ("_oRetVal", "int")])
            log.info("spSOapiSalesOrdIns session %s: processed %s, failed %s, return %s", session,
                     outcome.get("orecsprocessed"), outcome.get("ofailedrecs"), outcome.get("_oretval"))
            if outcome.get("ocontinue") != 1 or outcome.get("_oretval") in (0, 3):
                break
        return outcome

    def staging_dead_letters(self) -> list[dict[str, Any]]:
        """Orders Sage refused and still holds in staging (ProcessStatus 2), one row per reason:
        customer_order_ref, tran_no, session, column, value, reason."""
        with self._tx() as conn:
            rows = conn.execute(text(
                "SELECT o.CustPONo, o.TranNo, o.SessionKey, l.ColumnID, l.ColumnValue, l.Comment "
                "FROM StgSalesOrder o JOIN tdmMigrationLogWrk l ON l.SessionKey = o.SessionKey AND l.EntityID = o.TranNo "
                "AND l.Status = 1 WHERE o.ProcessStatus = 2 ORDER BY o.RowKey, l.LogKey")).all()
        keys = ("customer_order_ref", "tran_no", "session", "column", "value", "reason")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def _purge_stale_staging(self, conn: Connection, refs: Sequence[str]) -> None:
        """Earlier failed attempts (ProcessStatus 2) of the orders being re-sent leave Sage's staging, so
        the staging table shows each order's latest refusal only; the tdmMigrationLogWrk history stays."""
        params = {"refs": list(refs)}
        conn.execute(text(
            "DELETE FROM StgSOLine WHERE EXISTS (SELECT 1 FROM StgSalesOrder o WHERE o.SessionKey = StgSOLine.SessionKey "
            "AND o.TranNo = StgSOLine.TranNo AND o.ProcessStatus = 2 AND o.CustPONo IN :refs)").bindparams(
            bindparam("refs", expanding=True)), params)
        conn.execute(text("DELETE FROM StgSalesOrder WHERE ProcessStatus = 2 AND CustPONo IN :refs").bindparams(
            bindparam("refs", expanding=True)), params)

    def _session_failures(self, conn: Connection, session: int) -> dict[str, list[dict]]:
        rows = conn.execute(text(
            "SELECT EntityID, ColumnID, ColumnValue, Comment, Duplicate FROM tdmMigrationLogWrk "
            "WHERE SessionKey = :s AND Status = 1 ORDER BY LogKey"), {"s": session}).mappings()
        failures: dict[str, list[dict]] = {}
        for row in rows:
            entry = {k.lower(): v for k, v in row.items()}
            failures.setdefault(entry["entityid"], []).append(entry)
        return failures

    def _header_row(self, session: int, tran_no: str, order: SalesOrder, status: str) -> dict:
        ship = order.ship_to
        lines = list(ship.lines) if ship else []
        return {
            "SessionKey": session, "TranNo": tran_no, "CustID": order.customer, "CustPONo": order.customer_order_ref,
            "TranDate": order.order_date, "CurrID": order.currency, "Status": status,
            "DfltWarehouseID": order.site or None, "FreightAmt": order.freight, "TradeDiscAmt": Decimal("0"),
            "STaxAmt": Decimal("0"), "Hold": "No", "TranCmnt": f"Amazon order {order.customer_order_ref}"[:50],
            "UserFld1": order.fulfillment_channel[:15] or None, "UserFld2": self.rules.marker[:15],
            "UserFld3": order.order_type[:15] or None,
            "DfltShipToAddrName": ship.name[:40] if ship else None,
            "DfltShipToAddrLine1": lines[0][:40] if len(lines) > 0 else None,
            "DfltShipToAddrLine2": lines[1][:40] if len(lines) > 1 else None,
            "DfltShipToAddrLine3": lines[2][:40] if len(lines) > 2 else None,
            "DfltShipToCity": ship.city[:20] if ship else None,
            "DfltShipToStateID": ship.state[:3] if ship else None,
            "DfltShipToPostalCode": ship.postal_code[:10] if ship else None,
            "DfltShipToCountryID": ship.country[:3] if ship else None,
        }

    def _line_rows(self, session: int, tran_no: str, order: SalesOrder) -> list[dict]:
        sales_account = self.rules.gl_accounts.get("sales")
        rows = []
        for line in order.lines:
            price = line.gross_price.quantize(UNIT_PRICE_QUANTUM)  # what DECIMAL(15,5) will hold
            rows.append({
                "SessionKey": session, "TranNo": tran_no, "SOLineNo": line.line_no, "ItemID": line.item,
                "Description": line.description[:40] or None, "QtyOrd": line.quantity, "UnitPrice": price,
                "TradeDiscAmt": line.discount, "ExtAmt": cents(line.quantity * price) - line.discount,
                "WarehouseID": order.site or None, "GLAcctNo": sales_account,
                "UserFld1": line.external_line_ref[:15] or None})
        return rows

    @_retried
    def close_sales_order(self, sage_number: str, reason: str = "") -> None:
        with self._tx() as conn:
            row = conn.execute(text("SELECT Status FROM tsoSalesOrder WHERE CompanyID = :c AND TranType = 801 "
                                    "AND TranNo = :t"), {"c": self.company_id, "t": sage_number}).first()
        if row is None:
            raise e.MalformedRequest(f"sales order {sage_number} does not exist", refused=f"close {sage_number}")
        if row[0] in (STATUS_CODES["Canceled"], STATUS_CODES["Closed"]):
            return
        self._update_headers([(sage_number, self.rules.sage_status("Canceled"), reason)])

    def _update_headers(self, updates: Sequence[tuple[str, str, str]]) -> None:
        """Status changes through the import procedure (Action 2 = update), as Sage allows them."""
        with self._tx() as conn:
            session = self._next_keys(conn, "tdmMigrationLogWrk")
            conn.execute(text(
                "INSERT INTO StgSalesOrder (SessionKey, ProcessStatus, TranNo, Status, TranCmnt, Action) "
                "VALUES (:s, 0, :t, :st, :cm, 2)"),
                [{"s": session, "t": t, "st": st, "cm": f"Closed: {reason}"[:50] if reason else None}
                 for t, st, reason in updates])
        self._run_import(session)
        with self._tx() as conn:
            failures = self._session_failures(conn, session)
        for tran_no, _, _ in updates:
            if tran_no in failures:
                raise _order_error(failures[tran_no], f"sales order {tran_no} update (session {session})")

    # -- shipments ------------------------------------------------------------------------------------
    @_retried
    def record_shipment(self, shipment: Shipment) -> None:
        """Record an Amazon-side shipment (FBA) in Sage: tsoShipment / tsoShipLine, shipped quantities,
        lines and order closed when complete. Idempotent on (order, tracking number, ship date); such
        shipments are marked as already known to Amazon so they are never pushed back."""
        self._ensure_push_table()
        with self._tx() as conn:
            so = conn.execute(text(
                "SELECT SOKey, TranNo, CustKey, DfltWhseKey FROM tsoSalesOrder WHERE CompanyID = :c AND TranType = 801 "
                "AND (CustPONo = :po OR TranNo = :no) ORDER BY SOKey"),
                {"c": self.company_id, "po": shipment.customer_order_ref, "no": shipment.sage_number}).first()
            if so is None:  # e.g. the order was refused and sits in the dead letters
                raise e.MalformedRequest("no Sage 500 sales order for this shipment",
                                         refused=f"shipment of {shipment.customer_order_ref}")
            so_key, _, cust_key, whse_key = so
            if conn.execute(text(
                    "SELECT 1 FROM tsoShipment sh WHERE sh.CompanyID = :c AND sh.ShipDate = :d "
                    "AND COALESCE(sh.TrackingNo, '') = :trk AND EXISTS (SELECT 1 FROM tsoShipLine x "
                    "JOIN tsoSOLine sl ON sl.SOLineKey = x.SOLineKey WHERE x.ShipKey = sh.ShipKey AND sl.SOKey = :so)"),
                    {"c": self.company_id, "d": shipment.ship_date, "trk": shipment.tracking_number,
                     "so": so_key}).first():
                return
            open_lines = conn.execute(text(
                "SELECT sl.SOLineKey, sl.SOLineNo, sl.ItemKey, d.SOLineDistKey, d.QtyOrd - d.QtyShip AS OpenQty "
                "FROM tsoSOLine sl JOIN tsoSOLineDist d ON d.SOLineKey = sl.SOLineKey "
                "WHERE sl.SOKey = :so AND d.QtyOrd > d.QtyShip ORDER BY sl.SOLineNo"), {"so": so_key}).all()
            wanted = {ln.line_no: ln.quantity for ln in shipment.lines}
            ship_lines = [(r, min(r[4], wanted.get(r[1], r[4]))) for r in open_lines if not wanted or r[1] in wanted]
            ship_lines = [(r, q) for r, q in ship_lines if q > 0]
            if not ship_lines:
                return  # everything already shipped
            meth = self.rules.sage_ship_method(shipment.carrier)
            meth_key = conn.execute(text("SELECT ShipMethKey FROM tciShipMethod WHERE CompanyID = :c AND ShipMethID = :m"),
                                    {"c": self.company_id, "m": meth}).scalar() if meth else None
            tran_no = f"{self._next_keys(conn, 'tsoShipment'):010d}"
            conn.execute(text(
                "INSERT INTO tsoShipment (CompanyID, TranNo, TranID, TranType, CustKey, ShipDate, ShipMethKey, WhseKey, "
                "TrackingNo, CreateUserID) VALUES (:c, :t, :tid, 810, :cust, :d, :m, :w, :trk, :u)"),
                {"c": self.company_id, "t": tran_no, "tid": f"{tran_no}-SH", "cust": cust_key, "d": shipment.ship_date,
                 "m": meth_key, "w": whse_key, "trk": shipment.tracking_number or None, "u": self.user_id})
            ship_key = conn.execute(text("SELECT ShipKey FROM tsoShipment WHERE CompanyID = :c AND TranType = 810 "
                                         "AND TranNo = :t"), {"c": self.company_id, "t": tran_no}).scalar_one()
            for r, qty in ship_lines:
                conn.execute(text("INSERT INTO tsoShipLine (ShipKey, SOLineKey, ItemKey, QtyShipped) "
                                  "VALUES (:k, :l, :i, :q)"), {"k": ship_key, "l": r[0], "i": r[2], "q": qty})
                conn.execute(text(
                    "UPDATE tsoSOLineDist SET QtyShip = QtyShip + :q, ShipDate = :d, "
                    "Status = CASE WHEN QtyShip + :q >= QtyOrd THEN 2 ELSE Status END WHERE SOLineDistKey = :k"),
                    {"q": qty, "d": shipment.ship_date, "k": r[3]})
            conn.execute(text(
                "UPDATE tsoSOLine SET Status = 2 WHERE SOKey = :so AND NOT EXISTS (SELECT 1 FROM tsoSOLineDist d "
                "WHERE d.SOLineKey = tsoSOLine.SOLineKey AND d.QtyShip < d.QtyOrd)"), {"so": so_key})
            conn.execute(text(
                "UPDATE tsoSalesOrder SET Status = 4, OpenAmt = 0 WHERE SOKey = :so AND Status IN (1, 4, 6) "
                "AND NOT EXISTS (SELECT 1 FROM tsoSOLine sl WHERE sl.SOKey = :so AND sl.Status = 1)"), {"so": so_key})
            conn.execute(text("INSERT INTO xamzshipmentpush (shipkey, pushed, source, reference) "
                              "VALUES (:k, CURRENT_TIMESTAMP, 'AMAZON', :r)"),
                         {"k": ship_key, "r": shipment.customer_order_ref[:50]})

    @_retried
    def unpushed_shipments(self, limit: int | None = None) -> list[SageShipment]:
        """Shipments processed in Sage for Amazon orders (not FBA) that Amazon has not been told about."""
        self._ensure_push_table()
        with self._tx() as conn:
            rows = conn.execute(text(
                "SELECT sh.ShipKey, sh.TranNo, sh.ShipDate, sh.TrackingNo, sm.ShipMethID, so.CustPONo, so.TranNo, "
                "sl.SOLineNo, i.ItemID, x.QtyShipped, sl.UserFld1 "
                "FROM tsoShipment sh JOIN tsoShipLine x ON x.ShipKey = sh.ShipKey "
                "JOIN tsoSOLine sl ON sl.SOLineKey = x.SOLineKey JOIN tsoSalesOrder so ON so.SOKey = sl.SOKey "
                "LEFT JOIN tciShipMethod sm ON sm.ShipMethKey = sh.ShipMethKey LEFT JOIN timItem i ON i.ItemKey = x.ItemKey "
                "WHERE sh.CompanyID = :c AND so.UserFld2 = :marker AND COALESCE(so.UserFld1, '') <> 'AFN' "
                "AND NOT EXISTS (SELECT 1 FROM xamzshipmentpush p WHERE p.shipkey = sh.ShipKey) "
                "ORDER BY sh.ShipKey, sl.SOLineNo"), {"c": self.company_id, "marker": self.rules.marker}).all()
        grouped: dict[int, list] = {}
        for row in rows:
            grouped.setdefault(row[0], []).append(row)
        out: list[SageShipment] = []
        for group in grouped.values():
            _, ship_no, ship_date, tracking, meth, po, so_no = group[0][:7]
            shipment = Shipment(customer_order_ref=po, sage_number=so_no, ship_date=ship_date, carrier=meth or "",
                                tracking_number=tracking or "",
                                lines=tuple(ShipmentLine(r[7], r[8], Decimal(r[9])) for r in group))
            out.append(SageShipment(ship_no, shipment, self.rules.amazon_carrier(meth or ""),
                                    {r[7]: r[10] or "" for r in group}))
            if limit and len(out) >= limit:
                break
        return out

    @_retried
    def mark_shipments_pushed(self, shipment_nos: Sequence[str], reference: str = "") -> int:
        """Record that Amazon confirmed these shipments (tsoShipment.TranNo); returns how many were new."""
        self._ensure_push_table()
        done = 0
        with self._tx() as conn:
            for ship_no in shipment_nos:
                done += conn.execute(text(
                    "INSERT INTO xamzshipmentpush (shipkey, pushed, source, reference) "
                    "SELECT sh.ShipKey, CURRENT_TIMESTAMP, 'SAGE', :r FROM tsoShipment sh WHERE sh.CompanyID = :c "
                    "AND sh.TranType = 810 AND sh.TranNo = :t "
                    "AND NOT EXISTS (SELECT 1 FROM xamzshipmentpush p WHERE p.shipkey = sh.ShipKey)"),
                    {"c": self.company_id, "t": ship_no, "r": reference[:50] or None}).rowcount
        return done

    def _ensure_push_table(self) -> None:
        """The integration's own table (not Sage's): which Sage shipments Amazon already knows."""
        if self._push_table_ready:
            return
        from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

        table = Table("xamzshipmentpush", MetaData(), Column("shipkey", Integer, primary_key=True, autoincrement=False),
                      Column("pushed", DateTime, nullable=False), Column("source", String(10), nullable=False),
                      Column("reference", String(50)))
        with self._tx() as conn:
            table.create(conn, checkfirst=True)
        self._push_table_ready = True

    # -- journals -------------------------------------------------------------------------------------
    @_retried
    def find_journal(self, reference: str) -> str | None:
        with self._tx() as conn:
            return conn.execute(text(
                "SELECT BatchID FROM tciBatchLog WHERE CompanyID = :c AND BatchCmnt = :r AND PostStatus = 500 "
                "ORDER BY BatchKey"), {"c": self.company_id, "r": reference}).scalar()

    @_retried
    def post_journal(self, journal: Journal) -> JournalResult:
        refused = f"journal {journal.reference}"
        existing = Sage500Target.find_journal.__wrapped__(self, journal.reference)  # retried by post_journal
        if existing:
            return JournalResult(existing, created=False)
        rows = self._posting_rows(journal, refused)
        with self._tx() as conn:
            accounts = self._account_keys(conn, {r["GLAcctNo"] for r in rows}, refused)
            batch_key = self._next_keys(conn, "tciBatchLog")
        with self._tx(sent=True) as conn:
            conn.execute(text(
                "INSERT INTO tglPosting (BatchKey, CurrID, ExtCmnt, GLAcctKey, PostAmt, PostAmtHC, PostCmnt, PostDate, "
                "TranDate, SourceModuleNo, TranNo, TranType) VALUES (:b, :cur, :ext, :acct, :amt, :hc, :cmnt, :d, :d, "
                "1, :tn, 101)"),
                [{"b": batch_key, "cur": journal.currency, "ext": r["ExtCmnt"], "acct": accounts[r["GLAcctNo"]],
                  "amt": r["PostAmt"], "hc": r["PostAmtHC"], "cmnt": r["PostCmnt"], "d": journal.accounting_date,
                  "tn": f"{batch_key:010d}"} for r in rows])
            out = self._proc(conn, "spglAPIPostBatchlessGLPosting",
                             {"iCompanyID": self.company_id, "iBatchKey": batch_key, "iBatchCmnt": journal.reference},
                             [("oBatchID", "varchar(15)"), ("oPostStatus", "int"), ("oRetVal", "int")])
            reasons = [] if out["oretval"] == 1 else list(conn.execute(text(
                "SELECT ErrorCmnt FROM tciErrorLog WHERE BatchKey = :b AND Severity = 2 ORDER BY ErrorLogKey"),
                {"b": batch_key}).scalars())
        if out["oretval"] == 1:
            return JournalResult(out["obatchid"], created=True)
        cls = _GL_ERRORS.get(out["opoststatus"], e.MalformedRequest)
        reason = "; ".join(reasons) or f"GL posting refused (PostStatus {out['opoststatus']})"
        raise cls(reason, refused=f"{refused} (Sage 500 batch {out['obatchid']})", messages=tuple(reasons))

    def _posting_rows(self, journal: Journal, refused: str) -> list[dict]:
        if len(journal.reference) > 50 or not journal.reference:
            raise e.MalformedRequest("the journal reference must be 1 to 50 characters (tciBatchLog.BatchCmnt)",
                                     refused=refused)
        lines = [ln for ln in journal.lines if ln.debit or ln.credit]  # a zero line posts nothing
        if len(lines) < 2:
            raise e.MalformedRequest("a journal needs at least two non-zero lines", refused=refused)
        rows = []
        for line in lines:
            if (line.debit > 0) == (line.credit > 0) or line.debit < 0 or line.credit < 0:
                raise e.MalformedRequest(f"line on {line.account}: exactly one of debit/credit must be positive",
                                         refused=refused)
            amount = line.debit - line.credit
            if line.ledger_debit is not None or line.ledger_credit is not None:
                home = (line.ledger_debit or Decimal("0")) - (line.ledger_credit or Decimal("0"))
            else:
                home = cents(amount * journal.rate)
            rows.append({"GLAcctNo": line.account.replace("-", ""), "PostAmt": amount, "PostAmtHC": home,
                         "PostCmnt": (line.description or journal.description)[:50] or None,
                         "ExtCmnt": " ".join(x for x in (journal.reference, line.reference) if x)[:255]})
        _absorb_home_rounding(rows)
        return rows

    def _account_keys(self, conn: Connection, numbers: set[str], refused: str) -> dict[str, int]:
        found = dict(conn.execute(text(
            "SELECT GLAcctNo, GLAcctKey FROM tglAccount WHERE CompanyID = :c AND GLAcctNo IN :n").bindparams(
            bindparam("n", expanding=True)), {"c": self.company_id, "n": sorted(numbers)}).all())
        missing = sorted(numbers - set(found))
        if missing:
            raise e.UnknownAccount(f"GL account {', '.join(missing)} does not exist in company {self.company_id} "
                                   "(tglAccount)", refused=refused)
        return found

    # -- credit notes ---------------------------------------------------------------------------------
    @_retried
    def create_credit_note(self, note: CreditNote) -> CreditNoteResult:
        """An AR credit memo (tarInvoice TranType 502), once per reference (kept in TranCmnt)."""
        refused = f"credit note {note.reference}"
        if len(note.reference) > 50:
            raise e.MalformedRequest("the credit note reference must be at most 50 characters", refused=refused)
        with self._tx() as conn:
            found = conn.execute(text("SELECT TranNo FROM tarInvoice WHERE CompanyID = :c AND TranType = 502 "
                                      "AND TranCmnt = :r"), {"c": self.company_id, "r": note.reference}).scalar()
            if found:
                return CreditNoteResult(found, created=False)
            cust = conn.execute(text("SELECT CustKey FROM tarCustomer WHERE CompanyID = :c AND CustID = :id "
                                     "AND Status IN (1, 3)"), {"c": self.company_id, "id": note.customer}).scalar()
            if cust is None:
                raise e.UnknownCustomer(f"Invalid Customer ID '{note.customer}'", refused=refused)
            items = dict(conn.execute(text(
                "SELECT ItemID, ItemKey FROM timItem WHERE CompanyID = :c AND Status = 1 AND ItemID IN :i").bindparams(
                bindparam("i", expanding=True)), {"c": self.company_id, "i": [ln.item for ln in note.lines] or [""]}).all())
            missing = sorted({ln.item for ln in note.lines} - set(items))
            if missing:
                raise e.UnknownItem(f"Invalid Item ID '{', '.join(missing)}'", refused=refused)
        with self._tx(sent=True) as conn:
            tran_no = f"{self._next_keys(conn, 'tarInvoice'):010d}"
            amounts = [cents(ln.quantity * ln.net_price) for ln in note.lines]
            conn.execute(text(
                "INSERT INTO tarInvoice (CompanyID, TranNo, TranID, TranType, CustKey, TranDate, CurrID, SalesAmt, "
                "TranAmt, CustPONo, TranCmnt) VALUES (:c, :t, :tid, 502, :k, :d, :cur, :amt, :amt, :po, :r)"),
                {"c": self.company_id, "t": tran_no, "tid": f"{tran_no}-CM", "k": cust, "d": note.document_date,
                 "cur": note.currency, "amt": sum(amounts, Decimal("0")), "po": note.original_order_ref or None,
                 "r": note.reference})
            invc = conn.execute(text("SELECT InvcKey FROM tarInvoice WHERE CompanyID = :c AND TranType = 502 "
                                     "AND TranNo = :t"), {"c": self.company_id, "t": tran_no}).scalar_one()
            conn.execute(text(
                "INSERT INTO tarInvoiceDetl (InvcKey, SeqNo, ItemKey, Description, QtyShipped, UnitPrice, ExtAmt) "
                "VALUES (:k, :n, :i, :d, :q, :p, :a)"),
                [{"k": invc, "n": n, "i": items[ln.item], "d": ln.description[:40] or None, "q": ln.quantity,
                  "p": ln.net_price, "a": amt} for n, (ln, amt) in enumerate(zip(note.lines, amounts, strict=True), 1)])
        return CreditNoteResult(tran_no, created=True)

    # -- reads ----------------------------------------------------------------------------------------
    @_retried
    def read_stock(self, site: str, items: Sequence[str] | None = None) -> list[StockLevel]:
        with self._tx() as conn:
            if conn.execute(text("SELECT 1 FROM timWarehouse WHERE CompanyID = :c AND WhseID = :w"),
                            {"c": self.company_id, "w": site}).first() is None:
                raise e.UnknownSite(f"Invalid Warehouse ID '{site}'", refused=f"stock of {site}")
            # available = on hand in the warehouse's bins - quantity committed to sales orders
            sql = ("SELECT i.ItemID, SUM(bi.QtyOnHand) - COALESCE(MAX(inv.QtyOnSO), 0) FROM timWhseBinInvt bi "
                   "JOIN timWhseBin b ON b.WhseBinKey = bi.WhseBinKey JOIN timWarehouse w ON w.WhseKey = b.WhseKey "
                   "JOIN timItem i ON i.ItemKey = bi.ItemKey "
                   "LEFT JOIN timInventory inv ON inv.WhseKey = w.WhseKey AND inv.ItemKey = i.ItemKey "
                   "WHERE w.CompanyID = :c AND w.WhseID = :w")
            params: dict[str, Any] = {"c": self.company_id, "w": site}
            stmt = text(sql + " GROUP BY i.ItemID ORDER BY i.ItemID")
            if items is not None:
                stmt = text(sql + " AND i.ItemID IN :i GROUP BY i.ItemID ORDER BY i.ItemID").bindparams(
                    bindparam("i", expanding=True))
                params["i"] = list(items) or [""]
            return [StockLevel(site, item, Decimal(qty)) for item, qty in conn.execute(stmt, params)]

    @_retried
    def read_items(self) -> list[Item]:
        with self._tx() as conn:
            rows = conn.execute(text(
                "SELECT i.ItemID, d.ShortDesc, u.UnitMeasID, i.Status FROM timItem i "
                "LEFT JOIN timItemDescription d ON d.ItemKey = i.ItemKey AND d.LanguageID = 1033 "
                "LEFT JOIN tciUnitMeasure u ON u.UnitMeasKey = i.SalesUnitMeasKey "
                "WHERE i.CompanyID = :c AND i.Status <> 4 ORDER BY i.ItemID"), {"c": self.company_id}).all()
        return [Item(code, desc or "", unit or "EA", active=status == 1) for code, desc, unit, status in rows]


def _absorb_home_rounding(rows: list[dict]) -> None:
    """Converting each line to home currency can leave cents of difference in a journal that balances
    in its own currency; the largest line absorbs them, as Sage's own currency revaluation would."""
    if sum(r["PostAmt"] for r in rows) != 0:
        return
    residue = sum(r["PostAmtHC"] for r in rows)
    if residue and abs(residue) <= Decimal("0.01") * len(rows):
        largest = max(rows, key=lambda r: abs(r["PostAmtHC"]))
        largest["PostAmtHC"] -= residue


def _order_error(failures: list[dict], refused: str) -> e.SageError:
    comments = tuple(f["comment"] for f in failures if f.get("comment"))
    columns = {f.get("columnid") for f in failures}
    cls: Callable[..., e.SageError] = e.MalformedRequest
    for column, error in _COLUMN_ERRORS:
        if column in columns:
            cls = error
            break
    return cls("; ".join(comments) or "refused by spSOapiSalesOrdIns", refused=refused, messages=comments)


def _session_reason(failures: Mapping[str, list[dict]], default: str) -> str:
    rows = [f["comment"] for key, fs in failures.items() for f in fs if key in ("spSOapiSalesOrdIns", "StgSalesOrder")]
    return "; ".join(rows) or default


_STG_HEADER_COLUMNS = (
    "SessionKey", "TranNo", "CustID", "CustPONo", "TranDate", "CurrID", "Status", "DfltWarehouseID", "FreightAmt",
    "TradeDiscAmt", "STaxAmt", "Hold", "TranCmnt", "UserFld1", "UserFld2", "UserFld3", "DfltShipToAddrName",
    "DfltShipToAddrLine1", "DfltShipToAddrLine2", "DfltShipToAddrLine3", "DfltShipToCity", "DfltShipToStateID",
    "DfltShipToPostalCode", "DfltShipToCountryID")
_STG_HEADER_SQL = (f"INSERT INTO StgSalesOrder (ProcessStatus, Action, {', '.join(_STG_HEADER_COLUMNS)}) "
                   f"VALUES (0, 1, {', '.join(':' + c for c in _STG_HEADER_COLUMNS)})")
_STG_LINE_COLUMNS = ("SessionKey", "TranNo", "SOLineNo", "ItemID", "Description", "QtyOrd", "UnitPrice",
                     "TradeDiscAmt", "ExtAmt", "WarehouseID", "GLAcctNo", "UserFld1")
_STG_LINE_SQL = (f"INSERT INTO StgSOLine (ProcessStatus, Action, CmntOnly, Status, {', '.join(_STG_LINE_COLUMNS)}) "
                 f"VALUES (0, 1, 'No', 'Open', {', '.join(':' + c for c in _STG_LINE_COLUMNS)})")
