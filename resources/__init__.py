"""Dagster resources, built from the environment (see sage_amazon.config for every setting)."""

from __future__ import annotations

import dagster as dg

from resources.sage import SageResource
from resources.warehouse import WarehouseResource
from sage_amazon import config


def build_resources() -> dict[str, dg.ConfigurableResource]:
    settings = config.load()
    resources: dict[str, dg.ConfigurableResource] = {
        "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
        "sage": SageResource(
            target=settings.target,
            x3_url=settings.x3_url,
            x3_user=settings.x3_user,
            x3_password=dg.EnvVar("SAGE_X3_PASSWORD") if _set("SAGE_X3_PASSWORD") else config.get("SAGE_X3_PASSWORD"),
            x3_pool=settings.x3_pool,
            x3_folder=settings.x3_folder,
            x3_pool_size=settings.x3_pool_size,
            sage500_db_url=settings.sage500_db_url,
        ),
    }
    return resources


def _set(name: str) -> bool:
    import os

    return bool(os.environ.get(name))
