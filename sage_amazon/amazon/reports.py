"""Reports API 2021-06-30: request, poll, download; and the order and shipment flat-file parsers.

(Settlement files are parsed elsewhere: sage_amazon/amazon/settlement*.)
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import time
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sage_amazon.amazon.client import SpApi, SpApiError

FULFILLED_SHIPMENTS_REPORT = "GET_AMAZON_FULFILLED_SHIPMENTS_DATA_GENERAL"
DONE, CANCELLED, FATAL = "DONE", "CANCELLED", "FATAL"


class ReportFailed(SpApiError):
    """The report ended FATAL (or CANCELLED without data)."""


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_report(api: SpApi, report_type: str, start: datetime, end: datetime,
                   marketplaces: Iterable[str] | None = None) -> str:
    body = {"reportType": report_type, "dataStartTime": _iso(start), "dataEndTime": _iso(end),
            "marketplaceIds": list(marketplaces or api.settings.marketplaces)}
    res = api.call("createReport", "reports", "create_report", **body)
    report_id = (res.payload or {}).get("reportId")
    if not report_id:
        raise ReportFailed(f"createReport returned no reportId for {report_type}", operation="createReport")
    return str(report_id)


def wait_for_report(api: SpApi, report_id: str, *, poll_seconds: float = 2.0, timeout: float = 900.0,
                    sleep=time.sleep) -> dict[str, Any]:
    """Poll getReport until DONE; returns the report. Raises ReportFailed on FATAL/CANCELLED/timeout."""
    deadline = time.monotonic() + timeout
    delay = poll_seconds
    while True:
        report = api.call("getReport", "reports", "get_report", report_id).payload or {}
        status = report.get("processingStatus")
        if status == DONE:
            return report
        if status in (FATAL, CANCELLED):
            raise ReportFailed(f"report {report_id} ended {status}", operation="getReport")
        if time.monotonic() > deadline:
            raise ReportFailed(f"report {report_id} still {status} after {timeout:.0f}s", operation="getReport")
        logging.getLogger("sage_amazon.waits").info("waiting for SP-API report %s (%s); next look in %.0f s",
                                                    report_id, status, delay)
        sleep(delay)
        delay = min(delay * 1.5, 15.0)


def download_document(api: SpApi, document_id: str) -> str:
    """getReportDocument, then fetch the pre-signed URL ourselves (retried within the API's retry budget),
    un-gzip and decode."""
    import httpx

    from sage_amazon.amazon.client import SpApiUnavailable
    from sage_amazon.retrying import System, retry_call

    meta = api.call("getReportDocument", "reports", "get_report_document", document_id).payload or {}
    url = meta.get("url")
    if not url:
        raise ReportFailed(f"report document {document_id} has no url", operation="getReportDocument")

    def fetch() -> str:
        with httpx.Client(timeout=api.settings.timeout) as client:
            res = client.get(url)
        if res.status_code >= 500 or res.status_code == 429:
            raise httpx.HTTPStatusError(f"HTTP {res.status_code}", request=res.request, response=res)
        if res.status_code >= 400:
            raise ReportFailed(f"report document {document_id}: HTTP {res.status_code}", operation="download")
        return decode_document(res.content, meta.get("compressionAlgorithm"), res.headers.get("content-type"))

    system = System("SP-API report documents", "SP_API_ENDPOINT", api.settings.endpoint)
    return retry_call(fetch, system=system, what=f"download of report document {document_id}",
                      retry_on=httpx.HTTPError, policy=api.retry,
                      give_up=lambda exc, message: SpApiUnavailable(message, operation="download"))


def decode_document(data: bytes, compression: str | None, content_type: str | None = None) -> str:
    if compression or data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            data = zlib.decompress(data, 15 + 32)
    charset = "utf-8"
    if content_type and "charset=" in content_type.lower():
        charset = content_type.lower().split("charset=")[1].split(";")[0].strip() or "utf-8"
    try:
        return data.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return data.decode("cp1252", errors="replace")


def fetch_reports(api: SpApi, report_type: str, spans: list[tuple[datetime, datetime]], *,
                  marketplaces: Iterable[str] | None = None, poll_seconds: float = 2.0,
                  attempts: int = 5) -> list[str]:
    """One report per span, all requested up front (Amazon builds them side by side), then awaited in
    order. A report that ends FATAL is requested again, up to `attempts` times per span.
    Marketplaces of several regions (a RegionalSpApi): one report per region and span, merged per span."""
    from sage_amazon.amazon.accounts import per_account

    parts = per_account(api, marketplaces)
    if len(parts) > 1:
        per_region = [fetch_reports(sub, report_type, spans, marketplaces=mps, poll_seconds=poll_seconds,
                                    attempts=attempts) for sub, mps in parts]
        return [merge_flat_files(list(texts)) for texts in zip(*per_region, strict=True)]
    api, marketplaces = parts[0]
    pending = {i: request_report(api, report_type, s, e, marketplaces) for i, (s, e) in enumerate(spans)}
    tries = dict.fromkeys(pending, 1)
    texts: dict[int, str] = {}
    for i, (s, e) in enumerate(spans):
        while i not in texts:
            try:
                report = wait_for_report(api, pending[i], poll_seconds=poll_seconds)
            except ReportFailed:
                if tries[i] >= attempts:
                    raise
                time.sleep(poll_seconds)
                tries[i] += 1
                pending[i] = request_report(api, report_type, s, e, marketplaces)
                continue
            document_id = report.get("reportDocumentId")
            texts[i] = download_document(api, str(document_id)) if document_id else ""  # DONE, no data
    return [texts[i] for i in range(len(spans))]


def merge_flat_files(texts: list[str]) -> str:
    """Tab-separated reports of the same type from several regions as one: the first header, every row
    (a column another region's file lacks is left empty)."""
    texts = [t.lstrip("\ufeff") for t in texts if t.strip()]
    if len(texts) <= 1:
        return texts[0] if texts else ""
    tables = [list(csv.reader(io.StringIO(t), delimiter="\t", quoting=csv.QUOTE_NONE)) for t in texts]
    header: list[str] = []
    for table in tables:
        header += [h for h in table[0] if h not in header]
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
    writer.writerow(header)
    for table in tables:
        position = {h: i for i, h in enumerate(table[0])}
        for values in table[1:]:
            writer.writerow([values[position[h]] if h in position and position[h] < len(values) else ""
                             for h in header])
    return out.getvalue()


def parse_flat_file(text: str) -> list[dict[str, str]]:
    """A tab-separated report with a header row to dicts keyed by lower-case header names."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        return []
    reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    rows = list(reader)
    header = [h.strip().lower() for h in rows[0]]
    out = []
    for values in rows[1:]:
        if not any(v.strip() for v in values):
            continue
        out.append({h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(header)})
    return out


# ---------------------------------------------------------------------- fulfilled shipments

SHIPMENT_COLUMNS: dict[str, str] = {
    "shipment_id": "VARCHAR",
    "shipment_item_id": "VARCHAR",
    "amazon_order_id": "VARCHAR",
    "order_item_id": "VARCHAR",
    "partition_date": "DATE",  # shipment date (UTC)
    "purchase_date": "TIMESTAMP",
    "shipment_date": "TIMESTAMP",
    "reporting_date": "TIMESTAMP",
    "sku": "VARCHAR",
    "quantity_shipped": "INTEGER",
    "currency": "VARCHAR",
    "item_price": "DECIMAL(18,2)",
    "shipping_price": "DECIMAL(18,2)",
    "carrier": "VARCHAR",
    "tracking_number": "VARCHAR",
    "estimated_arrival_date": "TIMESTAMP",
    "fulfillment_center_id": "VARCHAR",
    "fulfillment_channel": "VARCHAR",
    "sales_channel": "VARCHAR",
    "ship_city": "VARCHAR",
    "ship_postal_code": "VARCHAR",
    "ship_country": "VARCHAR",
    "extracted_at": "TIMESTAMP",
}
SHIPMENT_REQUIRED = ("amazon-order-id", "shipment-id", "sku", "quantity-shipped", "shipment-date")


def parse_fulfilled_shipments(rows: list[dict[str, str]], extracted_at: datetime | None = None
                              ) -> tuple[list[dict[str, Any]], list[str]]:
    """Fulfilled-shipments report rows to shipment rows; second value lists drift (missing columns)."""
    from sage_amazon.amazon.values import money, parse_time

    extracted_at = extracted_at or datetime.now(UTC).replace(tzinfo=None)
    if rows:
        missing = [c for c in SHIPMENT_REQUIRED if c not in rows[0]]
        if missing:
            return [], [f"fulfilled-shipments report without columns {', '.join(missing)}"]
    out = []
    for r in rows:
        shipped = parse_time(r.get("shipment-date"))
        out.append({
            "shipment_id": r.get("shipment-id", ""),
            "shipment_item_id": r.get("shipment-item-id", "") or f"{r.get('shipment-id')}-{r.get('amazon-order-item-id')}",
            "amazon_order_id": r.get("amazon-order-id", ""),
            "order_item_id": r.get("amazon-order-item-id", ""),
            "partition_date": shipped.date() if shipped else None,
            "purchase_date": parse_time(r.get("purchase-date")),
            "shipment_date": shipped,
            "reporting_date": parse_time(r.get("reporting-date")),
            "sku": r.get("sku", ""),
            "quantity_shipped": int(r.get("quantity-shipped") or 0),
            "currency": r.get("currency", ""),
            "item_price": money(r.get("item-price")),
            "shipping_price": money(r.get("shipping-price")),
            "carrier": r.get("carrier", ""),
            "tracking_number": r.get("tracking-number", ""),
            "estimated_arrival_date": parse_time(r.get("estimated-arrival-date")),
            "fulfillment_center_id": r.get("fulfillment-center-id", ""),
            "fulfillment_channel": r.get("fulfillment-channel", ""),
            "sales_channel": r.get("sales-channel", ""),
            "ship_city": r.get("ship-city", ""),
            "ship_postal_code": r.get("ship-postal-code", ""),
            "ship_country": r.get("ship-country", ""),
            "extracted_at": extracted_at,
        })
    return out, []
