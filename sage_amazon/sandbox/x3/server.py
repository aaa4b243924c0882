"""Build the storage engine and run the Syracuse sandbox (foreground or in a background thread)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event

from .app import X3Settings, create_app
from .seed import seed


def make_engine(db_url: str) -> Engine:
    if db_url.startswith("sqlite"):
        path = db_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(db_url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(db_url, pool_pre_ping=True, pool_size=8)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def build(db_url: str, settings: X3Settings, catalog=None, web_orders: bool = False):
    """web_orders: the web shop's orders too (seed.seed_web_orders: what Multi-Channel Fulfillment ships)."""
    engine = make_engine(db_url)
    seed(engine, catalog)
    if web_orders:
        from .seed import seed_web_orders

        seed_web_orders(engine)
    return engine, create_app(engine, settings)


class BackgroundServer:
    """uvicorn in a daemon thread; `stop()` always returns, even when startup failed."""

    def __init__(self, app, host: str, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"x3-sandbox-{port}", daemon=True)

    def start(self, timeout: float = 15.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the X3 sandbox did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=10)
