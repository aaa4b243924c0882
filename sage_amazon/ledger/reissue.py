"""Reissued settlements: a settlement whose file changes after its journals were posted.

Amazon can list a new report for a settlement id it already reported, and a user can re-import a
settlement with corrected content. The file kept under the data dir then differs (sha256) from the file
the journals in Sage were built from (`ops.settlement_posted_lines.source_key`, written when Sage
confirmed each journal). `detect` sees that, once per new content, and records it in
`ops.settlement_reissues`; what happens next is accounts.yaml `reissue`:

- `hold` (the default): nothing is posted; the settlement is on hold (`sage-amazon deadletter list`,
  flow settlement, record `<id>:reissue`) with the old and new totals, until someone decides: set
  `reissue: difference` or `reverse_and_repost` (the next run corrects it), or bring the posted file back
  (the hold is withdrawn). An accountant expects a settlement that is
  already posted and reconciled against its bank deposit not to move on its own: Amazon's reissue changes
  the deposit, so someone should look first (A2X likewise flags a changed settlement and waits).
- `difference`: the settlement runs again with the new file and one difference journal per site
  (`AMZ-<id>-R<digest>`, described "reissue", dated in the first open period from the settlement's last
  accounting date on, like a reclass: `ledger/reclass.py`) posts, per account, the new amount less the
  posted one. Posted once (its reference is a digest of the moves, and once posted the books equal the
  new build). The reissue is `corrected` when the books match the new file.
- `reverse_and_repost`: the same, with two journals per site instead of one: `AMZ-<id>-RV<digest>` reverses
  what Sage holds for the settlement, `AMZ-<id>-RN<digest>` posts the new file's amounts (per account), both
  dated like the difference journal; for auditors who want the old and new figures side by side.

Runs are keyed by settlement and content (sensors/settlements.py), so a reissue is never deduplicated
away as "that settlement again".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sage_amazon.ledger import holds

TABLE = "ops.settlement_reissues"
MODES = ("hold", "difference", "reverse_and_repost")
DEFAULT_MODE = "hold"
HELD, CORRECTING, CORRECTED, WITHDRAWN, SUPERSEDED = "held", "correcting", "corrected", "withdrawn", "superseded"
OPEN = (HELD, CORRECTING)


def mode() -> str:
    """accounts.yaml `reissue`: hold (default) | difference | reverse_and_repost. A wrong value is one line
    (MappingError)."""
    from sage_amazon.mapping import MappingError, load_yaml, mapping_file
    from sage_amazon.mapping.accounts import FILE

    data = load_yaml(FILE) or {}
    value = str(data.get("reissue") or DEFAULT_MODE).strip().lower() if isinstance(data, dict) else DEFAULT_MODE
    if value not in MODES:
        raise MappingError(f"{mapping_file(FILE)}: reissue must be {', '.join(MODES[:-1])} or {MODES[-1]}, "
                          f"got {value!r}")
    return value


def ensure(con) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        settlement_id VARCHAR NOT NULL, old_sha256 VARCHAR, new_sha256 VARCHAR NOT NULL, mode VARCHAR NOT NULL,
        status VARCHAR NOT NULL, reason VARCHAR, detected_at TIMESTAMPTZ NOT NULL, closed_at TIMESTAMPTZ,
        PRIMARY KEY (settlement_id, new_sha256))""")


@dataclass(frozen=True)
class Change:
    settlement_id: str
    status: str  # held | correcting | corrected | withdrawn
    line: str  # one line for the person running the command


