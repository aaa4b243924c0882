"""VAT and GST (issue 17.1): hand-made settlements of a UK seller (GB->GB FBA, GB->DE export, B2B reverse charge,
Amazon as deemed supplier), a German seller (domestic, OSS, intra-EU B2B, reverse-charged fees) and a Canadian
seller (HST, GST + QST, GST) posted to the X3 and the Sage 500 sandboxes: each VAT journal, line by line, equals
the accountant's (tests/vat/sellers.py, worked by hand), tax codes included: X3 keeps each line's VAT code
(GACCENTRYD.VAT, checked against TABVAT), Sage 500 its account reference code (tglTransaction.AcctRefKey)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from sage_amazon.ledger import posting
from sage_amazon.ledger.vat import journal as vat
from tests.tax.handmade import sage500_sandbox, x3_sandbox
from tests.vat import sellers

D = Decimal
SELLERS = ("UK", "DE", "CA")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def x3(tmp_path_factory):
    with x3_sandbox(tmp_path_factory.mktemp("x3")) as pair:
        yield pair


@pytest.fixture(scope="module")
def sage500():
    with sage500_sandbox() as pair:
        yield pair


def _run(folder: Path, name: str, target_name: str, target, monkeypatch, settlement_id: str = "",
         codes: dict[str, str] | None = None):
    """Build the seller's settlement in its own warehouse, post its journals and its VAT journal."""
    settlement = getattr(sellers, name)
    if settlement_id:
        settlement = replace(settlement, settlement_id=settlement_id)
    sellers.write_profile(folder, getattr(sellers, f"{name}_PROFILE"), codes)
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(folder))
    wh = settlement.build(folder, target_name)
    assert posting.post_settlement(wh.write, target, settlement.settlement_id).all_posted
    report = vat.run(wh.write, target, settlement.settlement_id)
    return wh, settlement, report


def _x3_lines(x3, reference: str) -> dict[tuple[str, str], Decimal]:
    from sqlalchemy import text

    with x3.engine.connect() as conn:
        rows = conn.execute(text("SELECT d.ACC_0, d.VAT_0, d.SNS_0, d.AMTCUR_0 FROM GACCENTRYD d JOIN GACCENTRY h "
                                 "ON h.NUM_0 = d.NUM_0 AND h.TYP_0 = d.TYP_0 WHERE h.REF_0 = :r"),
                            {"r": reference}).fetchall()
    out: dict[tuple[str, str], Decimal] = {}
    for acc, code, sns, amount in rows:
        key = (acc, (code or "").strip())
        assert key not in out, f"two lines on {key}"
        out[key] = -D(str(amount)) * sns  # credit-positive
    return out


def _sage500_lines(db, reference: str) -> dict[tuple[str, str], Decimal]:
    from sqlalchemy import text

    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT a.GLAcctNo, coalesce(r.AcctRefCode, ''), t.PostAmt FROM tglTransaction t "
                                 "JOIN tglAccount a ON a.GLAcctKey = t.GLAcctKey "
                                 "LEFT JOIN tglAcctRef r ON r.AcctRefKey = t.AcctRefKey "
                                 "JOIN tciBatchLog b ON b.BatchKey = t.BatchKey WHERE b.BatchCmnt = :r"),
                            {"r": reference}).fetchall()
    out: dict[tuple[str, str], Decimal] = {}
    for acc, code, amount in rows:
        assert (acc, code) not in out, f"two lines on {(acc, code)}"
        out[(acc, code)] = -D(amount)  # Sage 500: debit positive
    return out


@pytest.mark.parametrize("name", SELLERS)
def test_x3_vat_journal_equals_the_accountants(name, x3, tmp_path, monkeypatch):
    x3_handle, target = x3
    wh, settlement, report = _run(tmp_path, name, "x3", target, monkeypatch)
    reference = f"VAT-{settlement.settlement_id}-202607"
    assert report.waiting == {} and list(report.posted) == [reference], report
    assert _x3_lines(x3_handle, reference) == getattr(sellers, f"{name}_JOURNAL")
    # a second run posts nothing again
    again = vat.run(wh.write, target, settlement.settlement_id)
    assert again.posted == {} and list(again.already) == [reference]
    assert len(_x3_lines(x3_handle, reference)) == len(getattr(sellers, f"{name}_JOURNAL"))


@pytest.mark.parametrize("name", SELLERS)
def test_sage500_vat_journal_equals_the_accountants(name, sage500, tmp_path, monkeypatch):
    db, target = sage500
    _, settlement, report = _run(tmp_path, name, "sage500", target, monkeypatch)
    reference = f"VAT-{settlement.settlement_id}-202607"
    assert report.waiting == {} and list(report.posted) == [reference], report
    assert _sage500_lines(db, reference) == getattr(sellers, f"{name}_JOURNAL")


@pytest.mark.parametrize(("erp", "name", "codes", "refusal"), [
    ("x3", "DE", {"oss:FR": "FROSS"}, "FROSS : Record does not exist (tax code)"),
    ("sage500", "CA", {"qst:CA-QC": "QST-QC-9975"}, "account reference code (tax code) QST-QC-9975 does not exist"),
])
def test_a_tax_code_the_erp_does_not_hold_is_refused(erp, name, codes, refusal, request, tmp_path, monkeypatch):
    """A code the ERP has no record of (X3 TABVAT, Sage 500 tglAcctRef) is refused as the ERP does: the VAT journal
    is a dead letter naming the code, nothing of it is posted, and the next run tries again."""
    handle, target = request.getfixturevalue(erp)
    _, _, report = _run(tmp_path, name, erp, target, monkeypatch, settlement_id="91710000007", codes=codes)
    reference = "VAT-91710000007-202607"
    assert report.posted == {} and refusal in report.dead_letters[reference]
    assert (_x3_lines if erp == "x3" else _sage500_lines)(handle, reference) == {}
