"""Settlement files into the data dir: from the SP-API (getReports) or imported by hand.

Every settlement file is kept as downloaded under `<raw dir>/settlements/<settlement id>.txt`
(`.txt.gz` if it came compressed) with a `<settlement id>.json` manifest (source, report id,
document id, report type, sha256, when). The landing asset reads from there, so a failed run
never loses a report: the file stays, and the run can be retried or re-requested any time.
A newer file for the same settlement (Amazon reissues) replaces the old one, which is kept
beside it with its timestamp; a V1 file never replaces a V2 file of the same settlement.

Every file is read in full before it is kept (`validate`: what `settlement inspect` refuses, a value
that cannot be read, a truncated file, a 1 MB field, lines that do not add up to total-amount, a second
currency). An imported file that fails is refused (nothing stored); a file Amazon gave us (discovery) is
kept, marked `unreadable` in its manifest, and the settlement is put on hold (`ledger/holds.py`): a
visible dead letter, never a failure of every later run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sage_amazon.amazon import settlement as parser

V2_REPORT = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
V1_REPORT = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE"
REPORT_TYPES = (V2_REPORT, V1_REPORT)  # V2 first: it wins when both exist
LOOKBACK = timedelta(days=89, hours=23)  # getReports refuses exactly 90 days


def settlements_dir(raw_dir: Path) -> Path:
    return Path(raw_dir) / "settlements"


def find_file(raw_dir: Path, settlement_id: str) -> Path | None:
    folder = settlements_dir(raw_dir)
    for name in (parser.raw_file_name(settlement_id) + ".gz", parser.raw_file_name(settlement_id)):
        path = folder / name
        if path.exists():
            return path
    return None


def manifest(raw_dir: Path, settlement_id: str) -> dict[str, Any]:
    path = settlements_dir(raw_dir) / (parser.raw_file_name(settlement_id).removesuffix(".txt") + ".json")
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    return {}


@dataclass(frozen=True)
class Stored:
    settlement_id: str
    path: Path
    replaced: bool  # an earlier, different file of the same settlement was set aside
    kept_existing: bool  # the new file was not used (same content, or V1 next to a V2)
    file_format: str
    sha256: str = ""  # the content kept (the run key of the settlement's run includes it)
    unreadable: str = ""  # kept but refused by `validate` (discovery only): the one-line reason


def validate(path: Path) -> None:
    """Read the whole file as `settlement inspect` does (in memory, nothing kept) and raise
    `SettlementFileError` naming line, column and value for what inspect refuses: a value that cannot
    be read, a malformed or truncated line, a field over 1 MB, lines that do not add up to total-amount
    (a file cut at a line end), a line in another currency. The account map plays no part: a settlement
    held for unmapped lines is a mapping question, not a bad file."""
    import duckdb

    from sage_amazon.ledger import settlements

    con = duckdb.connect()
    try:
        summary = parser.land(con, path, source="validate")
        for outcome in (settlements.check_totals(con, summary.settlement_id),
                        settlements.check_currency(con, summary.settlement_id)):
            if not outcome.passed:
                column = "total-amount" if outcome.name == "settlement_totals_match" else "currency"
                value = (outcome.metadata.get("total_amount") if column == "total-amount"
                         else outcome.metadata.get("line_currencies"))
                raise parser.SettlementFileError(path, f"{outcome.description} (truncated or edited file?)",
                                                 line=2, column=column, value=value)
    finally:
        con.close()


def store(source: Path, raw_dir: Path, *, origin: str, meta: dict[str, Any] | None = None,
          check: str = "refuse") -> Stored:
    """Keep a settlement file under the data dir after reading it in full (`validate`).

    `check`: "refuse" raises `SettlementFileError` and keeps nothing (`settlement import`); "hold" keeps
    a file that fails, marked unreadable in its manifest (`Stored.unreadable`), so a report Amazon gave us
    is never lost and its settlement is shown on hold (discovery); "none" reads only the header.
    Under a lock of the settlements folder: two imports of the same file at once (or an import beside
    the discovery sensor) store it once, and the second sees "same content"."""
    from filelock import FileLock

    source = Path(source)
    layout = parser.sniff(source, sample_lines=3)
    unreadable = ""
    if check != "none":
        try:
            validate(source)
        except parser.SettlementFileError as exc:
            if check == "refuse":
                raise
            unreadable = _reason_without_path(exc)
    folder = settlements_dir(raw_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".intake.lock"), timeout=300):
        return _store_locked(source, raw_dir, layout, origin=origin,
                             meta={**(meta or {}), **({"unreadable": unreadable} if unreadable else {})},
                             validated=check != "none" and not unreadable)


def _reason_without_path(exc: parser.SettlementFileError) -> str:
    """The error's line/column/value and reason, without the (temporary) path it was read from."""
    text = str(exc)
    return text[len(exc.path) + 2:] if text.startswith(exc.path + ", ") else text


