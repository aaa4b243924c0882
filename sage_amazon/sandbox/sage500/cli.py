"""`sage-amazon sandbox sage500`: install the Sage 500 sandbox database (import-light)."""

from __future__ import annotations

import os

import click

DEFAULT_DB_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/sage500_sandbox"
SANDBOX_SETTINGS = {"SAGE500_DB_URL": os.environ.get("SAGE500_DB_URL", DEFAULT_DB_URL)}


@click.command("sage500")
@click.option("--db", "db_url", envvar="SAGE500_DB_URL", default=DEFAULT_DB_URL, show_default=True,
              help="SQLAlchemy URL of the PostgreSQL database to create (postgresql+psycopg2://...).")
@click.option("--reset", is_flag=True, help="Drop and recreate the database (loses its data).")
@click.option("--web-orders", is_flag=True, help="Seed the web shop's orders too (Multi-Channel Fulfillment).")
def sage500_command(db_url: str, reset: bool, web_orders: bool) -> None:
    """Create the Sage 500 sandbox: tables, spSOapiSalesOrdIns and GL posting procedures, seed."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError, OperationalError

    from .install import install

    try:
        install(db_url, reset=reset, echo=click.echo, web_orders=web_orders)
    except (ValueError, ArgumentError) as exc:
        raise click.UsageError(str(exc)) from exc
    except OperationalError as exc:
        where = make_url(db_url).render_as_string(hide_password=True)
        raise click.ClickException(f"cannot reach PostgreSQL for {where}: {str(exc.orig).strip().splitlines()[0]}") from exc
    click.echo(f"SAGE500_DB_URL={make_url(db_url).render_as_string(hide_password=True)}")
