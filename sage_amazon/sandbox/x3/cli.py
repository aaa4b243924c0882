"""`sage-amazon sandbox x3`: the Sage X3 sandbox in the foreground (import-light module)."""

from __future__ import annotations

import os
from pathlib import Path

import click

LAYOUTS = ("standard", "custom")
DEFAULT_PORT = 8124

SANDBOX_SETTINGS = {
    "SAGE_X3_URL": f"http://127.0.0.1:{DEFAULT_PORT}",
    "SAGE_X3_USER": "admin",
    "SAGE_X3_PASSWORD": "admin",
    "SAGE_X3_POOL": "SEED",
    "SAGE_X3_FOLDER": "SEED",
}


def default_db_url() -> str:
    data_dir = Path(os.environ.get("SAGE_AMAZON_DATA_DIR", "./data"))
    return f"sqlite:///{(data_dir / 'sandbox' / 'x3.sqlite').resolve()}"


@click.command("x3")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--db", "db_url", default=None, help="SQLAlchemy URL [default: $SAGE_AMAZON_DATA_DIR/sandbox/x3.sqlite]")
@click.option("--layout", type=click.Choice(LAYOUTS), default="standard", show_default=True,
              help="publication layout (group ids) of SOH/BPC/ITM/SIH/GAS")
@click.option("--folder", default="SEED", show_default=True, help="X3 folder (api1 endpoint)")
@click.option("--pool", "pools", default=("SEED",), multiple=True, show_default=True,
              help="classic SOAP pool alias (repeatable)")
@click.option("--pool-size", default=4, show_default=True, type=int)
@click.option("--user", default="admin", show_default=True)
@click.option("--password", default="admin", show_default=True, envvar="SANDBOX_X3_PASSWORD")
@click.option("--group-id", "group_ids", multiple=True, metavar="PUB:GROUP=NEWID",
              help="rename a publication group, e.g. SOH:SOH4_1=YSOHLIN (repeatable)")
@click.option("--fault-pool-busy", default=0, type=int, envvar="SANDBOX_X3_FAULT_POOL_BUSY", help="refuse the first N SOAP calls (-1: all)")
@click.option("--fault-slow", default=0.0, type=float, envvar="SANDBOX_X3_FAULT_SLOW", help="seconds added to every SOAP answer")
@click.option("--fault-lose-replies", default=0, type=int, envvar="SANDBOX_X3_FAULT_LOSE_REPLIES", help="drop the reply of the first N writes")
@click.option("--web-orders", is_flag=True, help="seed the web shop's orders too (Multi-Channel Fulfillment)")
def x3_command(host, port, db_url, layout, folder, pools, pool_size, user, password, group_ids,
               fault_pool_busy, fault_slow, fault_lose_replies, web_orders) -> None:
    """Run the Sage X3 (Syracuse) sandbox in the foreground."""
    import uvicorn

    from .app import X3Settings
    from .faults import Faults
    from .server import build

    renames: dict[str, dict[str, str]] = {}
    for spec in group_ids:
        pub, _, rename = spec.partition(":")
        old, _, new = rename.partition("=")
        if not (pub and old and new):
            raise click.BadParameter(f"{spec!r}: expected PUB:GROUP=NEWID", param_hint="--group-id")
        renames.setdefault(pub, {})[old] = new
    settings = X3Settings(folder=folder, pools=tuple(pools), user=user, password=password, layout=layout,
                          pool_size=pool_size, group_ids=renames,
                          faults=Faults(fault_pool_busy, fault_slow, fault_lose_replies))
    db_url = db_url or default_db_url()
    _engine, app = build(db_url, settings, web_orders=web_orders)
    click.echo(f"Sage X3 sandbox on http://{host}:{port} (folder {folder}, pools {','.join(pools)}, "
               f"layout {layout}, storage {db_url.split('://')[0]})")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