def mark_manifest(raw_dir: Path, settlement_id: str, **fields: Any) -> None:
    """Add fields to a settlement's manifest (atomically)."""
    path = settlements_dir(raw_dir) / (parser.raw_file_name(settlement_id).removesuffix(".txt") + ".json")
    doc = manifest(raw_dir, settlement_id)
    if not doc:
        return
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**doc, **fields}, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def _store_locked(source: Path, raw_dir: Path, layout, *, origin: str, meta: dict[str, Any] | None,
                  validated: bool = False) -> Stored:
    sid = layout.summary["settlement-id"]
    folder = settlements_dir(raw_dir)
    target = folder / parser.raw_file_name(sid, source)
    existing = find_file(raw_dir, sid)
    sha = parser.file_sha256(source)
    replaced = False
    if existing is not None:
        old = manifest(raw_dir, sid)
        if old.get("sha256") == sha:
            return Stored(sid, existing, False, True, layout.file_format, sha, old.get("unreadable", ""))
        if old.get("file_format") == "V2" and layout.file_format == "V1" and not old.get("unreadable"):
            return Stored(sid, existing, False, True, layout.file_format, old.get("sha256", ""))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        existing.rename(existing.with_name(f"{existing.name}.replaced-{stamp}"))
        replaced = True
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    doc = {"settlement_id": sid, "file": target.name, "file_format": layout.file_format, "sha256": sha,
           "origin": origin, "stored_at": datetime.now(UTC).isoformat(), "original_name": source.name,
           **({"validated": sha} if validated else {}), **(meta or {})}
    manifest_path = folder / (target.name.split(".")[0] + ".json")
    manifest_tmp = manifest_path.with_name(f"{manifest_path.name}.{os.getpid()}.tmp")
    manifest_tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    os.replace(manifest_tmp, manifest_path)  # a reader (the run's discovery) never sees half a manifest
    return Stored(sid, target, replaced, False, layout.file_format, sha, (meta or {}).get("unreadable", ""))


def store_text(text: str, raw_dir: Path, *, origin: str, meta: dict[str, Any] | None = None,
               check: str = "hold") -> Stored:
    folder = settlements_dir(raw_dir)
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="download-", suffix=".txt", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        return store(Path(name), raw_dir, origin=origin, meta=meta, check=check)
    finally:
        if os.path.exists(name):
            os.unlink(name)


# ---------------------------------------------------------------------------------------------
# discovery through the SP-API


