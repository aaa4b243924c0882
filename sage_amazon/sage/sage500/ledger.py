"""GL journals (tglPosting -> spglAPIPostBatchlessGLPosting -> tglTransaction) and AR credit memos (StgARInvoice ->
spARapiInvoiceIns -> tarInvoice, posted) on Sage 500, once per reference."""

from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import Connection, bindparam, text

from sage_amazon.money import cents
from sage_amazon.sage import errors as e
from sage_amazon.sage.protocol import (
    CreditNote,
    CreditNoteResult,
    Journal,
    JournalResult,
)

from .base import Sage500Base, _retried

log = logging.getLogger(__name__)

# The customer of a GL line on a control account, as Sage 500 keeps it: an AR memo of the customer that the line's
# tglPosting row names (SourceModuleNo 5 = AR, TranType, TranKey). [UNCONFIRMED] 503 as the debit memo tran type
# (sage-erp.md names 501 invoice and 502 credit memo only).
AR_MODULE = 5
AR_CREDIT_MEMO, AR_DEBIT_MEMO = 502, 503

# Widths of the text columns the writer fills; a longer text is cut here (the warehouse keeps it whole).
# tglPosting.PostCmnt: varchar(50), as the other comment columns in sage-erp.md ("TranCmnt varchar 50");
# ExtCmnt varchar 255 and a line's Description varchar 40 (sage-erp.md, the StgSOLine columns).
POST_CMNT_WIDTH = 50
EXT_CMNT_WIDTH = 255
LINE_DESCRIPTION_WIDTH = 40

_GL_ERRORS = {-3: e.UnknownAccount, -5: e.ClosedPeriod, -7: e.UnbalancedJournal}
# tdmMigrationLogWrk.ColumnID of an AR import failure -> the typed error it means (first match wins)
_NOTE_ERRORS: tuple[tuple[str, type[e.SageBusinessError]], ...] = (
    ("CustID", e.UnknownCustomer), ("ItemID", e.UnknownItem), ("GLAcctNo", e.UnknownAccount),
    ("TranDate", e.ClosedPeriod))


def _absorb_home_rounding(rows: list[dict]) -> None:
    """Converting each line to home currency can leave cents of difference in a journal that balances
    in its own currency; the largest line absorbs them, as Sage's own currency revaluation would."""
    if sum(r["PostAmt"] for r in rows) != 0:
        return
    residue = sum(r["PostAmtHC"] for r in rows)
    if residue and abs(residue) <= Decimal("0.01") * len(rows):
        largest = max(rows, key=lambda r: abs(r["PostAmtHC"]))
        largest["PostAmtHC"] -= residue


def _row_partners(journal: Journal) -> list[str]:
    """The business partner of each row _posting_rows makes (the same lines: zero lines post nothing)."""
    return [ln.partner for ln in journal.lines if ln.debit or ln.credit or ln.ledger_debit or ln.ledger_credit]


def _row_allocations(journal: Journal) -> list[tuple[tuple[str, Decimal], ...]]:
    """The per-order allocations of each row _posting_rows makes (see _row_partners)."""
    return [getattr(ln, "allocations", ()) for ln in journal.lines
            if ln.debit or ln.credit or ln.ledger_debit or ln.ledger_credit]


def _split_per_order(row: dict, allocations: tuple[tuple[str, Decimal], ...]) -> list[tuple[dict, str]]:
    """A receivables row cut into one row per Amazon order (PostAmt = minus the order's credit-positive amount) and
    one for what no order accounts for; the home-currency amounts are cut in proportion, the largest part taking the
    cents of rounding, so the parts sum to the row in both currencies. [(row, AmazonOrderId or "")]."""
    parts = [(order, -Decimal(amount)) for order, amount in allocations if amount]
    rest = row["PostAmt"] - sum((a for _, a in parts), Decimal("0"))
    if rest:
        parts.append(("", rest))
    if not parts or not row["PostAmt"]:
        return [(row, "")]
    home = [cents(a * row["PostAmtHC"] / row["PostAmt"]) for _, a in parts]
    largest = max(range(len(parts)), key=lambda i: abs(parts[i][1]))
    home[largest] += row["PostAmtHC"] - sum(home, Decimal("0"))
    return [({**row, "PostAmt": amount, "PostAmtHC": hc,
              "ExtCmnt": " ".join(x for x in (row["ExtCmnt"], order) if x)[:EXT_CMNT_WIDTH]}, order)
            for (order, amount), hc in zip(parts, home, strict=True)]


