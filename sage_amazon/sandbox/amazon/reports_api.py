"""Reports API 2021-06-30: requested reports move IN_QUEUE -> IN_PROGRESS -> DONE (or FATAL); settlement
reports appear by themselves when a settlement period closes and can only be found with getReports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Body, Request

from sage_amazon.sandbox.amazon import documents, regions, report_content
from sage_amazon.sandbox.amazon.guard import guard, json_response
from sage_amazon.sandbox.amazon.settlement_file import V1_TYPE, V2_TYPE
from sage_amazon.sandbox.amazon.wire import (
    ApiError,
    bad_request,
    csv_param,
    decode_token,
    encode_token,
    iso,
    not_found,
    parse_iso,
)

router = APIRouter()
QUEUE_SECONDS = 5.0
PROCESSING_SECONDS = 15.0
LOOKBACK = timedelta(days=90)
# Amazon's changelog ("update-removal-of-xml-settlement-report-and-flat-file-settlement-report-date-changed-
# to-november-11-2026", design/amazon-sp-api.md): the flat-file settlement report called V1 here
# (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE) is removed on 2026-11-11. From then on, by the sandbox's own
# clock, no V1 report is generated and none is listed or served; only the _V2 type remains.
V1_REMOVED = datetime(2026, 11, 11, tzinfo=UTC)
PUBLIC_FIELDS = ("reportId", "reportType", "marketplaceIds", "dataStartTime", "dataEndTime", "createdTime",
                 "processingStatus", "processingStartTime", "processingEndTime", "reportDocumentId")


def public(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report[k] for k in PUBLIC_FIELDS if report.get(k) is not None}


def _new_report_id(world: Any) -> str:
    return str(50_000_000_000 + world.next_id("report") * 7919)


def on_settlement_closed(sandbox: Any, settlement: dict[str, Any]) -> None:
    """A closed settlement becomes two DONE reports (V2 and V1 flat file), as Amazon publishes them."""
    world = sandbox.world
    created = parse_iso(settlement["end"]) + timedelta(minutes=47)
    for report_type, version in ((V2_TYPE, 2), (V1_TYPE, 1)):
        if report_type == V1_TYPE and created >= V1_REMOVED:
            continue
        report_id = _new_report_id(world)
        doc_id = documents.new_document_id("na" if settlement["marketplace_id"] == "ATVPDKIKX0DER" else "eu")
        documents.store_document(world, doc_id, report_content.settlement_text(world, settlement, version), "report")
        report = world.put("reports", report_id, {
            "reportId": report_id, "reportType": report_type, "marketplaceIds": [settlement["marketplace_id"]],
            "dataStartTime": settlement["start"], "dataEndTime": settlement["end"], "createdTime": iso(created),
            "processingStatus": "DONE", "processingStartTime": iso(created),
            "processingEndTime": iso(created + timedelta(minutes=3)), "reportDocumentId": doc_id,
            "settlementId": settlement["settlement_id"]})
        world.emit("REPORT_PROCESSING_FINISHED", {"report": report})


def advance(sandbox: Any) -> None:
    world = sandbox.world
    now = world.clock()
    scale = max(world.options.time_scale, 1e-9)
    for report in list(world.state["reports"].values()):
        status = report["processingStatus"]
        if status not in ("IN_QUEUE", "IN_PROGRESS"):
            continue
        created = parse_iso(report["createdTime"])
        if status == "IN_QUEUE" and now >= created + timedelta(seconds=QUEUE_SECONDS / scale):
            report["processingStatus"] = status = "IN_PROGRESS"
            report["processingStartTime"] = iso(now)
            world.save("reports", report["reportId"])
        if status == "IN_PROGRESS" and now >= created + timedelta(seconds=(QUEUE_SECONDS + PROCESSING_SECONDS) / scale):
            report["processingEndTime"] = iso(now)
            if report.get("fatal"):
                report["processingStatus"] = "FATAL"
                doc_id = documents.new_document_id()
                documents.store_document(world, doc_id, '{"errorDetails":"The report could not be generated."}',
                                         "report")
                report["reportDocumentId"] = doc_id  # Amazon attaches an error document to FATAL reports
            else:
                doc_id = documents.new_document_id()
                documents.store_document(world, doc_id, report_content.build(world, report), "report")
                report["reportDocumentId"] = doc_id
                report["processingStatus"] = "DONE"
            world.save("reports", report["reportId"])
            world.emit("REPORT_PROCESSING_FINISHED", {"report": report})


@router.post("/reports/2021-06-30/reports", status_code=202)
def create_report(request: Request, body: Any = Body(None)) -> Any:
    sandbox = guard(request, "createReport")
    body = body if isinstance(body, dict) else {}
    report_type = body.get("reportType")
    marketplace_ids = body.get("marketplaceIds")
    if not report_type or not isinstance(marketplace_ids, list) or not marketplace_ids:
        raise bad_request("Request body must include reportType and a non-empty marketplaceIds list.")
    if report_type in report_content.SETTLEMENT_TYPES:
        raise bad_request(f"Request for report type {report_type} is not allowed at this time.")
    if report_type not in report_content.REQUESTABLE:
        raise bad_request(f"Invalid report type {report_type}.")
    world = sandbox.world
    unknown = [m for m in marketplace_ids if m not in world.options.marketplace_ids]
    if unknown:
        raise bad_request(f"Invalid marketplaceIds: {', '.join(unknown)}.")
    with world.lock:
        now = world.clock()
        try:
            end = parse_iso(body["dataEndTime"]) if body.get("dataEndTime") else now
            start = parse_iso(body["dataStartTime"]) if body.get("dataStartTime") else end - timedelta(days=30)
        except ValueError as exc:
            raise bad_request("dataStartTime and dataEndTime must be ISO 8601 date-times.") from exc
        if start > end:
            raise bad_request("dataStartTime must be before dataEndTime.")
        options = body.get("reportOptions") or {}
        fatal = str(options.get("sandboxOutcome", "")).upper() == "FATAL" or sandbox.faults.roll(
            sandbox.faults.fatal_rate)
        report_id = _new_report_id(world)
        world.put("reports", report_id, {
            "reportId": report_id, "reportType": report_type, "marketplaceIds": marketplace_ids,
            "dataStartTime": iso(start), "dataEndTime": iso(end), "createdTime": iso(now),
            "processingStatus": "IN_QUEUE", "fatal": fatal})
        world.flush()
    return json_response({"reportId": report_id}, 202)


GET_REPORTS_PARAMS = ("reportTypes", "processingStatuses", "marketplaceIds", "pageSize", "createdSince", "createdUntil")


@router.get("/reports/2021-06-30/reports")
def get_reports(request: Request) -> Any:
    sandbox = guard(request, "getReports")
    params = request.query_params
    world = sandbox.world
    now = world.clock()
    if params.get("nextToken"):
        if any(p in params for p in GET_REPORTS_PARAMS):
            raise bad_request("NextToken cannot be specified with other input parameters.")
        query = decode_token(params["nextToken"])
        if query is None or query.get("op") != "getReports":
            raise bad_request("Invalid nextToken.")
    else:
        types = csv_param(params.get("reportTypes"))
        if not types:
            raise bad_request("reportTypes is required when nextToken is not provided.")
        try:
            page_size = int(params.get("pageSize", 10))
        except ValueError as exc:
            raise bad_request("pageSize must be an integer.") from exc
        if not 1 <= page_size <= 100:
            raise bad_request("pageSize must be between 1 and 100.")
        try:
            since = parse_iso(params["createdSince"]) if params.get("createdSince") else now - LOOKBACK
            until = parse_iso(params["createdUntil"]) if params.get("createdUntil") else now
        except ValueError as exc:
            raise bad_request("createdSince and createdUntil must be ISO 8601 date-times.") from exc
        if since < now - LOOKBACK:
            raise bad_request("createdSince cannot be more than 90 days in the past.")
        query = {"op": "getReports", "types": types, "statuses": csv_param(params.get("processingStatuses")),
                 "mps": csv_param(params.get("marketplaceIds")), "size": page_size, "since": iso(since),
                 "until": iso(until), "offset": 0}
    with world.lock:
        since, until = parse_iso(query["since"]), parse_iso(query["until"])
        removed = {V1_TYPE} if now >= V1_REMOVED else set()
        region = regions.of_request(request)
        matched = [r for r in world.state["reports"].values()
                   if r["reportType"] in query["types"] and r["reportType"] not in removed
                   and all(regions.in_region(m, region) for m in r.get("marketplaceIds", []))
                   and (not query["statuses"] or r["processingStatus"] in query["statuses"])
                   and (not query["mps"] or set(r.get("marketplaceIds", [])) & set(query["mps"]))
                   and since <= parse_iso(r["createdTime"]) <= until]
        matched.sort(key=lambda r: (r["createdTime"], r["reportId"]), reverse=True)
        offset, size = query["offset"], query["size"]
        page = [public(r) for r in matched[offset:offset + size]]
    body: dict[str, Any] = {"reports": page}
    if offset + size < len(matched):
        body["nextToken"] = encode_token({**query, "offset": offset + size})
    return json_response(body)


def _report(world: Any, report_id: str, region: str | None = None) -> dict[str, Any]:
    report = world.state["reports"].get(report_id)
    if report is None or (report["reportType"] == V1_TYPE and world.clock() >= V1_REMOVED) \
            or not all(regions.in_region(m, region) for m in report.get("marketplaceIds", [])):
        raise not_found(f"Report {report_id} not found.")
    return report


@router.get("/reports/2021-06-30/reports/{report_id}")
def get_report(request: Request, report_id: str) -> Any:
    sandbox = guard(request, "getReport")
    with sandbox.world.lock:
        return json_response(public(_report(sandbox.world, report_id, regions.of_request(request))))


@router.delete("/reports/2021-06-30/reports/{report_id}")
def cancel_report(request: Request, report_id: str) -> Any:
    sandbox = guard(request, "cancelReport")
    world = sandbox.world
    with world.lock:
        report = _report(world, report_id, regions.of_request(request))
        if report["processingStatus"] != "IN_QUEUE":
            raise bad_request("Only reports in IN_QUEUE status can be cancelled.")
        report["processingStatus"] = "CANCELLED"
        report["processingEndTime"] = iso(world.clock())
        world.save("reports", report_id)
        world.emit("REPORT_PROCESSING_FINISHED", {"report": report})
        world.flush()
    return json_response({})


@router.get("/reports/2021-06-30/documents/{document_id}")
def get_report_document(request: Request, document_id: str) -> Any:
    sandbox = guard(request, "getReportDocument")
    world = sandbox.world
    with world.lock:
        meta = world.state["documents"].get(document_id)
        if meta is None or meta["kind"] != "report":
            raise ApiError(404, "NotFound", f"Report document {document_id} not found.")
        body = {"reportDocumentId": document_id, "url": documents.presigned_url(world, sandbox.base_url, document_id)}
        if meta.get("gzip"):
            body["compressionAlgorithm"] = "GZIP"
        world.flush()
    return json_response(body)
