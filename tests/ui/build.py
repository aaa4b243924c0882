"""A small materialised instance for the UI screenshots: `python -m tests.ui.build DATA_DIR` (run by
tests/ui/test_screenshots.py in its own process, so every setting is this data dir's).

Seven settlements of the US marketplace, one every 14 days from August to October 2026 (three months of fee trends;
the referral fee rate climbs in September), each imported and run as `sage-amazon settlement import --run` does,
posted to the Sage X3 sandbox the environment names (SAGE_X3_URL and the rest: the test started it, and the UI's
runs use it too), where August 2026 is closed: the August settlements' journals are refused and wait as dead letters
(replayable once the period is reopened). One SKU (NW-TENT-2P-V2) maps to no Sage item
(the mapping review lists it). An eighth settlement (November 2026) is imported but not run yet: it waits.

The orders of one day (2026-10-26, US) extracted from the Amazon sandbox (its clock anchored on 2026-10-29) and
posted to X3 as an ORDER_CHANGE run does: two are dead letters for SKUs X3 has no item for (NW-FILTER-SQ,
NW-CHAIR-FLD). The instance's settings file (`sage-amazon.toml`) names the mapping folder `mappings/`, holding a
copy of the shipped skus.yaml: the file an operator edits to add an alias.
Then each settlement's figures and the cockpit (overview, dead letters, mapping review).
Prints one JSON line: the settlement ids, the waiting settlement, the order day.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tests.settlements.test_anomalies_cli import _settlement

FIRST = date(2026, 8, 3)
SKUS = ("NW-TENT-2P", "NW-PAD-UL", "NW-LAMP-300", "NW-TENT-2P-V2")
WAITING = 7  # the eighth settlement: imported, not run
ORDER_DAY = date(2026, 10, 26)  # purchase day of the orders posted (UTC)
AMAZON_NOW = datetime(
    2026, 10, 29, 12, 0, tzinfo=UTC
)  # the Amazon sandbox's clock: its orders of that day shipped


def settlement_file(folder: Path, n: int) -> tuple[str, Path]:
    start = FIRST + timedelta(days=14 * n)
    sid = f"2470000{n:04d}"
    rate = "0.18" if start.month == 9 else "0.15"  # a referral fee increase the trend shows
    items = []
    for i in range(6 + n):
        sku = SKUS[i % len(SKUS)]
        principal = f"{100 + 5 * i:.2f}"
        items.append(
            (f"113-{n:03d}{i:04d}-0000001", sku, principal, f"-{float(principal) * float(rate):.2f}", "-4.50")
        )
    path = folder / f"{sid}.txt"
    path.write_text(_settlement(sid, items, start.isoformat()))
    return sid, path


def settlement_files(folder: Path) -> list[tuple[str, Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    return [settlement_file(folder, n) for n in range(7)]


def mapping_folder(data_dir: Path) -> Path:
    """The instance's mapping folder (settings file, read by every process) with the shipped skus.yaml."""
    from sage_amazon import config
    from sage_amazon.mapping import DEFAULTS_DIR

    folder = data_dir / "mappings"
    folder.mkdir(exist_ok=True)
    shutil.copy(DEFAULTS_DIR / "skus.yaml", folder / "skus.yaml")
    config.record("SAGE_AMAZON_MAPPING_DIR", "mappings")
    return folder


def post_orders(instance, defs) -> None:
    """One day of orders from the Amazon sandbox to X3, as the ORDER_CHANGE sensor's first run does."""
    from sage_amazon.runner.execution import execute

    result = execute(
        defs.resolve_job_def("order_changes_first_job"), instance, partition_key=ORDER_DAY.isoformat()
    )
    assert result.success, f"orders of {ORDER_DAY}: run {result.run_id} failed"


def main(data_dir: Path) -> None:
    assert os.environ.get("SAGE_X3_URL"), (
        "SAGE_X3_URL: the X3 sandbox to post to (tests/ui/test_screenshots.py)"
    )
    os.environ.update(
        {
            "SAGE_AMAZON_DATA_DIR": str(data_dir),
            "DAGSTER_HOME": str(data_dir / "dagster_home"),
            "SAGE_AMAZON_TARGET": "x3",
        }
    )
    mapping_folder(data_dir)
    from sage_amazon.sandbox.amazon.server import running_sandbox

    # Amazon for this process only (its settings read before the definitions are built): the UI has none
    with running_sandbox(
        data_dir / "amazon",
        seed=42,
        history_days=4,
        now=AMAZON_NOW,
        clock=lambda: AMAZON_NOW,
        ticking=False,
        regions=False,
    ) as amazon:
        os.environ.update(amazon.env)
        print(json.dumps(build(data_dir)))


def build(data_dir: Path) -> dict:
    from sage_amazon import config, instance
    from sage_amazon.ledger import intake
    from sage_amazon.runner import add_settlement_partition, run_settlement
    from sage_amazon.runner.execution import execute
    from sage_amazon.runner.session import embedded_instance, project_defs

    settings = config.load()
    instance.ensure_home(settings.dagster_home)
    ids = []
    for sid, path in settlement_files(data_dir / "files"):
        stored = intake.store(path, settings.raw_dir, origin="import")
        add_settlement_partition(stored.settlement_id)
        ok, run_id = run_settlement(stored.settlement_id)
        print(f"settlement {sid}: {'posted' if ok else 'FAILED'} (run {run_id})", file=sys.stderr)
        ids.append(sid)
    waiting, path = settlement_file(
        data_dir / "files", WAITING
    )  # `sage-amazon settlement import` without --run
    add_settlement_partition(intake.store(path, settings.raw_dir, origin="import").settlement_id)
    dagster = embedded_instance()
    defs = project_defs()
    post_orders(dagster, defs)
    for sid in ids:
        assert execute(defs.resolve_job_def("settlement_figures_job"), dagster, partition_key=sid).success
    assert execute(defs.resolve_job_def("cockpit_job"), dagster).success
    return {"settlements": ids, "waiting": waiting, "order_day": ORDER_DAY.isoformat()}


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
