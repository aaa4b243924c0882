"""Real-file shapes: blanks around amounts (Amazon.ca V1), local number format (Amazon.de V2), yen without
decimals, and refusals that name the line, the column and the value."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from sage_amazon.amazon import settlement as st
from tests.settlements.conftest import V1_SAMPLE, V2_SAMPLE

FILES = Path(__file__).parent / "files"


def _amounts(con, sid):
    return con.execute("SELECT amount_description, amount FROM raw.settlement_lines WHERE settlement_id = ? "
                       "ORDER BY amount_description, amount", [sid]).fetchall()


def test_amazon_ca_v1_with_blanks_around_amounts_parses(con):
    summary = st.land(con, FILES / "ca-v1-blanks.txt")
    assert (summary.currency, summary.marketplace, summary.total_amount) == ("CAD", "CA", Decimal("59.42"))
    assert con.execute("SELECT sum(amount), count(*) FROM raw.settlement_lines").fetchone() == (Decimal("59.42"), 10)
    assert ("Principal", Decimal("32.09")) in _amounts(con, summary.settlement_id)
    assert ("Commission", Decimal("-4.81")) in _amounts(con, summary.settlement_id)


def test_blank_padded_values_post_like_the_plain_file(tmp_path):
    from sage_amazon.ledger import settlements

    lines = V2_SAMPLE.read_text().splitlines()
    path = tmp_path / "padded.txt"
    path.write_text("\n".join([lines[0], lines[1]] + [
        "\t".join(f" {v}  " if v else v for v in line.split("\t")) for line in lines[2:]]) + "\n")

    def nets(p):
        out = {}
        for journal in p.journals:
            for x in journal.lines:
                out[x.account] = out.get(x.account, 0) + x.credit - x.debit
        return out

    padded, plain = settlements.preview(path, "x3"), settlements.preview(V2_SAMPLE, "x3")
    assert all(o.passed for o in padded.outcomes), [o.description for o in padded.outcomes if not o.passed]
    assert nets(padded) == nets(plain)
    assert [(j.reference, j.accounting_date) for j in padded.journals] == [
        (j.reference, j.accounting_date) for j in plain.journals]


def test_amazon_de_v2_in_local_number_format(con):
    summary = st.land(con, FILES / "de-v2-local.txt")
    assert (summary.currency, summary.marketplace, summary.total_amount) == ("EUR", "DE", Decimal("1080.65"))
    assert summary.deposit_date == date(2025, 10, 18)
    assert ("Principal", Decimal("1250.00")) in _amounts(con, summary.settlement_id)
    assert con.execute("SELECT sum(amount), min(posted_date) FROM raw.settlement_lines").fetchone() == (
        Decimal("1080.65"), date(2025, 10, 5))


def test_yen_without_decimals(con):
    summary = st.land(con, FILES / "jp-v2-yen.txt")
    assert (summary.currency, summary.marketplace, summary.total_amount) == ("JPY", "JP", Decimal("2876"))
    assert ("Principal", Decimal("3500.00")) in _amounts(con, summary.settlement_id)


@pytest.mark.parametrize(("sample", "old", "new", "line", "column"), [
    (V2_SAMPLE, "\t89.00\t", "\t 89.O0  \t", 8, "amount"),
    (V1_SAMPLE, "\t-3.22\t", "\t-3.2x   \t", 3, "item-related-fee-amount"),
    (V2_SAMPLE, "\t-4.75\t", "\t-4.755  \t", 6, "amount"),
])
def test_refusal_names_line_column_and_value(con, tmp_path, sample, old, new, line, column):
    path = tmp_path / "bad.txt"
    path.write_text(sample.read_text().replace(old, new, 1))
    with pytest.raises(st.SettlementFileError) as err:
        st.land(con, path)
    assert (err.value.line, err.value.column, err.value.value) == (line, column, new.strip())
    assert f"line {line}" in str(err.value) and repr(column) in str(err.value) and repr(new.strip()) in str(err.value)
    assert "not found" not in str(err.value)


def test_bad_posted_date_names_line_column_and_value(con, tmp_path):
    path = tmp_path / "bad-date.txt"
    path.write_text(V2_SAMPLE.read_text().replace("\t2026-06-17 00:00:00 UTC\t", "\t2026-13-45 00:00:00 UTC\t", 1))
    with pytest.raises(st.SettlementFileError) as err:
        st.land(con, path)
    assert (err.value.line, err.value.column, err.value.value) == (3, "posted-date", "2026-13-45 00:00:00 UTC")
