"""Create the Sage 500 sandbox on a PostgreSQL database: tables, procedures and seed, idempotently."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from importlib.resources import files

from sqlalchemy import URL, create_engine, make_url, text

from .seed import seed, seed_tax_codes, seed_web_orders

log = logging.getLogger(__name__)
SQL_FILES = ("schema.sql", "procedures.sql")


def _require_postgres(url: URL) -> None:
    if url.get_backend_name() != "postgresql":
        raise ValueError("the Sage 500 sandbox needs PostgreSQL (its procedures are PL/pgSQL); "
                         f"got a {url.get_backend_name()} URL")


def _admin_engine(url: URL):
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=None)


def database_exists(url: str | URL) -> bool:
    url = make_url(url)
    engine = _admin_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                {"d": url.database}).first() is not None
    finally:
        engine.dispose()


def create_database(url: str | URL, *, reset: bool = False) -> bool:
    """Create the database (dropping it first with reset); return True when it was created."""
    url = make_url(url)
    _require_postgres(url)
    engine = _admin_engine(url)
    quoted = engine.dialect.identifier_preparer.quote(url.database)
    try:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                  {"d": url.database}).first() is not None
            if exists and reset:
                conn.execute(text(f"DROP DATABASE {quoted} WITH (FORCE)"))
                exists = False
            if not exists:
                conn.execute(text(f"CREATE DATABASE {quoted}"))
            return not exists
    finally:
        engine.dispose()


def drop_database(url: str | URL) -> None:
    url = make_url(url)
    engine = _admin_engine(url)
    quoted = engine.dialect.identifier_preparer.quote(url.database)
    try:
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
    finally:
        engine.dispose()


def install(url: str | URL, *, reset: bool = False, catalog: Iterable | None = None,
            echo: Callable[[str], None] = log.info, web_orders: bool = False) -> None:
    """Create the database if missing, then the tables, procedures and seed; re-running keeps data.
    web_orders: the web shop's orders too (seed.seed_web_orders, for Multi-Channel Fulfillment)."""
    url = make_url(url)
    _require_postgres(url)
    created = create_database(url, reset=reset)
    echo(f"database {url.database}: {'recreated' if reset else 'created' if created else 'exists, kept'}")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(500500)"))  # concurrent installers
            for name in SQL_FILES:
                # straight to the driver without parameters: the PL/pgSQL bodies contain '%'
                with conn.connection.cursor() as cur:
                    cur.execute(files(__package__).joinpath(name).read_text())
                echo(f"applied {name}")
            seeded = seed(conn, catalog)
            echo("seeded company reference data" if seeded else "company already seeded, kept")
            seed_tax_codes(conn)
            if web_orders and seed_web_orders(conn):
                echo("seeded the web shop's orders")
    finally:
        engine.dispose()
