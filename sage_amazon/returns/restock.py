"""Returned units back into Sage's stock, once per returned line, by disposition (returns.yaml).

`staging.stg_amazon_returns` ties each returned line to its order (marketplace, units shipped, units returned so
far). Here each line with status ok becomes one receipt: the site from the disposition (the marketplace's FBA site or
merchant site of inventory.yaml, or a named site), X3 stock status (A / Q / R) or Sage 500 bin, and a reason. X3:
miscellaneous receipt SMR (STOCK, STOJOU); Sage 500: inventory adjustment through spimAPIInvtAdjIns (timInvtTran
710), the same Sage calls as the inventory flow's FBA adjustments. Posting ledger flow `return_receipts`, key
`<order>|<sku>|<return ref>`: 'sending' committed before the call; after an unknown outcome the receipt is looked
up by its reference and adopted, never sent twice. A return of an unknown order or SKU, more units back than
shipped, a disposition returns.yaml does not map, or no site: a dead letter with its reason.

Reimbursed units leave again: a non-sellable return whose status in Amazon's report is "Reimbursed" (Amazon paid
the seller for the unit, which is now Amazon's) is followed by an issue of the same units from the same site,
status and bin (X3 miscellaneous issue SMO, Sage 500 negative adjustment), key `<order>|<sku>|<ref>|reimbursed`.

Short warehouse sessions only: none is held across a Sage call.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from sage_amazon import deadletters, posting_ledger
from sage_amazon.errors import TransientError, Unfinished, one_line
from sage_amazon.inventory.adjust import AdjustResult  # the same counts and samples as the FBA adjustments
from sage_amazon.mapping import MappingError, load_yaml
from sage_amazon.sage import errors as sage_errors

FLOW = "return_receipts"
REIMBURSED = "reimbursed"  # the FBA customer returns report's status when Amazon paid the seller for the unit
FILE = "returns.yaml"
MODES = ("report_only", "receive")
STATUSES = ("A", "Q", "R")


@dataclass(frozen=True)
class Disposition:
    site: str  # fba | mfn | a Sage site
    status: str = "A"
    bin: str = ""
    reason: str = "FBA"


@dataclass(frozen=True)
class ReturnRules:
    mode: str
    dispositions: dict[str, Disposition]


def load(doc: dict | None = None) -> ReturnRules:
    doc = doc if doc is not None else (load_yaml(FILE) or {})
    if not isinstance(doc, dict):
        raise MappingError(f"{FILE}: the top level must be a mapping")
    mode = str(doc.get("mode", "report_only"))
    if mode not in MODES:
        raise MappingError(f"{FILE}: 'mode' must be one of {', '.join(MODES)}, got {mode!r}")
    out: dict[str, Disposition] = {}
    for name, spec in (doc.get("dispositions") or {}).items():
        if not isinstance(spec, dict) or not spec.get("site"):
            raise MappingError(f"{FILE}: disposition {name} needs a site (fba, mfn or a Sage site)")
        status = str(spec.get("status") or "A").upper()
        if status not in STATUSES:
            raise MappingError(f"{FILE}: disposition {name}: status must be one of {', '.join(STATUSES)}")
        out[str(name).upper()] = Disposition(str(spec["site"]), status, str(spec.get("bin") or ""),
                                             str(spec.get("reason") or "FBA"))
    return ReturnRules(mode, out)


@dataclass(frozen=True)
class Receipt:
    key: str  # order|sku|return ref
    day: date
    site: str
    item: str
    quantity: Decimal
    status: str
    bin: str
    reason: str

    @property
    def reference(self) -> str:
        """Sage's business reference (17 characters: X3 MVTDES, Sage 500 TranCmnt)."""
        return f"AMR{self.day:%y%m%d}{hashlib.sha1(self.key.encode()).hexdigest()[:8].upper()}"

    @property
    def description(self) -> str:
        what = "reimbursed" if self.quantity < 0 else "return"
        return f"Amazon {what} {self.key.split('|')[0]}"  # whole: X3's writer cuts VCRDES to its LEN