def posted_sha(con, settlement_id: str) -> str | None:
    """The content Sage's books of the settlement were built from: the last corrected reissue's file,
    else the file its journals were posted from; None when nothing of it is posted."""
    from sage_amazon.warehouse import table_exists

    if table_exists(con, TABLE):
        row = con.execute(f"SELECT new_sha256 FROM {TABLE} WHERE settlement_id = ? AND status = ? "
                          "ORDER BY closed_at DESC LIMIT 1", [settlement_id, CORRECTED]).fetchone()
        if row:
            return row[0]
    if not table_exists(con, "ops.settlement_posted_lines"):
        return None
    row = con.execute(
        "SELECT split_part(min(source_key), ':', 1), count(DISTINCT split_part(source_key, ':', 1)) "
        "FROM ops.settlement_posted_lines WHERE settlement_id = ? AND source_key IS NOT NULL "
        "AND NOT starts_with(journal_reference, 'AMZ-' || settlement_id || '-R')", [settlement_id]).fetchone()
    return row[0] if row and row[1] else None


def accepted(con, settlement_id: str, sha256: str) -> bool:
    """Is a posted settlement's new content `sha256` to be corrected by a difference journal?"""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, TABLE):
        return False
    return bool(con.execute(f"SELECT count(*) FROM {TABLE} WHERE settlement_id = ? AND new_sha256 = ? "
                            "AND status IN (?, ?)", [settlement_id, sha256, CORRECTING, CORRECTED]).fetchone()[0])


def correcting(con) -> list[str]:
    """Settlements whose difference journal is still to post (the runner and the schedule request them)."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, TABLE):
        return []
    return [r[0] for r in con.execute(f"SELECT DISTINCT settlement_id FROM {TABLE} WHERE status = ? ORDER BY 1",
                                      [CORRECTING]).fetchall()]


def _open_row(con, settlement_id: str):
    return con.execute(f"SELECT new_sha256, status, old_sha256 FROM {TABLE} WHERE settlement_id = ? "
                       "AND status IN (?, ?)", [settlement_id, *OPEN]).fetchone()


def _close(con, settlement_id: str, new_sha: str, status: str) -> None:
    con.execute(f"UPDATE {TABLE} SET status = ?, closed_at = now() WHERE settlement_id = ? AND new_sha256 = ?",
                [status, settlement_id, new_sha])


def _landed_sha(con, settlement_id: str) -> str | None:
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "raw.settlement_reports"):
        return None
    row = con.execute("SELECT file_sha256 FROM raw.settlement_reports WHERE settlement_id = ?",
                      [settlement_id]).fetchone()
    return row[0] if row else None


def _posted_total(con, settlement_id: str) -> str:
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "ops.settlement_posted_lines"):
        return "?"
    row = con.execute(  # source_key = "<file sha256>:<total-amount>:<sum of lines>" (ledger/reclass.py)
        "SELECT split_part(min(source_key), ':', 2) FROM ops.settlement_posted_lines WHERE settlement_id = ? "
        "AND NOT starts_with(journal_reference, 'AMZ-' || settlement_id || '-R')", [settlement_id]).fetchone()
    return row[0] if row and row[0] else "?"


def _corrected(con, settlement_id: str, new_sha: str) -> bool:
    """The new file is landed and built, and Sage's books of the settlement equal its journals."""
    from sage_amazon.ledger import reclass
    from sage_amazon.warehouse import table_exists

    if _landed_sha(con, settlement_id) != new_sha or not table_exists(con, "marts.journal_settlement_lines"):
        return False
    try:
        from sage_amazon.ledger.settlements import partner_function

        return reclass.reclass_journals(con, settlement_id, partner_of=partner_function()) == []
    except Exception:  # marts of an older build: not decided yet, asked again on the next run
        return False


