"""Sales orders on Sage 500: staged in StgSalesOrder / StgSOLine and imported by spSOapiSalesOrdIns; refusals
read back from tdmMigrationLogWrk as typed errors; status changes (close) through the same procedure."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, text

from sage_amazon.money import cents
from sage_amazon.sage import errors as e
from sage_amazon.sage.protocol import (
    SalesOrder,
    SalesOrderResult,
)

from .base import Sage500Base, _retried
from .rules import STATUS_CODES, UNIT_PRICE_QUANTUM

log = logging.getLogger(__name__)

# tdmMigrationLogWrk.ColumnID of a failure -> the typed error it means (first match wins)
_COLUMN_ERRORS: tuple[tuple[str, type[e.SageBusinessError]], ...] = (
    ("CustID", e.UnknownCustomer),
    ("ItemID", e.UnknownItem),
    ("DfltWarehouseID", e.UnknownSite),
    ("WarehouseID", e.UnknownSite),
    ("GLAcctNo", e.UnknownAccount),
)

# Sage column widths that would make the whole staging INSERT fail if exceeded
_WIDTHS = {"CustID": 12, "CustPONo": 30, "CurrID": 3, "ItemID": 30, "DfltWarehouseID": 6}


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


class SalesOrders(Sage500Base):
    """Sales orders: create once per AmazonOrderId, close, and what Sage refused."""

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
        if not order.invoiced and not order.order_type:
            raise e.SageConfigurationError(
                "an order never invoiced (revenue: settlement) needs accounts.yaml targets.sage500."
                "uninvoiced_order_type", refused=f"sales order {order.customer_order_ref}")
        ship = order.ship_to
        lines = list(ship.lines) if ship else []
        return {
            "SessionKey": session, "TranNo": tran_no, "CustID": order.customer, "CustPONo": order.customer_order_ref,
            "TranDate": order.order_date, "CurrID": order.currency, "Status": status,
            "DfltWarehouseID": order.site or None, "FreightAmt": order.freight, "TradeDiscAmt": Decimal("0"),
            "STaxAmt": order.tax, "Hold": "No", "TranCmnt": f"Amazon order {order.customer_order_ref}"[:50],
            "UserFld1": order.fulfillment_channel[:15] or None, "UserFld2": self.rules.marker[:15],
            # the order type; under revenue: settlement the uninvoiced one (accounts.yaml targets.sage500.
            # uninvoiced_order_type): no invoice batch is run for orders of that type
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
