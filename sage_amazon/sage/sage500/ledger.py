"""GL journals (tglPosting -> spglAPIPostBatchlessGLPosting -> tglTransaction) and AR credit memos on Sage 500,
once per reference."""

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

CREDIT_MEMO_TRAN_TYPE = 502

GL_POSTED = 500

_GL_ERRORS = {-3: e.UnknownAccount, -5: e.ClosedPeriod, -7: e.UnbalancedJournal}


def _absorb_home_rounding(rows: list[dict]) -> None:
    """Converting each line to home currency can leave cents of difference in a journal that balances
    in its own currency; the largest line absorbs them, as Sage's own currency revaluation would."""
    if sum(r["PostAmt"] for r in rows) != 0:
        return
    residue = sum(r["PostAmtHC"] for r in rows)
    if residue and abs(residue) <= Decimal("0.01") * len(rows):
        largest = max(rows, key=lambda r: abs(r["PostAmtHC"]))
        largest["PostAmtHC"] -= residue


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
        with self._tx() as conn:
            accounts = self._account_keys(conn, {r["GLAcctNo"] for r in rows}, refused)
            batch_key = self._next_keys(conn, "tciBatchLog")
        with self._tx(sent=True) as conn:
            conn.execute(text(
                "INSERT INTO tglPosting (BatchKey, CurrID, ExtCmnt, GLAcctKey, PostAmt, PostAmtHC, PostCmnt, PostDate, "
                "TranDate, SourceModuleNo, TranNo, TranType) VALUES (:b, :cur, :ext, :acct, :amt, :hc, :cmnt, :d, :d, "
                "1, :tn, 101)"),
                [{"b": batch_key, "cur": journal.currency, "ext": r["ExtCmnt"], "acct": accounts[r["GLAcctNo"]],
                  "amt": r["PostAmt"], "hc": r["PostAmtHC"], "cmnt": r["PostCmnt"], "d": journal.accounting_date,
                  "tn": f"{batch_key:010d}"} for r in rows])
            out = self._proc(conn, "spglAPIPostBatchlessGLPosting",
                             {"iCompanyID": self.company_id, "iBatchKey": batch_key, "iBatchCmnt": journal.reference},
                             [("oBatchID", "varchar(15)"), ("oPostStatus", "int"), ("oRetVal", "int")])
            reasons = [] if out["oretval"] == 1 else list(conn.execute(text(
                "SELECT ErrorCmnt FROM tciErrorLog WHERE BatchKey = :b AND Severity = 2 ORDER BY ErrorLogKey"),
                {"b": batch_key}).scalars())
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
                         "PostCmnt": (line.description or journal.description)[:50] or None,
                         "ExtCmnt": " ".join(x for x in (journal.reference, line.reference) if x)[:255]})
        _absorb_home_rounding(rows)
        return rows

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
        """An AR credit memo (tarInvoice TranType 502), once per reference (kept in TranCmnt)."""
        refused = f"credit note {note.reference}"
        if len(note.reference) > 50:
            raise e.MalformedRequest("the credit note reference must be at most 50 characters", refused=refused)
        with self._tx() as conn:
            found = conn.execute(text("SELECT TranNo FROM tarInvoice WHERE CompanyID = :c AND TranType = 502 "
                                      "AND TranCmnt = :r"), {"c": self.company_id, "r": note.reference}).scalar()
            if found:
                return CreditNoteResult(found, created=False)
            cust = conn.execute(text("SELECT CustKey FROM tarCustomer WHERE CompanyID = :c AND CustID = :id "
                                     "AND Status IN (1, 3)"), {"c": self.company_id, "id": note.customer}).scalar()
            if cust is None:
                raise e.UnknownCustomer(f"Invalid Customer ID '{note.customer}'", refused=refused)
            items = dict(conn.execute(text(
                "SELECT ItemID, ItemKey FROM timItem WHERE CompanyID = :c AND Status = 1 AND ItemID IN :i").bindparams(
                bindparam("i", expanding=True)), {"c": self.company_id, "i": [ln.item for ln in note.lines] or [""]}).all())
            missing = sorted({ln.item for ln in note.lines} - set(items))
            if missing:
                raise e.UnknownItem(f"Invalid Item ID '{', '.join(missing)}'", refused=refused)
        with self._tx(sent=True) as conn:
            tran_no = f"{self._next_keys(conn, 'tarInvoice'):010d}"
            amounts = [cents(ln.quantity * ln.net_price) for ln in note.lines]
            conn.execute(text(
                "INSERT INTO tarInvoice (CompanyID, TranNo, TranID, TranType, CustKey, TranDate, CurrID, SalesAmt, "
                "TranAmt, CustPONo, TranCmnt) VALUES (:c, :t, :tid, 502, :k, :d, :cur, :amt, :amt, :po, :r)"),
                {"c": self.company_id, "t": tran_no, "tid": f"{tran_no}-CM", "k": cust, "d": note.document_date,
                 "cur": note.currency, "amt": sum(amounts, Decimal("0")), "po": note.original_order_ref or None,
                 "r": note.reference})
            invc = conn.execute(text("SELECT InvcKey FROM tarInvoice WHERE CompanyID = :c AND TranType = 502 "
                                     "AND TranNo = :t"), {"c": self.company_id, "t": tran_no}).scalar_one()
            conn.execute(text(
                "INSERT INTO tarInvoiceDetl (InvcKey, SeqNo, ItemKey, Description, QtyShipped, UnitPrice, ExtAmt) "
                "VALUES (:k, :n, :i, :d, :q, :p, :a)"),
                [{"k": invc, "n": n, "i": items[ln.item], "d": ln.description[:40] or None, "q": ln.quantity,
                  "p": ln.net_price, "a": amt} for n, (ln, amt) in enumerate(zip(note.lines, amounts, strict=True), 1)])
        return CreditNoteResult(tran_no, created=True)
