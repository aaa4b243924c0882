"""Each test module gets its own Sage 500 sandbox database (random name, dropped even on failure).

No PostgreSQL at 127.0.0.1:5432 (or SAGE500_TEST_SERVER_URL): the tests skip with the reason, unless
CI=true, where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from sage_amazon.sage.sage500 import Sage500Target
from sage_amazon.sandbox.sage500 import SandboxDatabase, sandbox_database

SERVER_URL = os.environ.get("SAGE500_TEST_SERVER_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def _postgres_unavailable() -> str | None:
    engine = create_engine(SERVER_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any failure to reach the server means: no PostgreSQL here
        return f"no PostgreSQL at {engine.url.render_as_string(hide_password=True)}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def sage500_db() -> Iterator[SandboxDatabase]:
    reason = _postgres_unavailable()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with sandbox_database(SERVER_URL) as db:
        yield db


@pytest.fixture(scope="module")
def target(sage500_db: SandboxDatabase) -> Iterator[Sage500Target]:
    connector = Sage500Target(sage500_db.url, company_id=sage500_db.company_id)
    yield connector
    connector.engine.dispose()
