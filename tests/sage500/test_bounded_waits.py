"""A Sage 500 database that does not answer: retried within the budget, then one line naming SAGE500_DB_URL (password
hidden); every connection is bounded by the call timeout."""

from __future__ import annotations

import logging
import socket

import pytest

from sage_amazon.errors import TransientError
from sage_amazon.retrying import RetryPolicy
from sage_amazon.sage.errors import SageTransientError
from sage_amazon.sage.sage500 import Sage500Target


def test_an_unreachable_database_gives_up_after_the_budget_naming_SAGE500_DB_URL(caplog):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg2://amazon:S3cret-pw@127.0.0.1:{port}/sage500"
    target = Sage500Target(url, company_id="NWD",
                           retry=RetryPolicy(budget=0.5, timeout=2.0, initial=0.05, max_wait=0.1))
    caplog.set_level(logging.WARNING, logger="sage_amazon.waits")
    with pytest.raises(SageTransientError) as info:
        target.find_sales_order("111-0000000-0000001")
    target.engine.dispose()
    message = str(info.value)
    assert isinstance(info.value, TransientError)
    assert f"Sage 500 at SAGE500_DB_URL=postgresql+psycopg2://amazon:***@127.0.0.1:{port}/sage500 still unavailable" \
        in message
    assert "S3cret-pw" not in message and "S3cret-pw" not in caplog.text
    assert any(r.getMessage().startswith("waiting for Sage 500 at SAGE500_DB_URL=") for r in caplog.records)


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql+psycopg2://u@h/db", {"connect_timeout": 7, "options": "-c statement_timeout=7000"}),
    ("mssql+pymssql://u@h/SAGE500", {"login_timeout": 7, "timeout": 7}),
    ("mssql+pyodbc://u@dsn", {"timeout": 7}),
])
def test_every_driver_connects_and_runs_statements_within_the_call_timeout(url, expected):
    from sqlalchemy import make_url

    from sage_amazon.sage.sage500.base import _timeouts

    assert _timeouts(make_url(url), 7.0) == expected
