"""Partitions shared by the flows: orders by UTC day, settlements by settlement id.

The daily partitions start on SAGE_AMAZON_START_DATE: set in the instance's settings file (`<data dir>/
sage-amazon.toml`, read by every process) or the environment; `sage-amazon demo` records its first run's first day
there when none is configured, so the partition bar shows the days loaded, not months never asked for.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

import dagster as dg

from sage_amazon import config

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=config.get("SAGE_AMAZON_START_DATE"), timezone="UTC", end_offset=1
)
settlement_partitions = dg.DynamicPartitionsDefinition(name="settlement_ids")

BY_NAME: dict[str, dg.PartitionsDefinition] = {
    "daily": daily_partitions,
    "settlement": settlement_partitions,
}


def _key(day) -> str:
    return day.isoformat() if isinstance(day, date) else str(day)


def rows_by_day(rows: Iterable[Mapping], day_field: str = "partition_date") -> dict[str, int]:
    """How many rows fall on each day (the partition key)."""
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.get(day_field) is not None:
            counts[_key(row[day_field])] += 1
    return dict(counts)


def amounts_by_day(rows: Iterable[Mapping], amount_field: str, currency_field: str = "currency",
                   day_field: str = "partition_date", prefix: str = "") -> dict[str, dict[str, float]]:
    """Per day, the sum of `amount_field` per currency as `<prefix><field>_<cur>` (a float for the Plots tab)."""
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        amount, day = row.get(amount_field), row.get(day_field)
        if amount is None or day is None:
            continue
        currency = (row.get(currency_field) or "none").lower()
        sums[_key(day)][f"{prefix}{amount_field}_{currency}"] += Decimal(str(amount))
    return {day: {name: float(total) for name, total in by.items()} for day, by in sums.items()}


def report_per_partition(context: dg.AssetExecutionContext, rows: Mapping[str, int],
                         extra: Mapping[str, Mapping[str, float | int]] | None = None,
                         asset_key: str | None = None) -> None:
    """Each partition of a ranged (single-run) materialization gets its own `dagster/row_count` (and amounts),
    not the whole run's: Dagster puts per-partition metadata on that partition's event, over the run's."""
    if not context.has_partition_key_range and not context.has_partition_key:
        return
    for key in context.partition_keys:
        metadata = {"dagster/row_count": int(rows.get(key, 0)), **(extra or {}).get(key, {})}
        context.add_asset_metadata(metadata, asset_key=asset_key, partition_key=key)


# a Sage load's outcomes as its metadata names them
OUTCOME_NAMES = {"posted": "posted", "adopted": "adopted", "already_posted": "already_posted",
                 "dead_lettered": "dead_lettered"}


def report_outcomes_per_partition(context: dg.AssetExecutionContext, by_day: Mapping[str, Mapping[str, int]],
                                  names: Mapping[str, str], counted: Iterable[str] = ("posted", "adopted")) -> None:
    """A load's outcome counts per partition of its run (`names`: metadata name -> outcome), `dagster/row_count`
    the `counted` outcomes: a day the load did nothing on shows zeros, not the run's totals."""
    counted = tuple(counted)
    rows = {day: sum(c.get(o, 0) for o in counted) for day, c in by_day.items()}
    extra = {key: {name: int(by_day.get(key, {}).get(outcome, 0)) for name, outcome in names.items()}
             for key in context.partition_keys} if (context.has_partition_key_range or context.has_partition_key) \
        else {}
    report_per_partition(context, rows, extra)


def rows_per_day_from(table: str, day_column: str = "snapshot_date"):
    """For a daily asset keeping one snapshot per day in `table` (put under @dg.asset): after its body, each partition
    of the run reports the rows the table holds for its day (a ranged run acts on its last day only; the earlier days
    keep, and report, what was recorded on them). Needs the `warehouse` resource among the asset's parameters."""
    import functools

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            result = fn(*args, **kwargs)
            context = kwargs.get("context", args[0] if args else None)
            keys = sorted(context.partition_keys)
            with kwargs["warehouse"].write() as con:
                counts = dict(con.execute(
                    f"SELECT CAST({day_column} AS VARCHAR), count(*) FROM {table} "
                    f"WHERE {day_column} BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) GROUP BY 1",
                    [keys[0], keys[-1]]).fetchall())
            report_per_partition(context, counts)
            return result

        return inner

    return wrap
