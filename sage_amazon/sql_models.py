"""SQL models in `dbt_like_sql/`: one SELECT per file, run by DuckDB, dependencies read with sqlglot.

A file `dbt_like_sql/<group>/<name>.sql` builds table `<group>.<name>`. Every table it references
as `<schema>.<table>` is an upstream model or asset named `<table>`. Header comments configure it:

    -- description: Latest version of each Amazon order
    -- flow: orders                             (the flow, i.e. Dagster asset group, the model belongs to)
    -- partitions: daily | settlement          (optional)
    -- partition_column: purchase_day           (required with partitions)

A partitioned model replaces only its partition: its SQL filters upstream rows with the DuckDB
parameter `$partition_key`, and its output must carry that key in `partition_column`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sage_amazon.warehouse import replace_partition

if TYPE_CHECKING:
    import duckdb

SQL_ROOT = Path(__file__).resolve().parent.parent / "dbt_like_sql"
_HEADER = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*?)\s*$")


class SqlModelError(ValueError):
    """A model file is invalid; the message names the file."""


@dataclass(frozen=True)
class SqlModel:
    name: str
    group: str
    path: Path
    sql: str
    refs: tuple[str, ...]  # upstream asset names
    description: str = ""
    flow: str = ""  # the flow (asset group) the model belongs to: `-- flow: orders`
    partitions: str | None = None
    partition_column: str | None = None

    @property
    def table(self) -> str:
        return f"{self.group}.{self.name}"


@dataclass(frozen=True)
class ModelResult:
    row_count: int
    columns: tuple[tuple[str, str], ...]


def parse_model(path: Path, root: Path = SQL_ROOT) -> SqlModel:
    """The model in `path`, parsed once per text of the file (sqlglot's parse was 2 % of the suite's CPU)."""
    return _parse_model(path, root, path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1024)
def _parse_model(path: Path, root: Path, text: str) -> SqlModel:
    import sqlglot
    from sqlglot import exp

    header: dict[str, str] = {}
    for line in text.splitlines():
        match = _HEADER.match(line.strip())
        if match:
            header[match.group(1)] = match.group(2)
        elif line.strip() and not line.strip().startswith("--"):
            break
    rel = path.relative_to(root)
    if len(rel.parts) != 2:
        raise SqlModelError(f"{path}: models live one folder deep, as dbt_like_sql/<group>/<name>.sql")
    try:
        statements = [s for s in sqlglot.parse(text, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise SqlModelError(f"{path}: SQL does not parse: {exc}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise SqlModelError(f"{path}: a model is exactly one SELECT statement")
    tree = statements[0]
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    refs: set[str] = set()
    for table in tree.find_all(exp.Table):
        if table.name in ctes and not table.db:
            continue
        if not table.db:
            raise SqlModelError(
                f"{path}: table {table.name!r} must be schema-qualified (raw., ref., staging., marts., ops.)"
            )
        refs.add(table.name)
    partitions = header.get("partitions") or None
    column = header.get("partition_column") or None
    if partitions and not column:
        raise SqlModelError(f"{path}: '-- partitions: {partitions}' needs '-- partition_column: <column>'")
    return SqlModel(
        name=path.stem,
        group=rel.parts[0],
        path=path,
        sql=text,
        refs=tuple(sorted(refs - {path.stem})),
        description=header.get("description", ""),
        flow=header.get("flow", ""),
        partitions=partitions,
        partition_column=column,
    )


def discover(root: Path = SQL_ROOT) -> list[SqlModel]:
    models = [parse_model(p, root) for p in sorted(root.glob("*/*.sql"))]
    names: dict[str, Path] = {}
    for model in models:
        if model.name in names:
            raise SqlModelError(f"{model.path}: model name {model.name!r} is also used by {names[model.name]}")
        names[model.name] = model.path
    return models


def check_references(models: list[SqlModel], known: set[str]) -> None:
    """Fail on the first reference to a table that no model or asset produces, naming the file."""
    available = known | {m.name for m in models}
    for model in models:
        missing = sorted(set(model.refs) - available)
        if missing:
            raise SqlModelError(f"{model.path}: refers to unknown table(s) {', '.join(missing)}")


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--")).strip().rstrip(";")


def _align_partitioned_table(con: duckdb.DuckDBPyConnection, model: SqlModel, body: str, partition_key: str) -> None:
    """Keep a partitioned model's table in step with its SELECT before a partition is replaced.

    A table built before the model was partitioned (no partition column) is dropped: its partitions are
    rebuilt one by one from then on. A column the SELECT gained is added (NULL in older partitions)."""
    from sage_amazon.warehouse import quote_ident, table_exists

    if not table_exists(con, model.table):
        return
    existing = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
            [model.group, model.name],
        ).fetchall()
    }
    if model.partition_column not in existing:
        con.execute(f"DROP TABLE {model.table}")
        return
    shape = con.execute(
        f"DESCRIBE SELECT * FROM ({body}) LIMIT 0", {"partition_key": partition_key}
    ).fetchall()
    for name, dtype, *_ in shape:
        if name not in existing:
            con.execute(f"ALTER TABLE {model.table} ADD COLUMN {quote_ident(name)} {dtype}")


def materialize(con: duckdb.DuckDBPyConnection, model: SqlModel, partition_key: str | None = None) -> ModelResult:
    """Build the model's table (or its partition) and describe what was written."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {model.group}")
    body = _strip_comments(model.sql)
    if model.partitions:
        if partition_key is None:
            raise SqlModelError(f"{model.path}: partitioned model needs a partition key")
        _align_partitioned_table(con, model, body, partition_key)
        count = replace_partition(
            con, model.table, model.partition_column or "", partition_key, body, {"partition_key": partition_key}
        )
    else:
        con.execute(f"CREATE OR REPLACE TABLE {model.table} AS {body}")
        count = con.execute(f"SELECT count(*) FROM {model.table}").fetchone()[0]
    columns = con.execute(
        """SELECT column_name, data_type FROM information_schema.columns
           WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position""",
        [model.group, model.name],
    ).fetchall()
    return ModelResult(row_count=int(count), columns=tuple((c, t) for c, t in columns))
