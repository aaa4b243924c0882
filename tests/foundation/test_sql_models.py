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
