"""A small materialised instance for the UI screenshots: `python -m tests.ui.build DATA_DIR` (run by
tests/ui/test_screenshots.py in its own process, so every setting is this data dir's).

Seven settlements of the US marketplace, one every 14 days from August to October 2026 (three months of fee trends;
the referral fee rate climbs in September), each imported and run as `sage-amazon settlement import --run` does,
posted to the Sage X3 sandbox the environment names (SAGE_X3_URL and the rest: the test started it, and the UI's
runs use it too), where August 2026 is closed: the August settlements' journals are refused and wait as dead letters
(replayable once the period is reopened). One SKU (NW-TENT-2P-V2) maps to no Sage item
(the mapping review lists it). Then each settlement's figures and the cockpit (overview, dead letters, mapping review).
Prints one JSON line: the settlement ids.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date, timedelta
from pathlib import Path

from tests.settlements.test_anomalies_cli import _settlement

FIRST = date(2026, 8, 3)
SKUS = ("NW-TENT-2P", "NW-PAD-UL", "NW-LAMP-300", "NW-TENT-2P-V2")


def settlement_files(folder: Path) -> list[tuple[str, Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for n in range(7):
        start = FIRST + timedelta(days=14 * n)
        sid = f"2470000{n:04d}"
        rate = "0.18" if start.month == 9 else "0.15"  # a referral fee increase the trend shows
        items = []
        for i in range(6 + n):
            sku = SKUS[i % len(SKUS)]
            principal = f"{100 + 5 * i:.2f}"
            items.append((f"113-{n:03d}{i:04d}-0000001", sku, principal,
                          f"-{float(principal) * float(rate):.2f}", "-4.50"))
        path = folder / f"{sid}.txt"
        path.write_text(_settlement(sid, items, start.isoformat()))
        files.append((sid, path))
    return files


def main(data_dir: Path) -> None:
    assert os.environ.get("SAGE_X3_URL"), "SAGE_X3_URL: the X3 sandbox to post to (tests/ui/test_screenshots.py)"
    os.environ.update({"SAGE_AMAZON_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(data_dir / "dagster_home"),
                       "SAGE_AMAZON_TARGET": "x3"})
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
    dagster = embedded_instance()
    defs = project_defs()
    for sid in ids:
        assert execute(defs.resolve_job_def("settlement_figures_job"), dagster, partition_key=sid).success
    assert execute(defs.resolve_job_def("cockpit_job"), dagster).success
    print(json.dumps({"settlements": ids}))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
