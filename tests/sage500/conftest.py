"""Each test module gets its own Sage 500 sandbox database (random name, dropped even on failure).

No PostgreSQL at 127.0.0.1:5432 (or SAGE500_TEST_SERVER_URL): the tests skip with the reason, unless
CI=true, where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sage_amazon.sage.sage500 import Sage500Target
from sage_amazon.sandbox.sage500 import SandboxDatabase, sandbox_database
from tests import postgres as pg_server

SERVER_URL = pg_server.SERVER_URL


@pytest.fixture(scope="module")
def sage500_db() -> Iterator[SandboxDatabase]:
    pg_server.require()
    with sandbox_database(SERVER_URL) as db:
        yield db


@pytest.fixture(scope="module")
def target(sage500_db: SandboxDatabase) -> Iterator[Sage500Target]:
    connector = Sage500Target(sage500_db.url, company_id=sage500_db.company_id)
    yield connector
    connector.engine.dispose()
