"""The Sage 500 connection: engine with timeouts, transactions whose driver errors become the protocol's errors,
stored procedures, surrogate keys, and `_retried` (transient failures retried within the retry budget,
naming SAGE500_DB_URL)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Self, TypeVar

from sqlalchemy import URL, Connection, Engine, create_engine, exc, make_url

from sage_amazon.retrying import RetryPolicy, System, retry_call
from sage_amazon.sage import errors as e

from .rules import Sage500Rules
from .shim import call_procedure

log = logging.getLogger(__name__)

T = TypeVar("T")


def _timeouts(url: URL, seconds: float) -> dict[str, Any]:
    """Driver arguments bounding connecting and each statement to `seconds` (SAGE_AMAZON_CALL_TIMEOUT_SECONDS)."""
    whole = max(1, int(round(seconds)))
    driver = url.get_driver_name()
    if driver == "psycopg2":
        return {"connect_timeout": whole, "options": f"-c statement_timeout={whole * 1000}"}
    if driver == "pymssql":
        return {"login_timeout": whole, "timeout": whole}
    if driver == "pyodbc":
        return {"timeout": whole}
    return {}


def _retried(method: Callable[..., T]) -> Callable[..., T]:
    """Transient failures (nothing applied: connection refused, dropped before sending, an import that rolled
    back) retried within the target's retry budget, then one SageTransientError naming SAGE500_DB_URL."""
    import functools

    @functools.wraps(method)
    def call(self: Sage500Base, *args: Any, **kwargs: Any) -> T:
        return retry_call(lambda: method(self, *args, **kwargs), system=self.system, what=method.__name__,
                          retry_on=e.SageTransientError, policy=self.retry,
                          give_up=lambda exc, message: e.SageTransientError(message))

    return call


class Sage500Base:
    """The connection plumbing every part of Sage500Target shares."""

    def __init__(self, db_url: str | URL | Engine, company_id: str | None = None, *,
                 rules: Sage500Rules | None = None, user_id: str = "amazon", retry: RetryPolicy | None = None) -> None:
        self.rules = rules or Sage500Rules.load()
        self.company_id = company_id or self.rules.company_id
        self.user_id = user_id
        self.retry = retry or RetryPolicy.from_config()
        self._owns_engine = not isinstance(db_url, Engine)  # an engine handed in is its owner's to dispose
        if isinstance(db_url, Engine):
            self.engine = db_url
        else:
            url = make_url(db_url)
            self.engine = create_engine(url, pool_pre_ping=True, connect_args=_timeouts(url, self.retry.timeout))
        self.system = System("Sage 500", "SAGE500_DB_URL", self.engine.url.render_as_string(hide_password=True))
        self._push_table_ready = False

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    @classmethod
    def from_settings(cls, settings: Any = None) -> Self:
        """From an object or mapping with sage500_db_url / sage500_company_id, else the environment."""
        def pick(name: str, env: str, default: str | None) -> str | None:
            if isinstance(settings, Mapping) and settings.get(name):
                return settings[name]
            if settings is not None and getattr(settings, name, None):
                return getattr(settings, name)
            return os.environ.get(env, default)

        url = pick("sage500_db_url", "SAGE500_DB_URL",
                   "postgresql+psycopg2://postgres@127.0.0.1:5432/sage500_sandbox")
        return cls(url, pick("sage500_company_id", "SAGE500_COMPANY_ID", None))

    def __repr__(self) -> str:
        return f"Sage500Target({self.engine.url.render_as_string(hide_password=True)!r}, {self.company_id!r})"

    # -- plumbing -------------------------------------------------------------------------------------
    @contextmanager
    def _tx(self, *, sent: bool = False) -> Iterator[Connection]:
        """A transaction with driver errors turned into the protocol's errors. `sent`: a lost
        connection may have applied the write (unknown outcome) rather than nothing (transient)."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except e.SageError:
            raise
        except exc.DBAPIError as err:
            reason = str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__
            if err.connection_invalidated or isinstance(err, exc.OperationalError):
                if any(s in reason for s in ("does not exist", "authentication failed", "Login failed")):
                    raise e.SageConfigurationError(reason) from err
                raise (e.SageUnknownOutcome if sent else e.SageTransientError)(reason) from err
            if isinstance(err, exc.ProgrammingError):
                raise e.SageConfigurationError(reason) from err
            raise e.MalformedRequest(reason) from err

    def _proc(self, conn: Connection, name: str, inputs: Mapping[str, Any],
              outputs: Sequence[tuple[str, str]]) -> dict[str, Any]:
        return call_procedure(conn, name, inputs, outputs)

    def _next_keys(self, conn: Connection, counter: str, count: int = 1) -> int:
        out = self._proc(conn, "spGetNextBlockSurrogateKey", {"iTableName": counter, "iNumKeys": count},
                         [("oStartKey", "int"), ("oEndKey", "int")])
        return int(out["ostartkey"])
