"""One Dagster asset per SQL model in dbt_like_sql/ (see sage_amazon.sql_models).

A model belongs to the flow its header names (`-- flow: orders`): it is built with that flow's
Definitions and sits in its asset group; the SQL layer (staging, marts) is the tag `sage_amazon/layer`.
"""

import functools
from collections.abc import Iterable

import dagster as dg

from assets.partitions import BY_NAME, report_per_partition
from resources import pools
from resources.warehouse import WarehouseResource
from sage_amazon import sql_models

LAYER_TAG = "sage_amazon/layer"  # staging | marts: the folder of dbt_like_sql/ the model lives in


def _model_asset(model: sql_models.SqlModel) -> dg.AssetsDefinition:
    if model.partitions and model.partitions not in BY_NAME:
        raise sql_models.SqlModelError(
            f"{model.path}: unknown partitions {model.partitions!r} (use one of {', '.join(BY_NAME)})"
        )

    @dg.asset(
        name=model.name,
        group_name=model.flow or None,
        tags={LAYER_TAG: model.group},
        deps=[dg.AssetKey(ref) for ref in model.refs],
        partitions_def=BY_NAME[model.partitions] if model.partitions else None,
        description=model.description or f"SQL model {model.path.name}",
        kinds={"duckdb", "sql"},
        pool=pools.DUCKDB_WRITE,
        # days backfill in one run; settlements run one by one
        backfill_policy=dg.BackfillPolicy.single_run() if model.partitions == "daily" else None,
        metadata={"sql_file": dg.MetadataValue.path(str(model.path)), "dagster/table_name": model.table},
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        keys = context.partition_keys if model.partitions else [None]
        rows, per_key = 0, {}
        with warehouse.write() as con:
            for key in keys:  # a ranged (single-run) backfill builds each partition in turn
                result = sql_models.materialize(con, model, key)
                rows += result.row_count
                per_key[key] = result.row_count
        if model.partitions:
            report_per_partition(context, per_key)  # each day its own row count, not the run's
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "dagster/column_schema": dg.TableSchema(
                    columns=[dg.TableColumn(name, dtype) for name, dtype in result.columns]
                ),
                "table": model.table,
                "sql": dg.MetadataValue.md(f"```sql\n{model.sql.strip()}\n```"),
            }
        )

    return _asset


@functools.cache
def _models() -> tuple[sql_models.SqlModel, ...]:
    return tuple(sql_models.discover())


def sql_model_assets(flow: str) -> list[dg.AssetsDefinition]:
    """The assets of the models whose header says `-- flow: <flow>`."""
    return [_model_asset(model) for model in _models() if model.flow == flow]


def check_sql_models(flows: Iterable[str], known_assets: set[str]) -> None:
    """Fails the code location if a model names no known flow or reads a table nothing produces."""
    flows = set(flows)
    models = _models()
    for model in models:
        if model.flow not in flows:
            raise sql_models.SqlModelError(
                f"{model.path}: header '-- flow: {model.flow}' names no flow (one of {', '.join(sorted(flows))})"
            )
    sql_models.check_references(models, known_assets)
