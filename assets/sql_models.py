"""One Dagster asset per SQL model in dbt_like_sql/ (see sage_amazon.sql_models)."""

import dagster as dg

from assets.partitions import BY_NAME
from resources.warehouse import WarehouseResource
from sage_amazon import sql_models


def _model_asset(model: sql_models.SqlModel) -> dg.AssetsDefinition:
    if model.partitions and model.partitions not in BY_NAME:
        raise sql_models.SqlModelError(
            f"{model.path}: unknown partitions {model.partitions!r} (use one of {', '.join(BY_NAME)})"
        )

    @dg.asset(
        name=model.name,
        group_name=model.group,
        deps=[dg.AssetKey(ref) for ref in model.refs],
        partitions_def=BY_NAME[model.partitions] if model.partitions else None,
        description=model.description or f"SQL model {model.path.name}",
        kinds={"duckdb", "sql"},
        pool="duckdb_write",
        # days backfill in one run; settlements run one by one
        backfill_policy=dg.BackfillPolicy.single_run() if model.partitions == "daily" else None,
        metadata={"sql_file": dg.MetadataValue.path(str(model.path))},
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        keys = context.partition_keys if model.partitions else [None]
        rows = 0
        with warehouse.write() as con:
            for key in keys:  # a ranged (single-run) backfill builds each partition in turn
                result = sql_models.materialize(con, model, key)
                rows += result.row_count
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


def build_sql_model_assets(known_assets: set[str]) -> list[dg.AssetsDefinition]:
    """Assets for every model; fails at load if a model refers to a table nothing produces."""
    models = sql_models.discover()
    sql_models.check_references(models, known_assets)
    return [_model_asset(model) for model in models]