@dataclass
class Discovery:
    stored: list[Stored]
    cursor: dict[str, Any]
    errors: list[str]
    # reports whose file names no settlement (no header or summary row): (report key, reason); kept under
    # <raw dir>/settlements/rejected/ and put on hold as "report-<key>" by the caller (holds.hold)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def _report_list(api: Any, since: datetime, clients: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Settlement reports since `since`, each region's on its own host (accounts.per_account); `clients`
    receives the client of each report document."""
    from sage_amazon.amazon.accounts import RegionalSpApi, per_account

    if isinstance(api, RegionalSpApi):
        reports: list[dict[str, Any]] = []
        for sub, _ in per_account(api):
            listed = _report_list(sub, since)
            reports += listed
            if clients is not None:
                clients.update({str(r.get("reportDocumentId")): sub for r in listed})
        return reports
    reports = []
    params: dict[str, Any] = {"reportTypes": ",".join(REPORT_TYPES), "processingStatuses": "DONE",
                              "createdSince": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "pageSize": 100}
    marketplaces = getattr(getattr(api, "settings", None), "marketplaces", None)
    if marketplaces:  # every marketplace of the seller, not only the client's own
        params["marketplaceIds"] = ",".join(marketplaces)
    res = api.call("getReports", "reports", "get_reports", **params)
    while True:
        body = res.payload or {}
        reports.extend(body.get("reports") or [])
        token = body.get("nextToken") or getattr(res, "next_token", None)
        if not token:
            break
        res = api.call("getReports", "reports", "get_reports", nextToken=token)
    return reports


def _period_key(report: dict[str, Any]) -> str:
    return "|".join([",".join(sorted(report.get("marketplaceIds") or [])), str(report.get("dataStartTime", "")),
                     str(report.get("dataEndTime", ""))])


def discover(api: Any, raw_dir: Path, cursor: dict[str, Any] | None = None, *, now: datetime | None = None,
             max_downloads: int = 5, document_ids: list[str] | None = None) -> Discovery:
    """List DONE settlement reports (getReports) and download each new one at once.

    `cursor` remembers report ids already kept (pruned after 90 days). `document_ids` are documents
    announced by REPORT_PROCESSING_FINISHED notifications, downloaded first. At most `max_downloads`
    per call (getReportDocument refills one token a minute, burst 15), so a sensor tick stays well under
    the 60 s sensor timeout; the rest come on the next call.
    """
    from sage_amazon.amazon.reports import download_document

    now = now or datetime.now(UTC)
    cursor = dict(cursor or {})
    seen: dict[str, str] = dict(cursor.get("seen") or {})  # report or document id -> iso time seen
    stored: list[Stored] = []
    errors: list[str] = []
    rejected: list[tuple[str, str]] = []
    todo: list[tuple[str, str, str]] = [(f"doc:{d}", d, "") for d in (document_ids or []) if f"doc:{d}" not in seen]
    clients: dict[str, Any] = {}  # report document -> the client of its region
    listed = sorted(_report_list(api, now - LOOKBACK, clients),
                    key=lambda r: (REPORT_TYPES.index(r.get("reportType", V2_REPORT))
                                   if r.get("reportType") in REPORT_TYPES else 9, r.get("createdTime", "")))
    # Amazon publishes a V1 and a V2 report for the same settlement; getReportDocument allows one
    # call a minute, so the V1 one is skipped when a V2 report covers the same period and marketplace.
    v2_periods = {_period_key(r) for r in listed if r.get("reportType") == V2_REPORT}
    for report in listed:
        rid, doc = str(report.get("reportId", "")), report.get("reportDocumentId")
        if not rid or not doc or rid in seen or f"doc:{doc}" in seen:
            continue
        if report.get("reportType") == V1_REPORT and _period_key(report) in v2_periods:
            seen[rid] = now.isoformat()
            continue
        todo.append((rid, str(doc), report.get("reportType", "")))
    for key, doc, report_type in todo[:max_downloads]:
        try:
            text = download_document(clients.get(doc, api), doc)  # the URL expires in 5 minutes: fetched right now
            kept = store_text(text, raw_dir, origin="sp-api",
                              meta={"report_id": key if not key.startswith("doc:") else "",
                                    "report_document_id": doc, "report_type": report_type})
        except parser.SettlementFileError as exc:  # not even a settlement id: kept aside, on hold by the caller
            reason = _reason_without_path(exc)
            errors.append(f"report {key}: {reason}")
            rejected.append((key, reason))
            _keep_rejected(raw_dir, key, text)
            seen[key] = now.isoformat()  # a bad file is reported and held, not downloaded forever
            continue
        except Exception as exc:  # network or API error: try again next tick
            errors.append(f"report {key}: {type(exc).__name__}: {exc}")
            continue
        seen[key] = now.isoformat()
        seen[f"doc:{doc}"] = now.isoformat()
        stored.append(kept)
    horizon = (now - timedelta(days=91)).isoformat()
    cursor["seen"] = {k: v for k, v in seen.items() if v >= horizon}
    cursor["last_poll"] = now.isoformat()
    return Discovery(stored, cursor, errors, rejected)


def _keep_rejected(raw_dir: Path, key: str, text: str) -> None:
    folder = settlements_dir(raw_dir) / "rejected"
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)
    (folder / f"{safe}.txt").write_text(text, encoding="utf-8")


def settlement_documents(messages: list[Any]) -> tuple[list[str], list[str]]:
    """REPORT_PROCESSING_FINISHED notifications of settlement reports -> (document ids, handled receipt handles)."""
    docs, handles = [], []
    for message in messages:
        try:
            doc = json.loads(message.body)
            if isinstance(doc, dict) and isinstance(doc.get("Message"), str):
                doc = json.loads(doc["Message"])
        except (ValueError, TypeError):
            continue
        if not isinstance(doc, dict):
            continue
        if (doc.get("notificationType") or doc.get("NotificationType")) != "REPORT_PROCESSING_FINISHED":
            continue
        payload = (doc.get("payload") or {}).get("reportProcessingFinishedNotification") or {}
        if payload.get("reportType") not in REPORT_TYPES:
            continue
        handles.append(message.receipt_handle)
        if payload.get("processingStatus") == "DONE" and payload.get("reportDocumentId"):
            docs.append(str(payload["reportDocumentId"]))
    return docs, handles
