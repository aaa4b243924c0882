"""The cockpit's assets: thin, they call sage_amazon.cockpit and report what a finance user or an operator reads
at a glance, numbers as numbers (the UI plots them) beside the exact text."""

import dagster as dg

from resources import pools
from resources.warehouse import WarehouseResource

DEAD_LETTER_ROWS = 200  # rows shown in the UI; marts.open_dead_letters holds them all


def dead_letter_metadata(con) -> dict:
    """Open dead letters per flow (an int each, so the UI plots them) and the list itself as a table."""
    from sage_amazon.cockpit import deadletters as cockpit

    counts = cockpit.refresh(con)
    rows = cockpit.open_rows(con, limit=DEAD_LETTER_ROWS)
    schema = dg.TableSchema(columns=[
        dg.TableColumn("flow", "string"), dg.TableColumn("record", "string"), dg.TableColumn("reason", "string"),
        dg.TableColumn("attempts", "int"), dg.TableColumn("first_seen", "string"),
        dg.TableColumn("last_seen", "string")])
    records = [dg.TableRecord({"flow": r["flow"], "record": r["record_key"], "reason": r["reason"],
                               "attempts": int(r["attempts"]), "first_seen": f"{r['first_seen']:%Y-%m-%d %H:%M}",
                               "last_seen": f"{r['last_seen']:%Y-%m-%d %H:%M}"}) for r in rows]
    total = sum(counts.values())
    md: dict = {
        "dagster/row_count": dg.MetadataValue.int(total),
        "open_total": dg.MetadataValue.int(total),
        **{f"open_{flow}": dg.MetadataValue.int(n) for flow, n in sorted(counts.items())},
        "open_dead_letters": dg.MetadataValue.table(records, schema=schema),
        "replay": dg.MetadataValue.md(
            "Fix the cause (a SKU alias, a mapping), then launch **deadletter_replay_job** with `flow` and/or "
            "`reason` as config (or `sage-amazon deadletter replay --flow F --reason R`)."),
    }
    if total > len(records):
        md["shown"] = dg.MetadataValue.text(f"the first {len(records)} of {total} (by flow, oldest first); "
                                            "all of them in marts.open_dead_letters")
    return md


@dg.asset(
    kinds={"duckdb"}, pool=pools.DUCKDB_WRITE,
    metadata={"dagster/table_name": "marts.open_dead_letters"},
    description="Every open dead letter (flow, record, reason, attempts, first and last seen) and how many per "
                "flow. Replay them from the UI with deadletter_replay_job (config: flow, reason).",
)
def open_dead_letters(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.write() as con:
        md = dead_letter_metadata(con)
    context.log.info(f"{md['open_total'].value} open dead letter(s)")
    return dg.MaterializeResult(metadata=md)
