"""What every command module shares: the operator-facing error and the checks a command makes before it
starts (data dir writable, Sage 500 reachable). Kept out of cli.py so that the command modules
(deadletter_cli, ledger/cli, ...) and cli.py never import one another both ways."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from sage_amazon import config


class OperatorError(click.ClickException):
    """An operator's mistake or an unreachable dependency: printed as one line, exit code 2."""

    exit_code = 2


def require_writable(path: Path, what: str) -> Path:
    """Create the folder if needed and prove we can write in it; one clear line if not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise OperatorError(f"{what} {path} is not writable: {exc.strerror or exc}") from None
    return path


def require_data_dir() -> config.Settings:
    """The settings, once the data dir (and DAGSTER_HOME) are known to be writable."""
    settings = config.load()
    require_writable(settings.data_dir, "data dir (SAGE_AMAZON_DATA_DIR)")
    require_writable(settings.dagster_home, "DAGSTER_HOME")
    return settings


def require_sage500(settings: config.Settings) -> None:
    """With the Sage 500 target, its database must answer before a run starts."""
    if settings.target != "sage500":
        return
    from sqlalchemy import create_engine, make_url, text

    url = make_url(settings.sage500_db_url)
    where = url.render_as_string(hide_password=True)
    args = {"connect_timeout": 5} if url.get_backend_name() == "postgresql" else {}
    try:
        engine = create_engine(url, connect_args=args)
    except Exception as exc:  # missing driver, malformed URL
        raise OperatorError(f"SAGE500_DB_URL={where} cannot be used: {str(exc).splitlines()[0]}") from None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        first = str(getattr(exc, "orig", exc) or type(exc).__name__).strip().splitlines()[0]
        raise OperatorError(f"Sage 500 database not reachable at SAGE500_DB_URL={where}: {first}") from None
    finally:
        engine.dispose()
