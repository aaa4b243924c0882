from pathlib import Path

import pytest

from sage_amazon import sql_models
from sage_amazon.warehouse import Warehouse


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_dependencies_come_from_the_tables_the_sql_reads_not_from_ctes(tmp_path):
    path = _write(
        tmp_path,
        "marts/order_totals.sql",
        """-- description: totals
WITH lines AS (SELECT * FROM staging.stg_lines)
SELECT o.id, sum(l.amount) AS total
FROM staging.stg_orders o JOIN lines l ON l.order_id = o.id
WHERE o.sku IN (SELECT sku FROM ref.sku_map)
GROUP BY o.id
""",
    )
    model = sql_models.parse_model(path, tmp_path)
    assert model.refs == ("sku_map", "stg_lines", "stg_orders")
    assert model.table == "marts.order_totals"
    assert model.description == "totals"


def test_an_unknown_table_fails_naming_the_file(tmp_path):
    _write(tmp_path, "staging/stg_a.sql", "SELECT * FROM raw.amazon_orders")
    bad = _write(tmp_path, "marts/b.sql", "SELECT * FROM staging.stg_a JOIN raw.no_such_table USING (id)")
    models = sql_models.discover(tmp_path)
    with pytest.raises(sql_models.SqlModelError, match=rf"{bad}.*no_such_table"):
        sql_models.check_references(models, known={"amazon_orders"})


def test_unqualified_tables_and_partitions_without_column_are_refused(tmp_path):
    with pytest.raises(sql_models.SqlModelError, match="schema-qualified"):
        sql_models.parse_model(_write(tmp_path, "staging/x.sql", "SELECT * FROM orders"), tmp_path)
    with pytest.raises(sql_models.SqlModelError, match="partition_column"):
        sql_models.parse_model(
            _write(tmp_path, "staging/y.sql", "-- partitions: daily\nSELECT * FROM raw.a"), tmp_path
        )


