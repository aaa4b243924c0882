"""Amazon -> Sage: the FBA sites follow Amazon's fulfillable quantity, once per (day, site, item).

The discrepancy (marts.fba_discrepancy, a SQL model) shows units and value per site and item between Sage's
physical stock and Amazon's fulfillable units, Amazon-reserved and inbound units apart (never adjusted). Here:

- `pending(con, day)`: the day's lines to adjust and the lines that cannot be (unknown SKU, no FBA site for a
  marketplace, absurd quantities) as dead letters;
- `post_adjustments(open_write, target, day, rules)`: for each (day, site, item) not yet posted, the Sage physical
  stock is read again (the snapshot may be hours old) and the difference to Amazon's fulfillable units is posted
  as one adjustment with the reason code: X3 miscellaneous receipt (SMR) or issue (SMO), Sage 500 inventory
  adjustment (timInvtTran 710 through spimAPIInvtAdjIns). The posting ledger (flow `fba_adjustments`, key
  `<day>|<site>|<item>`) makes it once: 'sending' is committed before the call; after an unknown outcome the
  adjustment is looked up in Sage by its reference and adopted, never sent twice.

Short warehouse sessions only: none is held across a Sage call.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sage_amazon import deadletters, posting_ledger
from sage_amazon.errors import TransientError, Unfinished, one_line
from sage_amazon.outcomes import Outcomes
from sage_amazon.sage import errors as sage_errors

log = logging.getLogger(__name__)

FLOW = "fba_adjustments"
DISCREPANCY_TABLE = "marts.fba_discrepancy"
MAX_UNITS = 1_000_000  # beyond this an Amazon or Sage quantity is absurd: a dead letter, never an adjustment


@dataclass(frozen=True)
class Adjustment:
    day: date
    site: str
    item: str
    quantity: Decimal  # signed: > 0 receipt, < 0 issue
    reason_code: str
    amazon_fulfillable: int

    @property
    def key(self) -> str:
        return f"{self.day.isoformat()}|{self.site}|{self.item}"

    @property
    def reference(self) -> str:
        """Sage's business reference of the adjustment (17 characters: fits X3 MVTDES and Sage 500 TranCmnt)."""
        digest = hashlib.sha1(self.key.encode()).hexdigest()[:8].upper()
        return f"AMZ{self.day:%y%m%d}{digest}"

    @property
    def description(self) -> str:
        """Whole: X3's writer cuts it to the LEN getDescription publishes for VCRDES (Sage 500 sends none)."""
        return f"Amazon FBA {self.day.isoformat()} {self.item}"


@dataclass
class AdjustResult(Outcomes):
    mode: str = ""


# ------------------------------------------------------------------------------------------ Sage side

def find_adjustment(target: Any, reference: str) -> str | None:
    if target.name == "x3":
        from sage_amazon.sage.x3.rest import quote_literal

        rows = target._retrying(lambda: list(target.rest.query(
            "STOJOU", where=f"MVTDES eq {quote_literal(reference)}", order_by="VCRNUM", count=5)))
        return rows[0]["VCRNUM"] if rows else None
    from sqlalchemy import text

    with target._tx() as conn:
        row = conn.execute(text("SELECT TranNo FROM timInvtTran WHERE CompanyID = :c AND TranType = 710 "
                                "AND TranCmnt = :r ORDER BY InvtTranKey LIMIT 1"),
                           {"c": target.company_id, "r": reference}).first()
    return row[0] if row else None


def post_adjustment(target: Any, adj: Adjustment) -> tuple[str, bool]:
    """Post the adjustment once by its reference: (Sage document number, created)."""
    existing = find_adjustment(target, adj.reference)
    if existing:
        return existing, False
    if target.name == "x3":
        return _post_x3(target, adj), True
    return _post_sage500(target, adj), True


def _post_x3(target: Any, adj: Adjustment) -> str:
    from sage_amazon.sage.x3.objectxml import build_object, parse_object

    publication = "SMR" if adj.quantity > 0 else "SMO"
    target.publications.setdefault(publication, publication)
    refused = f"{publication} {adj.site} {adj.item} ({adj.key})"

    def build(desc: Any) -> str:
        header = {"STOFCY": adj.site, "VCRNUM": "", "IPTDAT": adj.day.strftime("%Y%m%d"), "TRSCOD": adj.reason_code,
                  "VCRDES": adj.description, "MVTDES": adj.reference}
        lines = [(1, {"ITMREF": adj.item, "QTYSTU": format(abs(adj.quantity), "f"), "STA": "A"})]
        return build_object(desc, header, lines, optional=frozenset({"VCRDES", "TRSCOD", "VCRNUM"}))

    adopted, result = target._write_once(publication, refused, build, lambda: find_adjustment(target, adj.reference))
    if adopted:
        return adopted
    header, _ = parse_object(result.result_xml)
    number = str(header.get("VCRNUM", "")).strip()
    if not number:
        raise sage_errors.SageBusinessError("X3 saved the movement but returned no VCRNUM", refused=refused)
    return number


def _post_sage500(target: Any, adj: Adjustment) -> str:
    refused = f"inventory adjustment {adj.site} {adj.item} ({adj.key})"
    with target._tx(sent=True) as conn:
        out = target._proc(conn, "spimAPIInvtAdjIns", {
            "iCompanyID": target.company_id, "iWhseID": adj.site, "iItemID": adj.item, "iWhseBinID": None,
            "iAdjQty": adj.quantity, "iReasonCodeID": adj.reason_code, "iTranDate": adj.day,
            "iTranCmnt": adj.reference, "iUserID": getattr(target, "user_id", "amazon")},
            [("oTranNo", "varchar(10)"), ("oMessage", "varchar(255)"), ("_oRetVal", "int")])
    if out.get("_oretval") != 1:
        raise sage_errors.SageBusinessError(str(out.get("omessage") or "refused"), refused=refused)
    return str(out["otranno"])


