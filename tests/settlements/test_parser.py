"""The settlement parser on the public samples and on the shapes real Seller Central files take."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from sage_amazon.amazon import settlement as st
from tests.settlements.conftest import V1_SAMPLE, V2_SAMPLE, to_european


def _lines(con, sid):
    return con.execute(
        "SELECT transaction_type, amount_type, amount_description, amount, posted_date, sku "
        "FROM raw.settlement_lines WHERE settlement_id = ? ORDER BY ALL", [sid]).fetchall()


def test_v2_sample_parses_and_balances(con):
    summary = st.land(con, V2_SAMPLE)
    assert summary.settlement_id == "28471003921"
    assert summary.file_format == "V2"
    assert summary.total_amount == Decimal("582.89")
    assert summary.currency == "USD"
    assert summary.deposit_date == date(2026, 7, 2)
    assert summary.settlement_start == datetime(2026, 6, 16, tzinfo=UTC)
    assert summary.marketplace == "US"
    assert summary.line_count == 23
    total, types = con.execute(
        "SELECT sum(amount), typeof(sum(amount)) FROM raw.settlement_lines WHERE settlement_id = '28471003921'"
    ).fetchone()
    assert total == Decimal("582.89")
    assert types.startswith("DECIMAL")
    reserve = con.execute(
        "SELECT amount FROM raw.settlement_lines WHERE amount_description = 'Current Reserve Amount'").fetchone()
    assert reserve == (Decimal("-420.00"),)


def test_v1_sample_is_unpivoted_into_v2_lines(con):
    summary = st.land(con, V1_SAMPLE)
    assert summary.file_format == "V1"
    assert summary.total_amount == Decimal("1234.56")
    assert _lines(con, "12345678901") == [
        ("Order", "ItemFees", "FBAPerUnitFulfillmentFee", Decimal("-3.22"), date(2023, 1, 3), "SKU-1"),
        ("Order", "ItemPrice", "Principal", Decimal("19.99"), date(2023, 1, 3), "SKU-1"),
    ]


def test_bom_crlf_and_reordered_columns_give_the_same_lines(con, tmp_path):
    text = V2_SAMPLE.read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines()]
    order = list(reversed(range(len(rows[0]))))  # every column moved
    shuffled = "\r\n".join("\t".join(r[i] if i < len(r) else "" for i in order) for r in rows) + "\r\n"
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + shuffled.encode("utf-8"))
    expected_con = __import__("duckdb").connect()
    st.land(expected_con, V2_SAMPLE)
    st.land(con, path)
    assert _lines(con, "28471003921") == _lines(expected_con, "28471003921")


def test_european_day_first_dates_and_decimal_commas(con, tmp_path):
    path = tmp_path / "de.txt"
    path.write_text(to_european(V2_SAMPLE.read_text()), encoding="utf-8")
    assert "582,89" in path.read_text()
    summary = st.land(con, path)
    assert summary.total_amount == Decimal("582.89")
    assert summary.deposit_date == date(2026, 7, 2)
    assert summary.settlement_end == datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)
    rows = con.execute("SELECT sum(amount), min(posted_date), max(posted_date) FROM raw.settlement_lines").fetchone()
    assert rows == (Decimal("582.89"), date(2026, 6, 14), date(2026, 6, 30))


def test_thousands_separator_with_decimal_comma(con, tmp_path):
    text = V2_SAMPLE.read_text().replace("\t582.89\t", "\t1.582,89\t").replace("\t820.44\t", "\t1.820,44\t")
    path = tmp_path / "de-thousands.txt"
    path.write_text(text)
    summary = st.land(con, path)
    assert summary.total_amount == Decimal("1582.89")
    assert con.execute("SELECT sum(amount) FROM raw.settlement_lines").fetchone()[0] == Decimal("1582.89")


def test_iso_offsets_keep_the_local_posting_day(con, tmp_path):
    text = V2_SAMPLE.read_text().replace(
        "2026-06-30 00:00:00 UTC\t2026-06-30 04:12:00 UTC", "2026-06-30T00:00:00-07:00\t2026-06-30T20:12:00-07:00")
    path = tmp_path / "iso.txt"
    path.write_text(text)
    st.land(con, path)
    day, at = con.execute(
        "SELECT posted_date, posted_at FROM raw.settlement_lines WHERE amount_description = 'Storage Fee'"
    ).fetchone()
    assert day == date(2026, 6, 30)  # the marketplace's day, not the UTC day (July 1st)
    assert at.astimezone(UTC) == datetime(2026, 7, 1, 3, 12, tzinfo=UTC)


def test_gzip_file_is_read(con, tmp_path):
    path = tmp_path / "s.txt.gz"
    path.write_bytes(gzip.compress(V2_SAMPLE.read_bytes()))
    assert st.land(con, path).line_count == 23


def test_truncated_gzip_names_the_file_and_lands_nothing(con, tmp_path):
    data = gzip.compress(V2_SAMPLE.read_bytes() * 200)
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(st.SettlementFileError) as err:
        st.land(con, path)
    assert "cut.txt.gz" in str(err.value)
    assert "gzip" in str(err.value).lower()
    assert err.value.line and err.value.line > 2
    assert con.execute("SELECT count(*) FROM raw.settlement_lines").fetchone() == (0,)


def test_missing_column_names_the_column(con, tmp_path):
    rows = [line.split("\t") for line in V2_SAMPLE.read_text().splitlines()]
    idx = rows[0].index("amount-description")
    path = tmp_path / "missing.txt"
    path.write_text("\n".join("\t".join(r[:idx] + r[idx + 1:]) for r in rows) + "\n")
    with pytest.raises(st.SettlementFileError) as err:
        st.land(con, path)
    assert err.value.line == 1
    assert err.value.column == "amount-description"
    assert "missing.txt" in str(err.value)


def test_non_numeric_amount_names_line_and_column_and_lands_nothing(con, tmp_path):
    st.land(con, V2_SAMPLE)  # an earlier good landing of the same settlement must survive
    lines = V2_SAMPLE.read_text().splitlines()
    lines[7] = lines[7].replace("\t89.00\t", "\t89.O0\t")
    assert "89.O0" in lines[7]
    path = tmp_path / "bad-amount.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(st.SettlementFileError) as err:
        st.land(con, path)
    assert (err.value.line, err.value.column) == (8, "amount")
    assert "89.O0" in str(err.value)
    assert con.execute("SELECT count(*), sum(amount) FROM raw.settlement_lines").fetchone() == (23, Decimal("582.89"))


def test_row_with_too_many_columns_names_the_line(con, tmp_path):
    lines = V2_SAMPLE.read_text().splitlines()
    lines[4] += "\textra\tmore"
    path = tmp_path / "ragged.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(st.SettlementFileError) as err:
        st.land(con, path)
    assert err.value.line == 5


def test_not_a_settlement_file(con, tmp_path):
    path = tmp_path / "orders.txt"
    path.write_text("amazon-order-id\tpurchase-date\n111\t2026-01-01\n")
    with pytest.raises(st.SettlementFileError, match="not a settlement flat file"):
        st.land(con, path)


@pytest.mark.parametrize(("text", "comma", "expected"), [
    ("12.30", False, Decimal("12.30")), ("-0.01", False, Decimal("-0.01")),
    ("1.234,56", True, Decimal("1234.56")), ("-19,5", True, Decimal("-19.50")), ("7.99", True, Decimal("7.99")),
])
def test_parse_amount(text, comma, expected):
    assert st.parse_amount(text, comma) == expected


def test_parse_amount_refuses_text():
    with pytest.raises(ValueError):
        st.parse_amount("12,30", False)


def test_latin1_file_saved_by_hand_is_read(con, tmp_path):
    text = V2_SAMPLE.read_text().replace("amazon.com", "amazon.de").replace("Refund Reimbursal", "Rückerstattung")
    path = tmp_path / "latin1.txt"
    path.write_bytes(text.encode("latin-1"))
    assert st.land(con, path).line_count == 23
    assert con.execute("SELECT count(*) FROM raw.settlement_lines WHERE amount_description = 'Rückerstattung'"
                       ).fetchone() == (1,)


def test_sub_cent_amount_is_refused_not_rounded(con, tmp_path):
    path = tmp_path / "subcent.txt"
    path.write_text(V2_SAMPLE.read_text().replace("\t-4.75\t", "\t-4.745\t"))
    with pytest.raises(st.SettlementFileError, match="more than two decimals") as err:
        st.land(con, path)
    assert err.value.column == "amount" and err.value.line == 6
