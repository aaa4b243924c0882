"""The one place the connector's SQL depends on the dialect: calling a Sage stored procedure.

Everything else is plain SQL that SQL Server takes as written (unquoted identifiers, named bind
parameters rendered by the driver, `IN` lists expanded by SQLAlchemy).

    mssql        SET NOCOUNT ON; DECLARE @oX int; EXEC spName @iA = ?, @oX = @oX OUTPUT; SELECT @oX AS oX
    postgresql   CALL spName(iA => %(iA)s, oX => NULL)     -- the sandbox's PL/pgSQL procedures

Both return one row with the output parameters; the result is keyed by lower-case name.
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
    elif dialect == "postgresql":
        args = [f"{k} => :p_{k}" for k in inputs] + [f"{n} => NULL" for n, _ in outputs]
        sql = f"CALL {name}({', '.join(args)})"
    else:
        raise NotImplementedError(f"Sage 500 procedures cannot be called on {dialect}")
    row = conn.execute(text(sql), binds).mappings().one()
    return {k.lower(): v for k, v in row.items()}
