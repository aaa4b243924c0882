"""Settlements on hold: kept, visible, and not run until their cause is gone.

A hold is an open dead letter of the `settlement` flow whose record key is `<settlement id>:<kind>`:
`unreadable` (a file Amazon gave us that `validate` refuses: kept under the data dir, never lost) or
`reissue` (the file changed after its journals were posted and accounts.yaml says `reissue: hold`).
`sage-amazon deadletter list` shows them; the runner, the discovery sensor and the daily reconciliation
never request a held settlement, so one bad file never fails every later run. A hold is released when
its cause is gone: a readable file for the settlement is stored (import or a new report), or the
reissue is decided (accounts.yaml `reissue: difference`, or the posted file brought back).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sage_amazon import deadletters

FLOW = "settlement"  # the settlement flow's dead letters (ledger/posting.DEAD_LETTER_FLOW)
UNREADABLE, REISSUE = "unreadable", "reissue"
KINDS = (UNREADABLE, REISSUE)


def key(settlement_id: str, kind: str) -> str:
    return f"{settlement_id}:{kind}"


def hold(con, settlement_id: str, kind: str, reason: str, payload: Any) -> bool:
    """Put a settlement on hold (or refresh the reason). True if it was not held for this reason before."""
    deadletters.ensure(con)
    before = con.execute("SELECT reason FROM ops.dead_letters WHERE flow = ? AND record_key = ? AND status = 'open'",
                         [FLOW, key(settlement_id, kind)]).fetchone()
    if before and before[0] == reason:
        return False
    deadletters.record(con, FLOW, key(settlement_id, kind), reason, payload)
    return before is None


def release(con, settlement_id: str, kind: str) -> bool:
    return deadletters.resolve(con, FLOW, key(settlement_id, kind))


def held(con) -> dict[str, str]:
    """Settlement id -> reason of every open hold (one reason per settlement, unreadable first)."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "ops.dead_letters"):
        return {}
    out: dict[str, str] = {}
    for record_key, reason in con.execute(
            "SELECT record_key, reason FROM ops.dead_letters WHERE flow = ? AND status = 'open' "
            "AND (ends_with(record_key, ':unreadable') OR ends_with(record_key, ':reissue')) "
            "ORDER BY ends_with(record_key, ':reissue'), record_key", [FLOW]).fetchall():
        out.setdefault(record_key.rsplit(":", 1)[0], reason)
    return out


def sync_files(con, raw_dir: Path) -> list[tuple[str, str]]:
    """Hold every stored settlement whose file is unreadable, release those whose file is readable again.

    Files stored before files were validated in full (no `validated` in the manifest) are read once now.
    Returns the (settlement id, reason) of the holds opened by this call."""
    from sage_amazon.amazon.settlement import SettlementFileError
    from sage_amazon.ledger import intake

    folder = intake.settlements_dir(raw_dir)
    opened: list[tuple[str, str]] = []
    if not folder.exists():
        return opened
    for manifest_path in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(manifest_path.read_text(encoding="utf-8"))
            sid = str(doc["settlement_id"])
        except (ValueError, KeyError, OSError):
            continue
        reason = doc.get("unreadable") or ""
        if not reason and doc.get("validated") != doc.get("sha256"):
            path = intake.find_file(raw_dir, sid)
            if path is None:
                continue
            try:
                intake.validate(path)
            except SettlementFileError as exc:
                reason = str(exc)
            intake.mark_manifest(raw_dir, sid, **({"unreadable": reason} if reason else
                                                  {"validated": doc.get("sha256")}))
        if reason:
            text = f"unreadable settlement file, on hold: {reason}"
            if hold(con, sid, UNREADABLE, text, {"file": doc.get("file"), "sha256": doc.get("sha256"),
                                                 "origin": doc.get("origin"), "report_id": doc.get("report_id")}):
                opened.append((sid, text))
        else:
            release(con, sid, UNREADABLE)
    return opened


def hold_rejected_reports(con, rejected: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Hold the reports discovery could not even read a settlement id from (`Discovery.rejected`)."""
    opened = []
    for report_key, reason in rejected:
        name = "report-" + report_key.replace(":", "-")
        text = f"unreadable settlement report, kept under settlements/rejected/: {reason}"
        if hold(con, name, UNREADABLE, text, {"report": report_key}):
            opened.append((name, text))
    return opened