class Ledger(Sage500Base):
    """Journals and credit notes, once per reference."""

    # -- journals -------------------------------------------------------------------------------------
    @_retried
    def find_journal(self, reference: str) -> str | None:
        with self._tx() as conn:
            return conn.execute(text(
                "SELECT BatchID FROM tciBatchLog WHERE CompanyID = :c AND BatchCmnt = :r AND PostStatus = 500 "
                "ORDER BY BatchKey"), {"c": self.company_id, "r": reference}).scalar()

    @_retried
    def post_journal(self, journal: Journal) -> JournalResult:
        refused = f"journal {journal.reference}"
        existing = type(self).find_journal.__wrapped__(self, journal.reference)  # retried by post_journal
        if existing:
            return JournalResult(existing, created=False)
        rows = self._posting_rows(journal, refused)
        partners = _row_partners(journal)
        orders: list[str] = [""] * len(rows)
        if any(partners):  # a receivables line made of several orders' amounts: one AR memo per order
            split = [_split_per_order(row, allocs) if partner else [(row, "")]
                     for row, partner, allocs in zip(rows, partners, _row_allocations(journal), strict=True)]
            partners = [p for p, parts in zip(partners, split, strict=True) for _ in parts]
            orders = [order for parts in split for _, order in parts]
            rows = [row for parts in split for row, _ in parts]
        with self._tx() as conn:
            accounts = self._account_keys(conn, {r["GLAcctNo"] for r in rows}, refused)
            codes = self._acct_ref_keys(conn, {r["AcctRefCode"] for r in rows if r["AcctRefCode"]}, refused)
            customers = self._customer_keys(conn, {p for p in partners if p}, refused)
            batch_key = self._next_keys(conn, "tciBatchLog")
        with self._tx(sent=True) as conn:
            memos = self._ar_memos(conn, journal, rows, partners, customers, orders)
            conn.execute(text(
                "INSERT INTO tglPosting (BatchKey, AcctRefKey, CurrID, ExtCmnt, GLAcctKey, PostAmt, PostAmtHC, PostCmnt, "
                "PostDate, TranDate, SourceModuleNo, TranKey, TranNo, TranType) VALUES (:b, :ref, :cur, :ext, :acct, "
                ":amt, :hc, :cmnt, :d, :d, :mod, :tk, :tn, :tt)"),
                [{"b": batch_key, "cur": journal.currency, "ext": r["ExtCmnt"], "acct": accounts[r["GLAcctNo"]],
                  "ref": codes.get(r["AcctRefCode"]),
                  "amt": r["PostAmt"], "hc": r["PostAmtHC"], "cmnt": r["PostCmnt"], "d": journal.accounting_date,
                  "tn": f"{batch_key:010d}", **memos.get(n, {"mod": 1, "tk": None, "tt": 101})}
                 for n, r in enumerate(rows)])
            out = self._proc(conn, "spglAPIPostBatchlessGLPosting",
                             {"iCompanyID": self.company_id, "iBatchKey": batch_key, "iBatchCmnt": journal.reference},
                             [("oBatchID", "varchar(15)"), ("oPostStatus", "int"), ("oRetVal", "int")])
            reasons = [] if out["oretval"] == 1 else list(conn.execute(text(
                "SELECT ErrorCmnt FROM tciErrorLog WHERE BatchKey = :b AND Severity = 2 ORDER BY ErrorLogKey"),
                {"b": batch_key}).scalars())
            if memos:  # the customers' memos live with their posted batch only: a refused batch leaves none
                keys = {"k": [m["tk"] for m in memos.values()]}
                sql = ("UPDATE tarInvoice SET Status = 1 WHERE InvcKey IN :k" if out["oretval"] == 1 else
                       "DELETE FROM tarInvoice WHERE InvcKey IN :k")
                conn.execute(text(sql).bindparams(bindparam("k", expanding=True)), keys)
            if out["oretval"] == 1 and any(orders):  # each order's memo applied to that order's invoice
                self._apply_open_items(conn, sorted({o for o in orders if o}))
        if out["oretval"] == 1:
            return JournalResult(out["obatchid"], created=True)
        cls = _GL_ERRORS.get(out["opoststatus"], e.MalformedRequest)
        reason = "; ".join(reasons) or f"GL posting refused (PostStatus {out['opoststatus']})"
        raise cls(reason, refused=f"{refused} (Sage 500 batch {out['obatchid']})", messages=tuple(reasons))

    def _posting_rows(self, journal: Journal, refused: str) -> list[dict]:
        if len(journal.reference) > 50 or not journal.reference:
            raise e.MalformedRequest("the journal reference must be 1 to 50 characters (tciBatchLog.BatchCmnt)",
                                     refused=refused)
        # a zero line posts nothing; a home-currency-only line (FX gain/loss, rounding) posts PostAmt 0
        lines = [ln for ln in journal.lines if ln.debit or ln.credit or ln.ledger_debit or ln.ledger_credit]
        if len([ln for ln in lines if ln.debit or ln.credit]) < 2:
            raise e.MalformedRequest("a journal needs at least two non-zero lines", refused=refused)
        rows = []
        for line in lines:
            home_only = not line.debit and not line.credit
            if not home_only and ((line.debit > 0) == (line.credit > 0) or line.debit < 0 or line.credit < 0):
                raise e.MalformedRequest(f"line on {line.account}: exactly one of debit/credit must be positive",
                                         refused=refused)
            amount = line.debit - line.credit
            if line.ledger_debit is not None or line.ledger_credit is not None:
                home = (line.ledger_debit or Decimal("0")) - (line.ledger_credit or Decimal("0"))
            else:
                home = cents(amount * journal.rate)
            rows.append({"GLAcctNo": line.account.replace("-", ""), "PostAmt": amount, "PostAmtHC": home,
                         "PostCmnt": (line.description or journal.description)[:POST_CMNT_WIDTH] or None,
                         "ExtCmnt": " ".join(x for x in (journal.reference, line.reference) if x)[:EXT_CMNT_WIDTH],
                         # a line's tax code as its account reference code (tglAcctRef) [UNCONFIRMED: Sage 500's
                         # sales tax schedules and classes live on AR/AP documents; a GL line has no tax column]
                         "AcctRefCode": line.tax_code})
        _absorb_home_rounding(rows)
        return rows

    def _acct_ref_keys(self, conn: Connection, codes: set[str], refused: str) -> dict[str, int]:
        if not codes:
            return {}
        found = dict(conn.execute(text(
            "SELECT AcctRefCode, AcctRefKey FROM tglAcctRef WHERE CompanyID = :c AND Status = 1 AND AcctRefCode IN :r"
        ).bindparams(bindparam("r", expanding=True)), {"c": self.company_id, "r": sorted(codes)}).all())
        missing = sorted(codes - set(found))
        if missing:
            raise e.UnknownAccount(f"account reference code (tax code) {', '.join(missing)} does not exist in "
                                   f"company {self.company_id} (tglAcctRef)", refused=refused)
        return found

    def _customer_keys(self, conn: Connection, ids: set[str], refused: str) -> dict[str, int]:
        if not ids:
            return {}
        found = dict(conn.execute(text(
            "SELECT CustID, CustKey FROM tarCustomer WHERE CompanyID = :c AND Status IN (1, 3) AND CustID IN :i"
        ).bindparams(bindparam("i", expanding=True)), {"c": self.company_id, "i": sorted(ids)}).all())
        missing = sorted(ids - set(found))
        if missing:
            raise e.UnknownCustomer(f"Invalid Customer ID '{', '.join(missing)}' for a line on a receivables "
                                    "account (tarCustomer)", refused=refused)
        return found

    def _ar_memos(self, conn: Connection, journal: Journal, rows: list[dict], partners: list[str],
                  customers: dict[str, int], orders: list[str]) -> dict[int, dict]:
        """Each line with a business partner (the marketplace's customer on `receivables`) becomes an AR memo of
        that customer in tarInvoice (a credit to the receivable: credit memo; a debit: debit memo) for the line's
        amount, its open Balance, dated and commented (TranCmnt) with the journal reference, created pending
        (Status 0); the line's tglPosting row names it (SourceModuleNo 5, TranType, TranKey = InvcKey), which is how a
        Sage 500 GL line on the AR control account carries its customer. A row of one Amazon order (`orders`) makes
        that order's memo: CustPONo = the order id and SOKey = its sales order, so it can be applied to the order's
        invoice. Row index -> the tglPosting columns."""
        out: dict[int, dict] = {}
        memo_rows = [n for n, (row, partner) in enumerate(zip(rows, partners, strict=True))
                     if partner and row["PostAmt"]]
        first = self._next_keys(conn, "tarInvoice", len(memo_rows)) if memo_rows else 0  # one block: many orders
        for k, n in enumerate(memo_rows):
            row, partner, order = rows[n], partners[n], orders[n]
            credit = row["PostAmt"] < 0  # tglPosting: debit positive
            tran_type = AR_CREDIT_MEMO if credit else AR_DEBIT_MEMO
            tran_no = f"{first + k:010d}"
            conn.execute(text(
                "INSERT INTO tarInvoice (CompanyID, TranNo, TranID, TranType, CustKey, TranDate, CurrID, SalesAmt, "
                "TranAmt, Balance, CustPONo, SOKey, TranCmnt, Status) VALUES (:c, :t, :tid, :tt, :k, :d, :cur, 0, "
                ":amt, :amt, :po, (SELECT min(so.SOKey) FROM tsoSalesOrder so WHERE so.CompanyID = :c "
                "AND so.TranType = 801 AND so.CustKey = :k AND so.CustPONo = :po), :r, 0)"),
                {"c": self.company_id, "t": tran_no, "tid": f"{tran_no}-{'CM' if credit else 'DM'}", "tt": tran_type,
                 "k": customers[partner], "d": journal.accounting_date, "cur": journal.currency,
                 "amt": abs(row["PostAmt"]), "po": order or None, "r": journal.reference[:50]})
            key = conn.execute(text("SELECT InvcKey FROM tarInvoice WHERE CompanyID = :c AND TranType = :tt "
                                    "AND TranNo = :t"), {"c": self.company_id, "tt": tran_type, "t": tran_no}).scalar_one()
            out[n] = {"mod": AR_MODULE, "tk": key, "tt": tran_type}
        return out

    # -- applications -------------------------------------------------------------------------------
    @_retried
    def apply_open_items(self, customer_order_refs: list[str]) -> int:
        """Apply, per Amazon order (CustPONo), its customer's open credit memos (settlement payments, refund credit
        notes) to its open invoices, then its debit memos (a refund Amazon took back), as "Apply Payments and Memos"
        does, through spARapiApplyMemo. Idempotent: only open balances move; what cannot be matched stays open on its
        document (visible), never dropped. Returns the number of applications made."""
        with self._tx(sent=True) as conn:
            return self._apply_open_items(conn, customer_order_refs)

    @_retried
    def apply_all_open_items(self) -> int:
        """apply_open_items for every Amazon order with an open credit from the connector (a settlement's payment or
        a credit note: TranCmnt AMZ-...) and an open invoice or debit memo of the same customer and order: what
        Sage invoiced after the settlement that paid it was posted, which is never run again once fully posted.
        One query for the candidates, so it is cheap on every run. Returns the number of applications made."""
        with self._tx(sent=True) as conn:
            refs = [r[0] for r in conn.execute(text(
                "SELECT DISTINCT c.CustPONo FROM tarInvoice c JOIN tarInvoice d ON d.CompanyID = c.CompanyID "
                "AND d.CustKey = c.CustKey AND d.CustPONo = c.CustPONo AND d.TranType IN (501, 503) "
                "AND d.Status = 1 AND d.Balance > 0 "
                "WHERE c.CompanyID = :c AND c.TranType = 502 AND c.Status = 1 AND c.Balance > 0 "
                "AND c.TranCmnt LIKE 'AMZ-%' ORDER BY 1"), {"c": self.company_id}).all()]
            return self._apply_open_items(conn, refs)

    def _apply_open_items(self, conn: Connection, refs: list[str]) -> int:
        if not refs:
            return 0
        rows = conn.execute(text(
            "SELECT CustKey, CustPONo, InvcKey, TranType, Balance, TranDate FROM tarInvoice WHERE CompanyID = :c "
            "AND CustPONo IN :po AND TranType IN (501, 502, 503) AND Status = 1 AND Balance > 0 "
            "ORDER BY CustKey, CustPONo, CASE TranType WHEN 501 THEN 0 ELSE 1 END, InvcKey"
        ).bindparams(bindparam("po", expanding=True)), {"c": self.company_id, "po": list(refs)}).all()
        open_items: dict[tuple[int, str], tuple[list[list], list[list]]] = {}
        for cust, po, key, tran_type, balance, day in rows:
            credits, debits = open_items.setdefault((cust, po), ([], []))
            (credits if tran_type == AR_CREDIT_MEMO else debits).append([key, Decimal(balance), day])
        made = 0
        for credits, debits in open_items.values():
            for credit in credits:
                for debit in debits:
                    if credit[1] <= 0:
                        break
                    if debit[1] <= 0:
                        continue
                    out = self._proc(conn, "spARapiApplyMemo", {
                        "iCompanyID": self.company_id, "iApplyFromInvcKey": credit[0], "iApplyToInvcKey": debit[0],
                        "iApplyAmt": min(credit[1], debit[1]), "iApplyDate": max(credit[2], debit[2])},
                        [("oAppliedAmt", "numeric"), ("oMessage", "varchar(255)"), ("_oRetVal", "int")])
                    if out["_oretval"] != 1:
                        log.warning("Sage 500 did not apply credit memo %s to %s: %s", credit[0], debit[0],
                                    out["omessage"])
                        continue
                    applied = Decimal(out["oappliedamt"])
                    credit[1] -= applied
                    debit[1] -= applied
                    made += 1
        return made

    def _account_keys(self, conn: Connection, numbers: set[str], refused: str) -> dict[str, int]:
        found = dict(conn.execute(text(
            "SELECT GLAcctNo, GLAcctKey FROM tglAccount WHERE CompanyID = :c AND GLAcctNo IN :n").bindparams(
            bindparam("n", expanding=True)), {"c": self.company_id, "n": sorted(numbers)}).all())
        missing = sorted(numbers - set(found))
        if missing:
            raise e.UnknownAccount(f"GL account {', '.join(missing)} does not exist in company {self.company_id} "
                                   "(tglAccount)", refused=refused)
        return found

    # -- credit notes ---------------------------------------------------------------------------------
    @_retried
    def create_credit_note(self, note: CreditNote) -> CreditNoteResult:
        """An AR credit memo (tarInvoice TranType 502) through the AR import: staged in StgARInvoice /
        StgARInvoiceLine and imported and posted (GL entry included) by spARapiInvoiceIns, once per reference (kept
        in TranCmnt). Lines with their discount, freight and sales tax as the note says; linked to the Amazon order's
        sales order (SOTranNo) and applied to its AR invoice when Sage has one (ApplyToTranNo)."""
        return self._import_document(note, AR_CREDIT_MEMO)

    @_retried
    def create_debit_note(self, note: CreditNote) -> CreditNoteResult:
        """A refund reversed by a later charge (issue 15.2): an AR invoice (TranType 501) of the reversed amount for
        the marketplace customer, through the same AR import and posting as a credit memo (AR debited, sales, freight
        and sales tax credited), linked to the order (CustPONo, SOTranNo) and applied against the order's open credit
        memos, once per reference (TranCmnt). `note` carries the amounts charged back, positive, as a credit note
        carries a refund. [UNCONFIRMED] an invoice rather than an AR debit memo: the AR import takes invoices and
        credit memos only. X3 makes an SIH sales invoice of type INV for the same case."""
        return self._import_document(note, 501)

    def _import_document(self, note: CreditNote, tran_type: int) -> CreditNoteResult:
        debit = tran_type == 501
        refused = f"{'debit' if debit else 'credit'} note {note.reference}"
        if not note.reference or len(note.reference) > 50:
            raise e.MalformedRequest("the credit note reference must be 1 to 50 characters (tarInvoice.TranCmnt)",
                                     refused=refused)
        with self._tx() as conn:
            found = self._find_credit_note(conn, note.reference, tran_type)
            if found:
                return CreditNoteResult(found[0], created=False, applied_to=found[1])
            apply_to, sales_order = self._note_origin(conn, note)
            if debit:  # an invoice applies to nothing: its order's open credits are applied to it afterwards
                apply_to = ""
            session = self._next_keys(conn, "tdmMigrationLogWrk")
            tran_no = f"{self._next_keys(conn, 'tarInvoice'):010d}"
            conn.execute(text(  # an earlier refusal of this note: the staging shows the latest attempt only
                "DELETE FROM StgARInvoiceLine s WHERE EXISTS (SELECT 1 FROM StgARInvoice o WHERE o.SessionKey = "
                "s.SessionKey AND o.TranNo = s.TranNo AND o.TranCmnt = :r AND o.ProcessStatus = 2)"),
                {"r": note.reference})
            conn.execute(text("DELETE FROM StgARInvoice WHERE TranCmnt = :r AND ProcessStatus = 2"),
                         {"r": note.reference})
            conn.execute(text(
                "INSERT INTO StgARInvoice (SessionKey, ProcessStatus, Action, TranNo, TranType, CustID, CurrID, "
                "TranDate, CustPONo, TranCmnt, ApplyToTranNo, SOTranNo, FreightAmt, STaxAmt, TranAmt) VALUES "
                "(:s, 0, 1, :t, :type, :cust, :cur, :d, :po, :r, :apply, :so, :frt, :tax, :amt)"),
                {"s": session, "t": tran_no, "type": "Invoice" if debit else "Credit Memo", "cust": note.customer, "cur": note.currency, "d": note.document_date,
                 "po": note.original_order_ref or None, "r": note.reference, "apply": apply_to or None,
                 "so": sales_order or None, "frt": note.freight, "tax": note.tax, "amt": note.total})
            if note.lines:  # none: the import refuses the memo and says why
                conn.execute(text(
                    "INSERT INTO StgARInvoiceLine (SessionKey, ProcessStatus, TranNo, SeqNo, ItemID, Description, "
                    "Qty, UnitPrice, TradeDiscAmt, ExtAmt) VALUES (:s, 0, :t, :n, :i, :d, :q, :p, :disc, :a)"),
                [{"s": session, "t": tran_no, "n": n, "i": ln.item, "d": ln.description[:LINE_DESCRIPTION_WIDTH] or None,
                  "q": ln.quantity, "p": ln.net_price, "disc": ln.discount, "a": ln.amount}
                 for n, ln in enumerate(note.lines, 1)])
        with self._tx(sent=True) as conn:
            outcome = self._proc(conn, "spARapiInvoiceIns", {
                "iCancel": 0, "iSessionKey": session, "iCompanyID": self.company_id, "iRptOption": 3,
                "iPrintWarnings": 0, "UseStageTable": 1,
            }, [("oContinue", "smallint"), ("oRecsProcessed", "int"), ("oFailedRecs", "int"), ("oTotalRecs", "int"),
                ("_oRetVal", "int")])
        with self._tx() as conn:
            found = self._find_credit_note(conn, note.reference, tran_type)
            failures = list(conn.execute(text(
                "SELECT ColumnID, Comment FROM tdmMigrationLogWrk WHERE SessionKey = :s AND Status = 1 "
                "ORDER BY LogKey"), {"s": session}).all())
        if found:
            if note.original_order_ref:  # credit: what the invoice did not take goes to the order's debit memos;
                # debit: the order's open credits (the settlement's line of the charge) go to it
                with self._tx(sent=True) as conn:
                    self._apply_open_items(conn, [note.original_order_ref])
            return CreditNoteResult(found[0], created=True, applied_to=found[1])
        refused = f"{refused} (Sage 500 staging TranNo {tran_no}, session {session})"
        comments = tuple(c for _, c in failures if c)
        reason = "; ".join(comments) or "refused by spARapiInvoiceIns"
        if outcome.get("_oretval") == 3:
            raise e.SageConfigurationError(reason, refused=refused)
        if not failures:  # rolled back (return value 0): nothing was created, safe to resend
            raise e.SageTransientError(reason, refused=refused)
        columns = {c for c, _ in failures}
        cls = next((err for column, err in _NOTE_ERRORS if column in columns), e.MalformedRequest)
        raise cls(reason, refused=refused, messages=comments)

    def _find_credit_note(self, conn: Connection, reference: str, tran_type: int = AR_CREDIT_MEMO
                          ) -> tuple[str, str] | None:
        """(credit memo number, the document it applies to or its sales order) of a reference, if posted."""
        row = conn.execute(text(
            "SELECT i.TranNo, coalesce(a.TranID, so.TranID, '') FROM tarInvoice i "
            "LEFT JOIN tarInvoice a ON a.InvcKey = i.ApplyToInvcKey LEFT JOIN tsoSalesOrder so ON so.SOKey = i.SOKey "
            "WHERE i.CompanyID = :c AND i.TranType = :tt AND i.TranCmnt = :r ORDER BY i.InvcKey"),
            {"c": self.company_id, "r": reference, "tt": tran_type}).first()
        return (row[0], row[1]) if row else None

    def _note_origin(self, conn: Connection, note: CreditNote) -> tuple[str, str]:
        """(AR invoice TranNo, sales order TranNo) of the note's Amazon order for its customer, "" when none."""
        if not note.original_order_ref:
            return "", ""
        params = {"c": self.company_id, "cust": note.customer, "po": note.original_order_ref}
        invoice = conn.execute(text(
            "SELECT i.TranNo FROM tarInvoice i JOIN tarCustomer c ON c.CustKey = i.CustKey WHERE i.CompanyID = :c "
            "AND i.TranType = 501 AND c.CustID = :cust AND i.CustPONo = :po ORDER BY i.InvcKey DESC"), params).scalar()
        order = conn.execute(text(
            "SELECT so.TranNo FROM tsoSalesOrder so JOIN tarCustomer c ON c.CustKey = so.CustKey "
            "WHERE so.CompanyID = :c AND c.CustID = :cust AND so.CustPONo = :po ORDER BY so.SOKey DESC"),
            params).scalar()
        return invoice or "", order or ""
