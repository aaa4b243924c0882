"""The Sage target (X3 or Sage 500) as a Dagster resource; secrets arrive through EnvVar."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from sage_amazon.sage.protocol import SageTarget


class SageResource(dg.ConfigurableResource):
    """Builds the connector for `target`; the flows only see the SageTarget protocol."""

    target: str = "x3"
    x3_url: str = "http://127.0.0.1:8124"
    x3_user: str = "admin"
    x3_password: str = ""
    x3_pool: str = "SEED"
    x3_folder: str = "SEED"
    x3_pool_size: int = 4
    sage500_db_url: str = ""

    def get_target(self) -> SageTarget:
        if self.target == "x3":
            from sage_amazon.sage.x3 import X3Target

            return X3Target.from_settings(
                url=self.x3_url,
                user=self.x3_user,
                password=self.x3_password,
                pool=self.x3_pool,
                folder=self.x3_folder,
                pool_size=self.x3_pool_size,
            )
        if self.target == "sage500":
            from sage_amazon.sage.sage500 import Sage500Target

            return Sage500Target(self.sage500_db_url)
        raise ValueError(f"SAGE_AMAZON_TARGET must be x3 or sage500, got {self.target!r}")

    @contextmanager
    def opened_target(self) -> Iterator[SageTarget]:
        """The connector for one step, its connections (X3's HTTP pool, Sage 500's engine) released after."""
        target = self.get_target()
        try:
            yield target
        finally:
            target.close()
