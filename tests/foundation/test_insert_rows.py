"""Rows land in the warehouse exactly as given: amounts to the cent, times in UTC whatever the session's zone."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import duckdb
import pytest

from sage_amazon.warehouse import insert_rows

COLUMNS = {"id": "VARCHAR", "day": "DATE", "seen_at": "TIMESTAMP", "amount": "DECIMAL(18,2)", "rate": "DECIMAL(18,8)",
           "qty": "INTEGER", "business": "BOOLEAN"}


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Tokyo'")  # a session zone that is not UTC, as under TZ=Asia/Tokyo
    con.execute(f"CREATE TABLE t ({', '.join(f'{n} {k}' for n, k in COLUMNS.items())})")
    yield con
    con.close()


def test_values_land_exactly_and_aware_times_as_utc(con):
    rows = [
        ["a", date(2027, 2, 28), datetime(2027, 2, 28, 23, 50), Decimal("19.99"), Decimal("1.23456789"), 3, True],
        ["b", date(2027, 3, 1), datetime(2027, 3, 1, 8, 50, tzinfo=timezone(timedelta(hours=9))),
         Decimal("-0.01"), Decimal("0"), 0, False],
        ["c", None, None, None, None, None, None],
    ]
    assert insert_rows(con, "t", COLUMNS, rows) == 3
    got = con.execute("SELECT * FROM t ORDER BY id").fetchall()
    assert got[0] == ("a", date(2027, 2, 28), datetime(2027, 2, 28, 23, 50), Decimal("19.99"),
                      Decimal("1.23456789"), 3, True)
    assert got[1][2] == datetime(2027, 2, 28, 23, 50)  # 08:50 in Tokyo is 23:50 UTC the day before
    assert got[1][3:] == (Decimal("-0.01"), Decimal("0E-8"), 0, False)
    assert got[2] == ("c", None, None, None, None, None, None)


def test_an_amount_with_more_decimals_is_rounded_as_duckdb_casts_it(con):
    insert_rows(con, "t", COLUMNS, [["a", None, None, Decimal("1.005"), None, None, None]])
    assert con.execute("SELECT amount FROM t").fetchone()[0] == Decimal("1.01")


def test_no_rows_is_no_statement(con):
    assert insert_rows(con, "t", COLUMNS, []) == 0
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 0


def test_an_unknown_column_type_is_named(con):
    with pytest.raises(ValueError, match="no Arrow type for x BLOB in t"):
        insert_rows(con, "t", {"x": "BLOB"}, [[b"1"]])


def test_utc_values_are_not_shifted(con):
    at = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    insert_rows(con, "t", COLUMNS, [["a", None, at, None, None, None, None]])
    assert con.execute("SELECT seen_at FROM t").fetchone()[0] == datetime(2027, 1, 1, 0, 5)