REASONS = {
    "unknown_order": "return of an unknown Amazon order {amazon_order_id} (no such order read)",
    "unknown_sku": "return of SKU {sku} which is not on order {amazon_order_id}",
    "over_return": "more units of {sku} back ({returned_to_date}) than order {amazon_order_id} shipped "
                   "({units_shipped})",
}


def plan(con: Any, day: date, rules: ReturnRules, inventory: Any) -> tuple[list[Receipt], list[tuple[str, str, dict]]]:
    """(receipts of the day, problems as (key, reason, payload))."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "staging.stg_amazon_returns"):
        return [], []
    alias = dict(con.execute("SELECT sku, item FROM ref.sku_map").fetchall()) if table_exists(
        con, "ref.sku_map") else {}
    cur = con.execute("SELECT * FROM staging.stg_amazon_returns WHERE return_date = ? "
                      "ORDER BY amazon_order_id, sku, return_ref", [day])
    names = [d[0] for d in cur.description]
    receipts, problems = [], []
    for values in cur.fetchall():
        r = dict(zip(names, values, strict=True))
        key = f"{r['amazon_order_id']}|{r['sku']}|{r['return_ref'] or r['returned_at']}"
        payload = {k: str(v) for k, v in r.items()}
        if r["status"] != "ok":
            problems.append((key, REASONS.get(r["status"], r["status"]).format(**payload), payload))
            continue
        disposition = rules.dispositions.get(str(r["disposition"] or "").upper())
        if disposition is None:
            problems.append((key, f"disposition {r['disposition'] or '(none)'} has no mapping in {FILE}", payload))
            continue
        where = disposition.site
        if where == "fba":
            where = (inventory.site_of_marketplace(r["marketplace_id"]) if r["channel"] == "AFN"
                     else inventory.mfn_sites.get(r["marketplace_id"]))
        elif where == "mfn":
            where = inventory.mfn_sites.get(r["marketplace_id"])
        if not where:
            problems.append((key, f"no Sage site for {r['channel']} returns of marketplace {r['marketplace_id']} "
                                  "(inventory.yaml)", payload))
            continue
        receipt = Receipt(key, day, where, alias.get(r["sku"], r["sku"]), Decimal(r["quantity"]),
                          disposition.status, disposition.bin, disposition.reason)
        receipts.append(receipt)
        if disposition.status != "A" and str(r.get("amazon_status") or "").strip().lower() == REIMBURSED:
            # Amazon paid for the unit it could not sell back: it leaves the non-sellable stock it came into
            receipts.append(replace(receipt, key=f"{key}|reimbursed", quantity=-receipt.quantity))
    return receipts, problems


# ------------------------------------------------------------------------------------------ Sage side

def _post_x3(target: Any, rc: Receipt) -> str:
    from sage_amazon.sage.x3.objectxml import build_object, parse_object

    publication = "SMR" if rc.quantity > 0 else "SMO"  # a reimbursed unit leaves: miscellaneous issue
    target.publications.setdefault(publication, publication)
    refused = f"{publication} {rc.site} {rc.item} ({rc.key})"

    def build(desc: Any) -> str:
        header = {"STOFCY": rc.site, "VCRNUM": "", "IPTDAT": rc.day.strftime("%Y%m%d"), "TRSCOD": rc.reason,
                  "VCRDES": rc.description, "MVTDES": rc.reference}
        lines = [(1, {"ITMREF": rc.item, "QTYSTU": format(abs(rc.quantity), "f"), "STA": rc.status})]
        return build_object(desc, header, lines, optional=frozenset({"VCRDES", "TRSCOD", "VCRNUM"}))

    from sage_amazon.inventory.adjust import find_adjustment

    adopted, result = target._write_once(publication, refused, build,
                                         lambda: find_adjustment(target, rc.reference))
    if adopted:
        return adopted
    header, _ = parse_object(result.result_xml)
    number = str(header.get("VCRNUM", "")).strip()
    if not number:
        raise sage_errors.SageBusinessError("X3 saved the receipt but returned no VCRNUM", refused=refused)
    return number


def _post_sage500(target: Any, rc: Receipt) -> str:
    refused = f"inventory adjustment {rc.site} {rc.item} ({rc.key})"
    with target._tx(sent=True) as conn:
        out = target._proc(conn, "spimAPIInvtAdjIns", {
            "iCompanyID": target.company_id, "iWhseID": rc.site, "iItemID": rc.item, "iWhseBinID": rc.bin or None,
            "iAdjQty": rc.quantity, "iReasonCodeID": rc.reason, "iTranDate": rc.day,
            "iTranCmnt": rc.reference, "iUserID": getattr(target, "user_id", "amazon")},
            [("oTranNo", "varchar(10)"), ("oMessage", "varchar(255)"), ("_oRetVal", "int")])
    if out.get("_oretval") != 1:
        raise sage_errors.SageBusinessError(str(out.get("omessage") or "refused"), refused=refused)
    return str(out["otranno"])


def post_receipt(target: Any, rc: Receipt) -> tuple[str, bool]:
    from sage_amazon.inventory.adjust import find_adjustment

    existing = find_adjustment(target, rc.reference)
    if existing:
        return existing, False
    return (_post_x3(target, rc) if target.name == "x3" else _post_sage500(target, rc)), True


# ------------------------------------------------------------------------------------------ the load

def receive(open_write: Any, target: Any, days: list[date], rules: ReturnRules, inventory: Any) -> AdjustResult:
    result = AdjustResult(mode=rules.mode)
    receipts: list[Receipt] = []
    with open_write() as con:
        posting_ledger.bind(con, target)
        deadletters.ensure(con)
        for day in days:
            todo, problems = plan(con, day, rules, inventory)
            receipts += todo
            for key, reason, payload in problems:
                deadletters.record(con, FLOW, key, reason, payload)
                result.add("dead_lettered", key, reason, day)
        states = {r.key: posting_ledger.get(con, FLOW, r.key) for r in receipts}
    if rules.mode != "receive":
        for rc in receipts:
            result.tally("report_only", rc.day)
        return result
    try:
        for rc in receipts:
            entry = states.get(rc.key)
            if entry is not None and entry.status == "posted":
                result.tally("already_posted", rc.day)
                continue
            _one(open_write, target, rc, result)
    except TransientError as exc:
        raise Unfinished(f"return receipts stopped: {one_line(exc)}", result) from exc
    return result


def _one(open_write: Any, target: Any, rc: Receipt, result: AdjustResult) -> None:
    with open_write() as con:
        posting_ledger.start(con, FLOW, rc.key, posting_ledger.payload_hash(
            {"key": rc.key, "site": rc.site, "item": rc.item, "quantity": str(rc.quantity), "status": rc.status,
             "bin": rc.bin, "reference": rc.reference}))
    try:
        number, created = post_receipt(target, rc)  # looks the reference up first: an unknown outcome is adopted
    except sage_errors.SageBusinessError as exc:
        with open_write() as con:
            posting_ledger.failed(con, FLOW, rc.key, one_line(exc))
            deadletters.record(con, FLOW, rc.key, one_line(exc), {"site": rc.site, "item": rc.item,
                                                                 "quantity": str(rc.quantity),
                                                                 "reference": rc.reference})
        result.add("dead_lettered", rc.key, one_line(exc), rc.day)
        return
    with open_write() as con:
        posting_ledger.posted(con, FLOW, rc.key, number)
        deadletters.resolve(con, FLOW, rc.key)
    result.add("posted" if created else "adopted", rc.key, f"{number} {rc.site} {rc.item} {rc.quantity:+} {rc.status}",
               rc.day)
