"""The embedded Dagster instance: a SQLite home under the data dir, configured like production.

The instance's storage is created once, under a cross-process lock, before any command opens it:
two commands started together on a fresh data dir would otherwise both run Dagster's SQLite
migrations and stamp `alembic_version` twice, which breaks every later command. No dagster import
here: the storage is created by `dagster` in a short child process (or in this process when it has
already loaded dagster).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

INIT_LOCK = ".sage-amazon-init.lock"
READY_MARKER = ".sage-amazon-ready"  # written once the storage exists; its absence means "create it"
INIT_TIMEOUT = 300.0


class InstanceError(RuntimeError):
    """DAGSTER_HOME could not be prepared (one line for the operator)."""

# Same run queue, retries and pools as deploy/dagster.yaml, on SQLite storage.
EMBEDDED_DAGSTER_YAML = """\
# Written by sage-amazon for the embedded (SQLite) instance. Production: deploy/dagster.yaml (PostgreSQL).
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
concurrency:
  runs:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      - key: dagster/backfill
        limit: 2
  pools:
    # every pool defaults to one slot (resources/pools.py): duckdb_write (the single DuckDB writer),
    # sp_api_na / sp_api_eu / sp_api_fe (the SP-API budget of each Amazon region), sage_x3 / sage500 (the Sage pool)
    default_limit: 1
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
python_logs:
  # what a run waits for (a pool slot, the warehouse lock, a busy Sage) shows in the run's log in the UI
  managed_python_loggers:
    - sage_amazon.waits
freshness:
  enabled: true  # the Sage-facing assets' freshness policies (assets/freshness.py)
telemetry:
  enabled: false
"""


def ensure_home(home: Path) -> Path:
    """Create DAGSTER_HOME with the embedded instance config unless the operator wrote one, and the
    instance's storage (SQLite, or the operator's PostgreSQL) once, whatever number of commands start at once."""
    home = Path(home)
    if (home / READY_MARKER).exists():
        return home
    from filelock import FileLock, Timeout

    home.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(home / INIT_LOCK), timeout=INIT_TIMEOUT):
            config_file = home / "dagster.yaml"
            if not config_file.exists():
                tmp = home / f".dagster.yaml.{os.getpid()}.tmp"
                tmp.write_text(EMBEDDED_DAGSTER_YAML, encoding="utf-8")
                os.replace(tmp, config_file)  # never a half-written file for a reader
            if not (home / READY_MARKER).exists():
                _create_storage(home)
                (home / READY_MARKER).write_text("instance storage created by sage-amazon\n", encoding="utf-8")
    except Timeout:
        raise InstanceError(f"DAGSTER_HOME {home} stayed locked for {INIT_TIMEOUT:.0f}s by another command") from None
    return home


def _create_storage(home: Path) -> None:
    dagster = sys.modules.get("dagster")
    if dagster is not None:  # already loaded by the caller (a sensor, the runner): no child process
        dagster.DagsterInstance.from_config(str(home)).dispose()
        return
    code = "import sys, dagster; dagster.DagsterInstance.from_config(sys.argv[1]).dispose()"
    done = subprocess.run([sys.executable, "-c", code, str(home)], capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        raise InstanceError(f"the Dagster instance in DAGSTER_HOME {home} could not be opened: "
                            + (lines[-1][:300] if lines else f"exit {done.returncode}"))
