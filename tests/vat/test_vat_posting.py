"""VAT and GST (issue 17.1): hand-made settlements of a UK seller (GB->GB FBA, GB->DE export, B2B reverse charge,
Amazon as deemed supplier), a German seller (domestic, OSS, intra-EU B2B, reverse-charged fees) and a Canadian
seller (HST, GST + QST, GST) posted to the X3 and the Sage 500 sandboxes: each VAT journal, line by line, equals
the accountant's (tests/vat/sellers.py, worked by hand), tax codes included: X3 keeps each line's VAT code
(GACCENTRYD.VAT, checked against TABVAT), Sage 500 its account reference code (tglTransaction.AcctRefKey)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from sage_amazon.amazon import settlement as parser
from sage_amazon.ledger import posting, settlements
from sage_amazon.ledger.vat import journal as vat
from sage_amazon.mapping import accounts
from sage_amazon.warehouse import Warehouse
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


def _run(folder: Path, name: str, target_name: str, target, monkeypatch):
    """Build the seller's settlement in its own warehouse, post its journals and its VAT journal."""
    settlement = getattr(sellers, name)
    sellers.write_profile(folder, getattr(sellers, f"{name}_PROFILE"))
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(folder))
    path = folder / f"{settlement.settlement_id}.txt"
    settlement.write(path)
    wh = Warehouse(folder / "wh.duckdb", lock_timeout=60)
    with wh.write() as con:
        accounts.write_table(con, accounts.load(), target_name)
        settlement.land_order_data(con, folder)
        parser.land(con, path)
        settlements.build(con, settlement.settlement_id)
        assert all(o.passed for o in settlements.validate(con, settlement.settlement_id) if o.blocking)
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


def test_x3_refuses_a_tax_code_it_does_not_hold(x3, tmp_path, monkeypatch):
    """A code the X3 folder has no TABVAT record for is refused as X3 does: the VAT journal is a dead letter
    naming the code, nothing of it is posted, and the next run tries again."""
    import yaml

    x3_handle, target = x3
    sellers.write_profile(tmp_path, sellers.DE_PROFILE)
    doc = yaml.safe_load((tmp_path / "tax_profile.yaml").read_text())
    doc["targets"]["x3"]["tax_codes"] = {"oss:FR": "FROSS"}
    (tmp_path / "tax_profile.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.setattr(sellers, "write_profile", lambda folder, profile: None)
    settlement = sellers.DE
    monkeypatch.setattr(sellers, "DE", type(settlement)("91710000007", settlement.currency, settlement.start,
                                                        settlement.end, settlement.orders, settlement.other))
    _, _, report = _run(tmp_path, "DE", "x3", target, monkeypatch)
    reference = "VAT-91710000007-202607"
    assert report.posted == {} and "FROSS : Record does not exist (tax code)" in report.dead_letters[reference]
    assert _x3_lines(x3_handle, reference) == {}


def test_sage500_refuses_a_tax_code_it_does_not_hold(sage500, tmp_path, monkeypatch):
    import yaml

    db, target = sage500
    sellers.write_profile(tmp_path, sellers.CA_PROFILE)
    doc = yaml.safe_load((tmp_path / "tax_profile.yaml").read_text())
    doc["targets"]["sage500"]["tax_codes"] = {"qst:CA-QC": "QST-QC-9975"}
    (tmp_path / "tax_profile.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.setattr(sellers, "write_profile", lambda folder, profile: None)
    settlement = sellers.CA
    monkeypatch.setattr(sellers, "CA", type(settlement)("91710000006", settlement.currency, settlement.start,
                                                        settlement.end, settlement.orders, settlement.other))
    _, _, report = _run(tmp_path, "CA", "sage500", target, monkeypatch)
    reference = "VAT-91710000006-202607"
    assert report.posted == {} and "QST-QC-9975 does not exist" in report.dead_letters[reference]
    assert _sage500_lines(db, reference) == {}
