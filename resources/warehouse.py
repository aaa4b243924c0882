"""The DuckDB warehouse as a Dagster resource (every writer also sits in the `duckdb_write` pool)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from sage_amazon.warehouse import Warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The seller's DuckDB file. `write()` is exclusive across processes; `read()` is read-only."""

    path: str
    lock_timeout_seconds: float = 900.0

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.path, lock_timeout=self.lock_timeout_seconds)

    @contextmanager
    def write(self) -> Iterator:
        with self.warehouse.write() as con:
            yield con

    @contextmanager
    def read(self) -> Iterator:
        with self.warehouse.read() as con:
            yield con
