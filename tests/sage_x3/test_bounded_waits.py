"""Bounded waits against the X3 sandbox's faults: a budget in seconds here (minutes in production), a log line per
wait naming the system and its setting, one line when the budget is spent; a refused login is permanent."""

from __future__ import annotations

import logging
import socket
from datetime import date
from decimal import Decimal

import pytest

from sage_amazon import config
from sage_amazon.errors import PermanentError, TransientError
from sage_amazon.retrying import RetryPolicy
from sage_amazon.sage.errors import SageConfigurationError, SageTransientError
from sage_amazon.sage.protocol import SalesOrder, SalesOrderLine
from sage_amazon.sage.x3 import X3Target

from .conftest import make_target

SMALL = RetryPolicy(budget=0.6, timeout=5.0, initial=0.05, max_wait=0.1)


def an_order(ref: str) -> SalesOrder:
    return SalesOrder(ref, "AMZUS", "US01", date(2026, 11, 20), "USD",
                      (SalesOrderLine(1, "NW-TENT-2P", Decimal("1"), Decimal("149.99")),))


def waits(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "sage_amazon.waits" and r.levelno == logging.WARNING]


def test_pool_busy_on_every_call_gives_up_after_the_budget_with_one_line(x3_standard, order_ref, caplog):
    x3 = x3_standard
    target = make_target(x3, retry=SMALL)
    caplog.set_level(logging.WARNING, logger="sage_amazon.waits")
    x3.faults.pool_busy = -1
    try:
        with pytest.raises(SageTransientError) as info:
            target.create_sales_order(an_order(order_ref))
    finally:
        x3.faults.clear()
        target.close()
    message = str(info.value)
    assert isinstance(info.value, TransientError)
    assert f"Sage X3 at SAGE_X3_URL={x3.url} still unavailable after" in message
    assert "No web services accepted" in message and "\n" not in message
    lines = waits(caplog)
    assert len(lines) >= 2  # it said what it waited for, once per retry
    assert all(line.startswith(f"waiting for Sage X3 at SAGE_X3_URL={x3.url}: ") and "retry" in line
               for line in lines)
    assert x3.count_orders(order_ref) == 0


def test_a_refused_login_names_user_and_url_never_the_password_and_is_not_retried(x3_standard, order_ref, caplog):
    x3 = x3_standard
    secret = "Wr0ng-Secret-4711"
    target = X3Target.from_settings(x3.url, x3.user, secret, x3.pool, x3.folder, retry=SMALL)
    caplog.set_level(logging.WARNING, logger="sage_amazon.waits")
    with pytest.raises(SageConfigurationError) as info:
        target.create_sales_order(an_order(order_ref))
    target.close()
    assert isinstance(info.value, PermanentError) and not isinstance(info.value, TransientError)
    assert f"login refused for SAGE_X3_USER={x3.user} at SAGE_X3_URL={x3.url}" in str(info.value)
    assert secret not in str(info.value) and "retry" not in str(info.value)
    assert waits(caplog) == []


def test_a_connection_error_names_SAGE_X3_URL(order_ref):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    target = X3Target.from_settings(url, "admin", "admin", "SEED", "SEED", retry=SMALL)
    with pytest.raises(SageTransientError) as info:
        target.create_sales_order(an_order(order_ref))
    target.close()
    assert f"SAGE_X3_URL={url}" in str(info.value) and "not reachable" in str(info.value)


def test_the_budget_and_the_timeout_come_from_the_settings(monkeypatch, x3_standard):
    monkeypatch.setenv("SAGE_AMAZON_RETRY_BUDGET_SECONDS", "45")
    monkeypatch.setenv("SAGE_AMAZON_CALL_TIMEOUT_SECONDS", "7.5")
    x3 = x3_standard
    target = X3Target.from_settings(x3.url, x3.user, x3.password, x3.pool, x3.folder)
    assert (target.retry.budget, target.retry.timeout) == (45.0, 7.5)
    assert target.http.timeout.read == 7.5
    target.close()
    monkeypatch.setenv("SAGE_AMAZON_RETRY_BUDGET_SECONDS", "two hours")
    with pytest.raises(config.ConfigError, match="SAGE_AMAZON_RETRY_BUDGET_SECONDS must be a number of seconds"):
        config.load()