def test_a_partitioned_model_replaces_only_its_partition(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    model = sql_models.parse_model(
        _write(
            tmp_path,
            "staging/stg_days.sql",
            """-- partitions: daily
-- partition_column: day
SELECT day, amount * 2 AS doubled FROM raw.days WHERE day = $partition_key
""",
        ),
        tmp_path,
    )
    with warehouse.write() as con:
        con.execute("CREATE TABLE raw.days (day VARCHAR, amount DECIMAL(18,2))")
        con.execute("INSERT INTO raw.days VALUES ('2026-11-01', 1.10), ('2026-11-02', 2.20), ('2026-11-02', 3.30)")
        assert sql_models.materialize(con, model, "2026-11-01").row_count == 1
        result = sql_models.materialize(con, model, "2026-11-02")
        result = sql_models.materialize(con, model, "2026-11-02")  # again: no duplicates
        assert result.row_count == 2
        assert dict(result.columns) == {"day": "VARCHAR", "doubled": "DECIMAL(18,2)"}
        rows = con.execute("SELECT day, doubled FROM staging.stg_days ORDER BY doubled").fetchall()
    assert [(d, str(v)) for d, v in rows] == [("2026-11-01", "2.20"), ("2026-11-02", "4.40"), ("2026-11-02", "6.60")]


def test_the_shipped_models_all_parse_and_resolve():
    from sage_amazon.definitions import defs

    models = sql_models.discover()
    keys = {k.path[-1] for k in defs.resolve_asset_graph().get_all_asset_keys()}
    for model in models:
        assert model.name in keys
        assert set(model.refs) <= keys, model.path


def test_a_table_built_before_its_model_was_partitioned_is_rebuilt_partition_by_partition(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    model = sql_models.parse_model(
        _write(tmp_path, "staging/stg_days.sql",
               "-- partitions: daily\n-- partition_column: day\n"
               "SELECT day, amount, 'new' AS version FROM raw.days WHERE day = $partition_key\n"),
        tmp_path,
    )
    with warehouse.write() as con:
        con.execute("CREATE TABLE raw.days (day VARCHAR, amount INTEGER)")
        con.execute("INSERT INTO raw.days VALUES ('2026-11-01', 1), ('2026-11-02', 2)")
        con.execute("CREATE SCHEMA IF NOT EXISTS staging")
        con.execute("CREATE TABLE staging.stg_days AS SELECT amount FROM raw.days")  # the old, unpartitioned build
        sql_models.materialize(con, model, "2026-11-02")
        assert con.execute("SELECT day, amount, version FROM staging.stg_days").fetchall() == [("2026-11-02", 2, "new")]
        # a column the SELECT gains later is added; the other days keep NULL until they are rebuilt
        model2 = sql_models.parse_model(
            _write(tmp_path, "staging/stg_days.sql",
                   "-- partitions: daily\n-- partition_column: day\n"
                   "SELECT day, amount, 'new' AS version, amount * 10 AS tenfold FROM raw.days WHERE day = $partition_key\n"),
            tmp_path,
        )
        sql_models.materialize(con, model2, "2026-11-01")
        rows = con.execute("SELECT day, tenfold FROM staging.stg_days ORDER BY day").fetchall()
    assert rows == [("2026-11-01", 10), ("2026-11-02", None)]


def _order_warehouse(tmp_path, monkeypatch):
    """A warehouse with the order mappings and two days of raw orders (one order and one line each)."""
    from datetime import date, datetime

    from sage_amazon.orders import raw, refdata

    monkeypatch.delenv("SAGE_AMAZON_MAPPING_DIR", raising=False)
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.write() as con:
        raw.ensure(con)
        refdata.write_mappings(con, "x3")
        refdata.write_item_codes(con, ["SKU-1"], "x3")
        for n, day in enumerate((date(2026, 11, 1), date(2026, 11, 2)), start=1):
            bought = datetime(day.year, day.month, day.day, 10, 0)
            con.execute(
                "INSERT INTO raw.amazon_orders (amazon_order_id, partition_date, purchase_date, last_updated,"
                " marketplace_id, order_status, currency, order_total, source, extract_id, extracted_at)"
                " VALUES (?, ?, ?, ?, 'ATVPDKIKX0DER', 'UNSHIPPED', 'USD', 10.00, 'orders_2026', ?, ?)",
                [f"111-{n}", day, bought, bought, f"x{n}", bought])
            con.execute(
                "INSERT INTO raw.amazon_order_items (amazon_order_id, order_item_id, partition_date, last_updated, sku,"
                " quantity, currency, unit_price, item_price, extract_id, extracted_at)"
                " VALUES (?, ?, ?, ?, 'SKU-1', 1, 'USD', 10.00, 10.00, ?, ?)",
                [f"111-{n}", f"i{n}", day, bought, f"x{n}", bought])
    return warehouse


ORDER_MODELS = ("staging/stg_amazon_orders.sql", "staging/stg_amazon_order_items.sql",
                "marts/sage_order_lines.sql", "marts/sage_orders.sql")


def test_the_order_models_are_daily_and_an_order_event_rebuilds_only_its_day(tmp_path, monkeypatch):
    from datetime import date

    models = [sql_models.parse_model(sql_models.SQL_ROOT / rel) for rel in ORDER_MODELS]
    assert {(m.partitions, m.partition_column) for m in models} == {("daily", "partition_date")}
    warehouse = _order_warehouse(tmp_path, monkeypatch)
    with warehouse.write() as con:
        for day in ("2026-11-01", "2026-11-02"):
            for model in models:
                sql_models.materialize(con, model, day)
        assert con.execute("SELECT amazon_order_id, partition_date, action, dead_letter_reason FROM marts.sage_orders"
                           " ORDER BY 1").fetchall() == [
            ("111-1", date(2026, 11, 1), "post", None), ("111-2", date(2026, 11, 2), "post", None)]
        # a new version of the second day's order (cancelled), and a change on the first day that no run rebuilds
        con.execute("INSERT INTO raw.amazon_orders SELECT * REPLACE ('CANCELLED' AS order_status,"
                    " last_updated + INTERVAL 1 HOUR AS last_updated, 'x3' AS extract_id) FROM raw.amazon_orders"
                    " WHERE amazon_order_id = '111-2'")
        con.execute("INSERT INTO raw.amazon_order_items SELECT * REPLACE ('x3' AS extract_id)"
                    " FROM raw.amazon_order_items WHERE amazon_order_id = '111-2'")
        con.execute("UPDATE raw.amazon_orders SET currency = 'EUR' WHERE amazon_order_id = '111-1'")
        for model in models:
            assert sql_models.materialize(con, model, "2026-11-02").row_count == 1
        rows = con.execute("SELECT amazon_order_id, amazon_status, currency, line_count FROM marts.sage_orders"
                           " ORDER BY 1").fetchall()
        lines = con.execute("SELECT amazon_order_id, item, partition_date FROM marts.sage_order_lines ORDER BY 1"
                            ).fetchall()
    assert rows == [("111-1", "UNSHIPPED", "USD", 1), ("111-2", "CANCELLED", "USD", 1)]
    assert [(o, i, str(d)) for o, i, d in lines] == [("111-1", "SKU-1", "2026-11-01"), ("111-2", "SKU-1", "2026-11-02")]
