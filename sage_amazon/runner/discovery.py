"""Settlement discovery before the settlement stage (what the discovery sensor does), then every settlement
not posted yet (the daily reconciliation schedule's rule).
"""

from __future__ import annotations

import os

import dagster as dg

from resources.sp_api import SpApiResource
from sensors.settlements import reconciliation_requests

from .progress import user_line, watch


def _discover_settlements(instance: dg.DagsterInstance, pdef: dg.DynamicPartitionsDefinition) -> None:
    """Before the settlement runs: fetch new settlement reports (as the discovery sensor does) and make
    a partition of every settlement kept under the data dir, including files imported by hand."""
    import json

    from sage_amazon import config
    from sage_amazon.ledger import intake

    raw_dir = config.load().raw_dir
    folder = intake.settlements_dir(raw_dir)
    folder.mkdir(parents=True, exist_ok=True)
    cursor_file = folder / ".run_discovery_cursor.json"
    try:
        cursor = json.loads(cursor_file.read_text()) if cursor_file.exists() else {}
    except ValueError:  # unreadable: start over (getReports lists the reports again; kept files are not re-stored)
        cursor = {}
    stored = None
    try:
        found = intake.discover(SpApiResource.from_env().get_client(), raw_dir, cursor, max_downloads=500)
    except Exception as exc:  # noqa: BLE001 - Amazon down, a wrong secret: one line, the kept settlements still run
        from sage_amazon.errors import one_line

        line = user_line(one_line(exc))
        watch.failed("settlement discovery", line)
        print(f"  ✗ settlement discovery: {line}", flush=True)
    else:
        stored = len(found.stored)
        tmp = cursor_file.with_name(f"{cursor_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(found.cursor, sort_keys=True))
        os.replace(tmp, cursor_file)  # two runs at once never leave (or read) half a cursor
        for error in found.errors:
            print(f"  ! settlement discovery: {error}", flush=True)
    from sage_amazon.ledger import reissue  # unreadable files and reissues on hold (dead letters), not run

    try:
        screened = reissue.screen(raw_dir, config.load().warehouse_path, found.rejected if stored is not None else [])
    except Exception as exc:  # noqa: BLE001 - a wrong accounts.yaml `reissue`, the warehouse busy: one line
        from sage_amazon.errors import one_line

        screened = [f"settlements not screened for holds and reissues: {user_line(one_line(exc))}"]
    for line in screened:
        print(f"  ! {line}", flush=True)
    on_disk = set()
    for manifest in folder.glob("*.json"):
        try:
            on_disk.add(str(json.loads(manifest.read_text())["settlement_id"]))
        except (ValueError, KeyError):
            continue
    existing = set(pdef.get_partition_keys(dynamic_partitions_store=instance))
    new = sorted(on_disk - existing)
    if new:
        instance.add_dynamic_partitions(pdef.name, new)
    print(f"▶ settlements: {stored or 0} new report(s) fetched, {len(new)} new partition(s)", flush=True)


def pending_settlements(instance: dg.DagsterInstance, pdef: dg.DynamicPartitionsDefinition) -> list[str]:
    """New settlement reports fetched, then every settlement not landed or not fully posted yet
    (the daily reconciliation schedule's rule)."""
    from datetime import UTC, datetime

    from sage_amazon import config

    _discover_settlements(instance, pdef)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    pending = [r.partition_key for r in reconciliation_requests(instance, config.load().warehouse_path, day)]
    done = len(pdef.get_partition_keys(dynamic_partitions_store=instance)) - len(pending)
    if done:
        print(f"  {done} settlement(s) already posted and reconciled: not run again", flush=True)
    return [key for key in pending if key is not None]
