"""What a Sage 500 user does by hand, for tests and demos: close or reopen a GL period, process a
shipment of an order (Process Shipments), invoice what was shipped (Create / Process Invoices), and look at the
import dead letters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, text

from .seed import COMPANY_ID


def set_period_status(engine: Engine, year: int, month: int, *, closed: bool, company: str = COMPANY_ID) -> None:
    with engine.begin() as conn:
        done = conn.execute(text(
            "UPDATE tglFiscalPeriod SET Status = :s WHERE CompanyID = :c AND :d BETWEEN StartDate AND EndDate"),
            {"s": 2 if closed else 1, "c": company, "d": date(year, month, 1)}).rowcount
    if not done:
        raise ValueError(f"no fiscal period {year}-{month:02d} in company {company}")


def close_period(engine: Engine, year: int, month: int, company: str = COMPANY_ID) -> None:
    set_period_status(engine, year, month, closed=True, company=company)


def reopen_period(engine: Engine, year: int, month: int, company: str = COMPANY_ID) -> None:
    set_period_status(engine, year, month, closed=False, company=company)


def ship_order(engine: Engine, amazon_order_id: str, ship_method: str, tracking_no: str,
               ship_date: date | None = None, lines: Mapping[int, Decimal] | None = None,
               company: str = COMPANY_ID) -> str:
    """Ship an open sales order (found by CustPONo = AmazonOrderId) as a shipping clerk would.

    `lines` maps SOLineNo -> quantity for a partial shipment; by default every open quantity ships.
    Returns the shipment TranNo.
    """
    with engine.begin() as conn:
        tran_no = conn.execute(text(
            "SELECT TranNo FROM tsoSalesOrder WHERE CompanyID = :c AND TranType = 801 AND CustPONo = :po"),
            {"c": company, "po": amazon_order_id}).scalar()
        if tran_no is None:
            raise ValueError(f"no sales order for Amazon order {amazon_order_id}")
        line_nos = list(lines) if lines else None
        qtys = [Decimal(q) for q in lines.values()] if lines else None
        return conn.execute(text(
            "CALL spsoSandboxShipOrder(:c, :t, :m, :trk, :d, CAST(:ln AS int[]), CAST(:q AS numeric[]), NULL)"),
            {"c": company, "t": tran_no, "m": ship_method, "trk": tracking_no, "d": ship_date or date.today(),
             "ln": line_nos, "q": qtys}).scalar_one()


def invoice_shipments(engine: Engine, invoice_date: date, amazon_order_id: str | None = None,
                      company: str = COMPANY_ID) -> tuple[int, int]:
    """Invoice shipped, uninvoiced sales-order lines as Sage's Create / Process Invoices do (spsoCreateInvoices):
    one posted AR invoice per order (all orders, or the one whose CustPONo is `amazon_order_id`).
    Returns (invoices created, invoices refused)."""
    with engine.begin() as conn:
        tran_no = None
        if amazon_order_id is not None:
            tran_no = conn.execute(text(
                "SELECT TranNo FROM tsoSalesOrder WHERE CompanyID = :c AND TranType = 801 AND CustPONo = :po"),
                {"c": company, "po": amazon_order_id}).scalar()
            if tran_no is None:
                raise ValueError(f"no sales order for Amazon order {amazon_order_id}")
        made, failed, _ret = conn.execute(text("CALL spsoCreateInvoices(:c, :d, :t, NULL, NULL, NULL)"),
                                          {"c": company, "d": invoice_date, "t": tran_no}).one()
    return made, failed


def failed_staging_rows(engine: Engine) -> list[dict]:
    """StgSalesOrder rows left with ProcessStatus 2, with their tdmMigrationLogWrk reasons."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT o.SessionKey, o.TranNo, o.CustPONo, l.ColumnID, l.ColumnValue, l.Comment "
            "FROM StgSalesOrder o JOIN tdmMigrationLogWrk l ON l.SessionKey = o.SessionKey "
            "AND l.EntityID = o.TranNo AND l.Status = 1 WHERE o.ProcessStatus = 2 ORDER BY o.RowKey, l.LogKey"))
        return [dict(r._mapping) for r in rows]
