"""Dagster resources, built from the environment (see sage_amazon.config for every setting)."""

from __future__ import annotations

import os

import dagster as dg

from resources.notifications import SqsResource
from resources.sage import SageResource
from resources.sp_api import SpApiResource
from resources.warehouse import WarehouseResource
from sage_amazon import config


def secret(name: str):
    """EnvVar when the variable is set (resolved at launch, never stored in run config), else the sandbox default."""
    return dg.EnvVar(name) if os.environ.get(name) else config.get(name)


def build_resources() -> dict[str, dg.ConfigurableResource]:
    settings = config.load()
    return {
        "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
        "sp_api": SpApiResource.from_env(),
        **SqsResource.all_from_env(),  # orders_queue, settlements_queue, inventory_queue, returns_queue
        "sage": SageResource(
            target=settings.target,
            x3_url=settings.x3_url,
            x3_user=settings.x3_user,
            x3_password=secret("SAGE_X3_PASSWORD"),
            x3_pool=settings.x3_pool,
            x3_folder=settings.x3_folder,
            x3_pool_size=settings.x3_pool_size,
            sage500_db_url=settings.sage500_db_url,
        ),
    }
