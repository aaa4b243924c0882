"""Sage 500 ERP sandbox: its tables, import and posting procedures (PL/pgSQL) and seed on PostgreSQL.

Install on any PostgreSQL URL with `install(url)` (or `sage-amazon sandbox sage500 --db URL`).
For tests: `with sandbox_database() as db:` gives a fresh database (db.url, db.engine) that is dropped
afterwards, even on failure. Sage-user actions: `close_period`, `reopen_period`, `ship_order`, `invoice_shipments`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine

from .helpers import close_period, failed_staging_rows, invoice_shipments, reopen_period, ship_order
from .seed import COMPANY_ID

DEFAULT_DB_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/sage500_sandbox"
__all__ = ["COMPANY_ID", "DEFAULT_DB_URL", "SandboxDatabase", "close_period", "failed_staging_rows",
           "install", "invoice_shipments", "reopen_period", "sandbox_database", "ship_order"]


def install(url: str, **kwargs) -> None:
    from .install import install as _install

    _install(url, **kwargs)


@dataclass(frozen=True)
class SandboxDatabase:
    url: str  # postgresql+psycopg2://.../sage500_test_<random>
    engine: Engine
    company_id: str = COMPANY_ID


@contextmanager
def sandbox_database(server_url: str | None = None, catalog: Iterable | None = None,
                     web_orders: bool = False) -> Iterator[SandboxDatabase]:
    """A fresh, installed and seeded Sage 500 database with a random name, dropped on exit.

    server_url: any database URL on the server (default env SAGE500_TEST_SERVER_URL or
    postgresql+psycopg2://postgres@127.0.0.1:5432/postgres); only its server part is used.
    """
    from sqlalchemy import create_engine, make_url

    from .install import drop_database
    from .install import install as _install

    base = make_url(server_url or os.environ.get("SAGE500_TEST_SERVER_URL")
                    or "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    url = base.set(database=f"sage500_test_{uuid.uuid4().hex[:12]}")
    engine = None
    try:
        _install(url, catalog=catalog, echo=lambda _msg: None, web_orders=web_orders)
        engine = create_engine(url)
        yield SandboxDatabase(url.render_as_string(hide_password=False), engine)
    finally:
        if engine is not None:
            engine.dispose()
        drop_database(url)
