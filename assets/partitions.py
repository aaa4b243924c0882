"""Partitions shared by the flows: orders by UTC day, settlements by settlement id."""

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
