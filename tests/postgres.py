"""The PostgreSQL server of our machines, for tests that create and drop their own databases."""

from __future__ import annotations

import os

import pytest

SERVER_URL = os.environ.get("SAGE500_TEST_SERVER_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def unavailable() -> str | None:
    """Why no PostgreSQL answers, or None when one does."""
    from sqlalchemy import create_engine, text

    engine = create_engine(SERVER_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any failure to reach the server means: no PostgreSQL here
        return f"no PostgreSQL at {engine.url.render_as_string(hide_password=True)}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()


def require() -> None:
    """Skip the test without a server, except in CI (CI=true), where PostgreSQL must be there."""
    reason = unavailable()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
