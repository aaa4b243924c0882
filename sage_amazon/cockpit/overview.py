"""The settlements overview and the per-flow counts a finance user reads first (issue 16.1, 16.2).

`refresh(con)` rebuilds marts.settlement_overview: one row per settlement Amazon paid or that waits (landed
files and held ones), with marketplace, period, deposit date, total, deposit, currency, the tied-out
difference (Amazon's total minus its lines), journals and how many are posted, their Sage numbers, and a
status: posted, on hold (a file refused or a reissue), blocked (a journal Sage refused), waiting. And
marts.flow_overview: per flow, what the posting ledger holds (posted, failed, sending) and the open dead letters.
Money stays Decimal; the cockpit asset adds floats for Dagster's plots beside the exact text.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sage_amazon import deadletters, posting_ledger
from sage_amazon.ledger import holds
from sage_amazon.ledger.posting import DEAD_LETTER_FLOW
from sage_amazon.ledger.settlements import FLOW as JOURNAL_FLOW
from sage_amazon.warehouse import table_exists

if TYPE_CHECKING:
    import duckdb

SETTLEMENTS = "marts.settlement_overview"
FLOWS = "marts.flow_overview"
POSTED, ON_HOLD, BLOCKED, WAITING = "posted", "on hold", "blocked", "waiting"
STATUSES = (POSTED, ON_HOLD, BLOCKED, WAITING)

_SETTLEMENT_DDL = f"""
CREATE OR REPLACE TABLE {SETTLEMENTS} (
    settlement_id VARCHAR NOT NULL, marketplace VARCHAR, currency VARCHAR,
    settlement_start TIMESTAMP, settlement_end TIMESTAMP, deposit_date TIMESTAMP,
    total_amount DECIMAL(18, 2), deposit DECIMAL(18, 2), difference DECIMAL(18, 2),
    journals INTEGER NOT NULL, journals_posted INTEGER NOT NULL, sage_numbers VARCHAR,
    status VARCHAR NOT NULL, reason VARCHAR
)"""
_FLOW_DDL = f"""
CREATE OR REPLACE TABLE {FLOWS} (
    flow VARCHAR NOT NULL, posted INTEGER NOT NULL, failed INTEGER NOT NULL, sending INTEGER NOT NULL,
    open_dead_letters INTEGER NOT NULL
)"""


@dataclass(frozen=True)
class Overview:
    settlements: list[dict[str, Any]]  # the rows of marts.settlement_overview, newest deposit first
    flows: list[dict[str, Any]]  # the rows of marts.flow_overview, by flow

    def status_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for row in self.settlements:
            counts[row["status"]] += 1
        return counts

    def totals_by_currency(self) -> dict[str, dict[str, Decimal]]:
        """Per currency: Amazon's totals, the deposits, and the tied-out differences (exact)."""
        out: dict[str, dict[str, Decimal]] = {}
        for row in self.settlements:
            if row["total_amount"] is None:
                continue
            sums = out.setdefault(row["currency"] or "", dict.fromkeys(("total", "deposit", "difference"),
                                                                         Decimal("0.00")))
            sums["total"] += row["total_amount"]
            sums["deposit"] += row["deposit"] or Decimal("0.00")
            sums["difference"] += row["difference"] or Decimal("0.00")
        return out


