"""A faithful Sage X3 (Syracuse) sandbox: SOAP CAdxWebServiceXmlCC, its WSDL, api1 REST reads, X3's
physical tables on SQLAlchemy (SQLite or PostgreSQL), seeded to mirror the Amazon sandbox's seller.

For tests elsewhere in the project::

    from sage_amazon.sandbox.x3 import running_x3

    with running_x3(tmp_path, layout="custom", pool_busy=2) as x3:
        target = X3Target.from_settings(x3.url, x3.user, x3.password, x3.pool, x3.folder)
        ...
        assert x3.count_orders("111-2222222-3333333") == 1   # SORDER rows with that CUSORDREF
        x3.close_period(2026, 11); ...; x3.reopen_period(2026, 11)
        x3.faults.lose_replies = 1                          # switch faults while running
        x3.rows("GACCENTRYD", NUM="...")                     # any X3 table, physical columns

`running_x3(tmp_path, layout="standard", db_url=None, **options)` starts the sandbox on a free
loopback port in a thread and stops it on exit, even when the body raises. `db_url` defaults to
an SQLite file in `tmp_path`. Options: folder, pool, user, password, pool_size, group_ids
(per-publication group renames, e.g. {"SOH": {"SOH4_1": "YSOHLIN"}}), and the faults
pool_busy (int, -1 = always), slow (seconds), lose_replies (int, -1 = always); at run time also
`.faults.queued` (seconds a SOAP call waits before X3 runs it). The handle has
`.url .user .password .pool .folder .layout .engine .faults` and the helpers shown above. See
README.md for the seeded reference data.

`start_x3(host, port, db_url=None, layout="standard", **options)` does the same without a context
manager (for `sandbox up`): it returns the handle, `.stop()` stops it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SEED_SITES = ("US01", "GB01", "DE01", "FBAUS", "FBAEU")


@dataclass
class RunningX3:
    url: str
    user: str
    password: str
    pool: str
    folder: str
    layout: str
    engine: object  # sqlalchemy.Engine over the X3 tables
    faults: object  # faults.Faults, mutable while running
    stats: object = None  # faults.Stats: SOAP calls seen, peak concurrency

    def rows(self, table: str, **where) -> list[dict]:
        """Rows of a physical X3 table as dicts of NAME_0 columns, filtered on NAME=value."""
        from sqlalchemy import select

        from . import tables

        tbl = getattr(tables, table)
        stmt = select(tbl).where(*(tbl.c[f"{k}_0"] == v for k, v in where.items())).order_by(tbl.c.ROWID)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def count_orders(self, customer_order_ref: str) -> int:
        return len(self.rows("SORDER", CUSORDREF=customer_order_ref))

    def close_period(self, year: int, month: int) -> None:
        self._set_period(year, month, closed=True)

    def reopen_period(self, year: int, month: int) -> None:
        self._set_period(year, month, closed=False)

    def _set_period(self, year: int, month: int, *, closed: bool) -> None:
        set_period_status(self.engine, year, month, closed=closed)

    def stop(self) -> None:
        server = getattr(self, "_server", None)
        if server is not None:
            server.stop()
        self.engine.dispose()


def set_period_status(engine, year: int, month: int, *, closed: bool) -> None:
    from sqlalchemy import update

    from . import tables as t
    from .seed import COMPANY_CODE

    with engine.begin() as conn:
        conn.execute(update(t.PERIOD).where(t.PERIOD.c.CPY_0 == COMPANY_CODE, t.PERIOD.c.FIY_0 == year,
                                            t.PERIOD.c.PER_0 == month)
                     .values(PERSTA_0=t.PERIOD_CLOSED if closed else t.PERIOD_OPEN))


def start_x3(host: str = "127.0.0.1", port: int = 8124, db_url: str | None = None, layout: str = "standard", *,
             folder: str = "SEED", pool: str = "SEED", user: str = "admin", password: str = "admin",
             pool_size: int = 4, group_ids: dict[str, dict[str, str]] | None = None, pool_busy: int = 0,
             slow: float = 0.0, lose_replies: int = 0, catalog=None, web_orders: bool = False) -> RunningX3:
    """Start the sandbox in a background thread (for `sandbox up`); call `.stop()` on the result.
    `db_url` defaults to $SAGE_AMAZON_DATA_DIR/sandbox/x3.sqlite. web_orders: seed the web shop's orders too
    (sandbox/web_orders.py, for Multi-Channel Fulfillment)."""
    from .app import X3Settings
    from .cli import default_db_url
    from .faults import Faults, Stats
    from .server import BackgroundServer, build

    faults = Faults(pool_busy=pool_busy, slow=slow, lose_replies=lose_replies)
    stats = Stats()
    settings = X3Settings(folder=folder, pools=(pool,), user=user, password=password, layout=layout,
                          pool_size=pool_size, group_ids=group_ids or {}, faults=faults, stats=stats)
    engine, app = build(db_url or default_db_url(), settings, catalog, web_orders=web_orders)
    server = BackgroundServer(app, host, port)
    try:
        server.start()
    except BaseException:
        engine.dispose()
        raise
    handle = RunningX3(url=f"http://{host}:{port}", user=user, password=password, pool=pool, folder=folder,
                       layout=layout, engine=engine, faults=faults, stats=stats)
    handle._server = server
    return handle


@contextmanager
def running_x3(tmp_path: Path | str, layout: str = "standard", db_url: str | None = None,
               **options) -> Iterator[RunningX3]:
    from .server import free_port

    handle = start_x3("127.0.0.1", free_port(), db_url or f"sqlite:///{Path(tmp_path) / 'x3.sqlite'}", layout,
                      **options)
    try:
        yield handle
    finally:
        handle.stop()
