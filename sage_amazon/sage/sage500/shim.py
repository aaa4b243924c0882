"""The one place the connector's SQL depends on the dialect: calling a Sage stored procedure.

Everything else is plain SQL that SQL Server takes as written (unquoted identifiers, named bind
parameters rendered by the driver, `IN` lists expanded by SQLAlchemy).

    mssql        SET NOCOUNT ON; DECLARE @oX int; EXEC spName @iA = ?, @oX = @oX OUTPUT; SELECT @oX AS oX
    postgresql   CALL spName(iA => %(iA)s, oX => NULL)     -- the sandbox's PL/pgSQL procedures

Both give one row with the output parameters; the result is keyed by lower-case name. On SQL Server
the batch runs on the DBAPI cursor because a Sage procedure may SELECT report rows of its own before
our final SELECT: the last result set is the one with the outputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, text


def call_procedure(conn: Connection, name: str, inputs: Mapping[str, Any],
                   outputs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Run procedure `name` with named inputs; `outputs` are (name, SQL Server type) pairs."""
    dialect = conn.dialect.name
    binds = {f"p_{k}": v for k, v in inputs.items()}
    if dialect == "mssql":
        declare = ", ".join(f"@{n} {t}" for n, t in outputs)
        args = [f"@{k} = :p_{k}" for k in inputs] + [f"@{n} = @{n} OUTPUT" for n, _ in outputs]
        select = ", ".join(f"@{n} AS {n}" for n, _ in outputs)
        sql = f"SET NOCOUNT ON; DECLARE {declare}; EXEC {name} {', '.join(args)}; SELECT {select};"
        return _last_row(conn, sql, binds)
    if dialect == "postgresql":
        args = [f"{k} => :p_{k}" for k in inputs] + [f"{n} => NULL" for n, _ in outputs]
        row = conn.execute(text(f"CALL {name}({', '.join(args)})"), binds).mappings().one()
        return {k.lower(): v for k, v in row.items()}
    raise NotImplementedError(f"Sage 500 procedures cannot be called on {dialect}")


def _last_row(conn: Connection, sql: str, binds: Mapping[str, Any]) -> dict[str, Any]:
    compiled = text(sql).bindparams(**binds).compile(dialect=conn.dialect)
    params = compiled.construct_params()
    args = tuple(params[k] for k in compiled.positiontup) if compiled.positional else params
    cursor = conn.connection.cursor()
    try:
        cursor.execute(compiled.string, args)
        last = None
        while True:
            if cursor.description:
                columns = [d[0].lower() for d in cursor.description]
                rows = cursor.fetchall()
                last = dict(zip(columns, rows[-1], strict=True)) if rows else last
            if not cursor.nextset():
                break
    finally:
        cursor.close()
    if last is None:
        raise RuntimeError(f"no output row from {sql.split('EXEC ', 1)[-1].split(' ', 1)[0]}")
    return last