def _rows(cur) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _reports(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    if not table_exists(con, "raw.settlement_reports"):
        return {}
    return {r["settlement_id"]: r for r in _rows(con.execute(
        """SELECT settlement_id, marketplace, currency, settlement_start_date AS settlement_start,
                  settlement_end_date AS settlement_end, deposit_date, total_amount
           FROM raw.settlement_reports"""))}


def _journals(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Per settlement: its journals, how many Sage has, their numbers, the deposit (bank lines)."""
    if not table_exists(con, "marts.journal_settlement_lines"):
        return {}
    posting_ledger.ensure(con)
    rows = _rows(con.execute(
        """WITH j AS (
               SELECT settlement_id, journal_reference,
                      -sum(amount) FILTER (WHERE line_kind = 'bank') AS deposit
               FROM marts.journal_settlement_lines GROUP BY settlement_id, journal_reference)
           SELECT j.settlement_id, count(*) AS journals,
                  count(*) FILTER (WHERE p.status = ?) AS journals_posted,
                  string_agg(p.sage_number, ', ' ORDER BY j.journal_reference)
                      FILTER (WHERE p.status = ?) AS sage_numbers,
                  CAST(coalesce(sum(j.deposit), 0) AS DECIMAL(18, 2)) AS deposit
           FROM j LEFT JOIN ops.posting_ledger p ON p.flow = ? AND p.record_key = j.journal_reference
           GROUP BY j.settlement_id""",
        [posting_ledger.POSTED, posting_ledger.POSTED, JOURNAL_FLOW]))
    return {r["settlement_id"]: r for r in rows}


def _differences(con: duckdb.DuckDBPyConnection) -> dict[str, Decimal]:
    if not table_exists(con, "marts.settlement_reconciliation"):
        return {}
    return dict(con.execute("SELECT settlement_id, variance FROM marts.settlement_reconciliation").fetchall())


def _letters(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """Per settlement: its open dead letters as (what, reason), holds first."""
    out: dict[str, list[tuple[str, str]]] = {}
    for d in deadletters.open_letters(con, flow=DEAD_LETTER_FLOW):
        sid, _, what = d.record_key.partition(":")
        out.setdefault(sid, []).append((what, d.reason))
    for letters in out.values():
        letters.sort(key=lambda item: item[0] not in holds.KINDS)
    return out


def _status(journal: dict[str, Any] | None, letters: list[tuple[str, str]], vat: str = "") -> tuple[str, str | None]:
    if letters and letters[0][0] in holds.KINDS:
        return ON_HOLD, letters[0][1]
    if letters:
        what, reason = letters[0]
        more = f" (+{len(letters) - 1} more)" if len(letters) > 1 else ""
        return BLOCKED, f"{what}: {reason}{more}"
    if journal and journal["journals"] and journal["journals_posted"] == journal["journals"]:
        return POSTED, None
    if vat:  # its postings wait for the data that decides its VAT (ledger/vat)
        return WAITING, vat
    if journal and journal["journals"]:
        return WAITING, f"{journal['journals_posted']} of {journal['journals']} journals in Sage"
    return WAITING, "not run yet"


def settlement_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    from sage_amazon.ledger.vat.journal import waiting_reasons

    reports, journals, differences, letters = _reports(con), _journals(con), _differences(con), _letters(con)
    vat = waiting_reasons(con)
    rows = []
    for sid in sorted(set(reports) | set(journals) | set(letters)):
        report, journal = reports.get(sid, {}), journals.get(sid)
        status, reason = _status(journal, letters.get(sid, []), vat.get(sid, ""))
        rows.append({
            "settlement_id": sid, "marketplace": report.get("marketplace"), "currency": report.get("currency"),
            "settlement_start": report.get("settlement_start"), "settlement_end": report.get("settlement_end"),
            "deposit_date": report.get("deposit_date"), "total_amount": report.get("total_amount"),
            "deposit": journal["deposit"] if journal else None, "difference": differences.get(sid),
            "journals": journal["journals"] if journal else 0,
            "journals_posted": journal["journals_posted"] if journal else 0,
            "sage_numbers": journal["sage_numbers"] if journal else None, "status": status, "reason": reason,
        })
    # newest deposit first; a settlement without a file (held before landing) last
    dated = sorted((r for r in rows if r["deposit_date"] is not None),
                   key=lambda r: (r["deposit_date"], r["settlement_id"]), reverse=True)
    return dated + [r for r in rows if r["deposit_date"] is None]


def flow_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    from sage_amazon.cockpit import deadletters as letters

    posting_ledger.ensure(con)
    counts: dict[str, dict[str, Any]] = {}
    for flow, status, n in con.execute("SELECT flow, status, count(*) FROM ops.posting_ledger GROUP BY ALL").fetchall():
        counts.setdefault(flow, {"posted": 0, "failed": 0, "sending": 0})[status] = int(n)
    open_letters = letters.open_counts(con)
    return [{"flow": flow, **counts.get(flow, {"posted": 0, "failed": 0, "sending": 0}),
             "open_dead_letters": open_letters.get(flow, 0)}
            for flow in sorted(set(counts) | set(open_letters))]


def refresh(con: duckdb.DuckDBPyConnection) -> Overview:
    """Rebuild marts.settlement_overview and marts.flow_overview; what they now hold."""
    overview = Overview(settlement_rows(con), flow_rows(con))
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute("BEGIN")
    try:
        con.execute(_SETTLEMENT_DDL)
        columns = ("settlement_id", "marketplace", "currency", "settlement_start", "settlement_end", "deposit_date",
                   "total_amount", "deposit", "difference", "journals", "journals_posted", "sage_numbers",
                   "status", "reason")
        if overview.settlements:
            con.executemany(f"INSERT INTO {SETTLEMENTS} VALUES ({', '.join('?' * len(columns))})",
                            [[r[c] for c in columns] for r in overview.settlements])
        con.execute(_FLOW_DDL)
        if overview.flows:
            con.executemany(f"INSERT INTO {FLOWS} VALUES (?, ?, ?, ?, ?)",
                            [[r["flow"], r["posted"], r["failed"], r["sending"], r["open_dead_letters"]]
                             for r in overview.flows])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return overview