def detect(con, raw_dir: Path, current_mode: str | None = None) -> list[Change]:
    """Compare every stored settlement file with what its posted journals were built from.

    Opens a reissue (held or correcting) once per new content, withdraws one whose posted file came back,
    marks a correction done when the books match. Returns what changed, one line each."""
    from sage_amazon.ledger import intake

    ensure(con)
    current_mode = current_mode or mode()
    folder = intake.settlements_dir(raw_dir)
    out: list[Change] = []
    if not folder.exists():
        return out
    for manifest_path in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(manifest_path.read_text(encoding="utf-8"))
            sid, sha = str(doc["settlement_id"]), str(doc["sha256"])
        except (ValueError, KeyError, OSError):
            continue
        if doc.get("unreadable"):
            continue  # on hold as unreadable (holds.sync_files); the posted books stay as they are
        in_sage = posted_sha(con, sid)
        if in_sage is None:
            continue  # nothing posted: a replaced file simply posts
        row = _open_row(con, sid)
        if sha == in_sage:
            if row is not None:
                _close(con, sid, row[0], WITHDRAWN)
                holds.release(con, sid, holds.REISSUE)
                out.append(Change(sid, WITHDRAWN, f"settlement {sid}: the posted file is back; reissue withdrawn, "
                                                  "nothing to correct"))
            continue
        if row is not None and row[0] == sha:
            if row[1] == HELD and current_mode != "hold":
                con.execute(f"UPDATE {TABLE} SET status = ?, mode = ? WHERE settlement_id = ? AND new_sha256 = ?",
                            [CORRECTING, current_mode, sid, sha])
                holds.release(con, sid, holds.REISSUE)
                out.append(Change(sid, CORRECTING, f"settlement {sid}: reissue released (reissue: {current_mode}): "
                                                   f"{_how(current_mode)} corrects it"))
            elif row[1] == CORRECTING and _corrected(con, sid, sha):
                _close(con, sid, sha, CORRECTED)
                out.append(Change(sid, CORRECTED, f"settlement {sid}: reissue corrected, Sage's books equal the "
                                                  "new file"))
            continue
        if row is not None:  # yet another content: the earlier reissue is superseded by this one
            _close(con, sid, row[0], SUPERSEDED)
        new_total = _file_total(intake.find_file(raw_dir, sid))
        reason = (f"changed after posting: total {_posted_total(con, sid)} in Sage, {new_total} in the new file "
                  f"(settlement {sid}, file {in_sage[:12]} -> {sha[:12]})")
        status = HELD if current_mode == "hold" else CORRECTING
        con.execute(f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, now(), NULL)",
                    [sid, in_sage, sha, current_mode, status, reason])
        if status == HELD:
            text = (f"reissue on hold, {reason}; accounts.yaml reissue: hold: set reissue: difference (or "
                    "reverse_and_repost) to correct it, or bring the posted file back")
            holds.hold(con, sid, holds.REISSUE, text, {"old_sha256": in_sage, "new_sha256": sha,
                                                        "file": doc.get("file"), "origin": doc.get("origin")})
            out.append(Change(sid, HELD, f"settlement {sid}: {text}"))
        else:
            holds.release(con, sid, holds.REISSUE)
            out.append(Change(sid, CORRECTING, f"settlement {sid} {reason}: {_how(current_mode)} corrects it "
                                               f"(accounts.yaml reissue: {current_mode})"))
    return out


def _how(current_mode: str) -> str:
    return ("a reversal of the posted journals and a repost of the new file" if current_mode == "reverse_and_repost"
            else "a difference journal")


def _file_total(path: Path | None) -> str:
    from sage_amazon.amazon import settlement as parser

    if path is None:
        return "?"
    try:
        return parser.sniff(path, sample_lines=2).summary.get("total-amount", "?")
    except parser.SettlementFileError:
        return "?"


def screen(raw_dir: Path, warehouse_path: Path, rejected: list[tuple[str, str]] | None = None,
           lock_timeout: float = 120.0) -> list[str]:
    """Before settlements run (runner, discovery sensor, `settlement import`): unreadable files and reports on
    hold, reissues detected. Returns one line per hold opened or reissue changed."""
    from sage_amazon.warehouse import Warehouse

    lines: list[str] = []
    with Warehouse(warehouse_path, lock_timeout=lock_timeout).write() as con:
        for sid, reason in holds.sync_files(con, raw_dir) + holds.hold_rejected_reports(con, rejected or []):
            lines.append(f"settlement {sid}: {reason}")
        lines += [c.line for c in detect(con, raw_dir)]
    return lines