def physical_now(target: Any, site: str, unsellable_bins: tuple[str, ...] = ("DMG",)) -> dict[str, Decimal]:
    from sage_amazon.inventory import stock

    return {r.item: r.physical for r in stock.read(target, [site], unsellable_bins)}


# ------------------------------------------------------------------------------------------ the load

def pending(con: Any, day: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(lines of the day's discrepancy to adjust, lines that cannot be processed)."""
    rows: list[dict[str, Any]] = []
    if _exists(con):
        cur = con.execute(f"SELECT * FROM {DISCREPANCY_TABLE} WHERE snapshot_date = ? ORDER BY site, item, skus",
                          [day])
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    good = [r for r in rows if r["status"] in ("adjust", "match")]
    bad = [r for r in rows if r["status"] not in ("adjust", "match", "waiting")]
    return good, bad


def _exists(con: Any) -> bool:
    from sage_amazon.warehouse import table_exists

    return table_exists(con, DISCREPANCY_TABLE)


def _problem_key(day: date, r: dict[str, Any]) -> str:
    return f"{day.isoformat()}|{r.get('site') or '-'}|{r.get('item') or r.get('skus')}"


REASONS = {
    "unknown_sku": "unknown SKU: no Sage item for Amazon SKU {skus} (skus.yaml aliases or the item master)",
    "no_site": "marketplace {marketplaces} has FBA stock but no FBA site in inventory.yaml",
    "absurd_quantity": "absurd quantity for {skus} at {site}: Amazon fulfillable {amazon_fulfillable}, "
                       "Sage physical {sage_physical}",
}


def record_problems(con: Any, day: date, bad: list[dict[str, Any]]) -> int:
    for r in bad:
        reason = REASONS.get(r["status"], r["status"]).format(**{k: r.get(k) for k in (
            "skus", "marketplaces", "site", "amazon_fulfillable", "sage_physical")})
        deadletters.record(con, FLOW, _problem_key(day, r), reason, {k: str(v) for k, v in r.items()})
    return len(bad)


def post_adjustments(open_write: Any, target: Any, day: date, rules: Any) -> AdjustResult:
    """Make each FBA site's stock equal Amazon's fulfillable units for `day`, once per (day, site, item)."""
    result = AdjustResult(mode=rules.mode)
    with open_write() as con:
        posting_ledger.bind(con, target)  # another Sage than last time: a fresh ledger, never a silent skip
        deadletters.ensure(con)
        good, bad = pending(con, day)
        result.counts["dead_lettered"] += record_problems(con, day, bad)
        done = {k for (k,) in con.execute(
            "SELECT record_key FROM ops.posting_ledger WHERE flow = ? AND status = 'posted' AND record_key LIKE ?",
            [FLOW, f"{day.isoformat()}|%"]).fetchall()}
        sending = {k for (k,) in con.execute(
            "SELECT record_key FROM ops.posting_ledger WHERE flow = ? AND status = 'sending' AND record_key LIKE ?",
            [FLOW, f"{day.isoformat()}|%"]).fetchall()}
    if rules.mode != "adjust":
        result.counts["report_only"] += sum(1 for r in good if r["status"] == "adjust")
        return result
    by_site: dict[str, list[dict[str, Any]]] = {}
    for r in good:
        by_site.setdefault(r["site"], []).append(r)
    try:
        for site, lines in sorted(by_site.items()):
            todo = [r for r in lines if f"{day.isoformat()}|{site}|{r['item']}" not in done]
            result.counts["already_posted"] += len(lines) - len(todo)
            if not todo:
                continue
            current = physical_now(target, site, rules.unsellable_bins)  # the snapshot may be hours old
            for r in todo:
                _one(open_write, target, day, site, r, current, rules, result, sending)
    except TransientError as exc:
        raise Unfinished(f"FBA adjustments stopped: {one_line(exc)}", result) from exc
    return result


def _one(open_write: Any, target: Any, day: date, site: str, r: dict[str, Any], current: dict[str, Decimal],
         rules: Any, result: AdjustResult, sending: set[str]) -> None:
    fulfillable = int(r["amazon_fulfillable"])
    delta = Decimal(fulfillable) - current.get(r["item"], Decimal(0))
    adj = Adjustment(day, site, r["item"], delta, rules.reason_code, fulfillable)
    key = adj.key
    if key in sending:  # an earlier attempt's outcome is unknown: adopt what Sage has
        found = find_adjustment(target, adj.reference)
        if found:
            with open_write() as con:
                posting_ledger.posted(con, FLOW, key, found)
                deadletters.resolve(con, FLOW, key)
            result.add("adopted", key, found)
            return
    if delta == 0:  # nothing to post: the (day, site, item) may still be adjusted once later today
        result.add("in_step", key)
        return
    with open_write() as con:
        posting_ledger.start(con, FLOW, key, posting_ledger.payload_hash(
            {"key": key, "quantity": str(delta), "reason": adj.reason_code, "reference": adj.reference}))
    try:
        number, created = post_adjustment(target, adj)
    except sage_errors.SageBusinessError as exc:
        with open_write() as con:
            posting_ledger.failed(con, FLOW, key, one_line(exc))
            deadletters.record(con, FLOW, key, one_line(exc), {"site": site, "item": adj.item,
                                                                "quantity": str(delta), "reference": adj.reference})
        result.add("dead_lettered", key, one_line(exc))
        return
    with open_write() as con:
        posting_ledger.posted(con, FLOW, key, number)
        deadletters.resolve(con, FLOW, key)
    result.add("posted" if created else "adopted", key, f"{number} {delta:+f}")
