"""The embedded Dagster instance: a SQLite home under the data dir, configured like production."""

from __future__ import annotations

from pathlib import Path

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
    # every pool defaults to one slot: duckdb_write (the single DuckDB writer) above all
    default_limit: 1
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
telemetry:
  enabled: false
"""


def ensure_home(home: Path) -> Path:
    """Create DAGSTER_HOME with the embedded instance config unless the operator wrote one."""
    home.mkdir(parents=True, exist_ok=True)
    config_file = home / "dagster.yaml"
    if not config_file.exists():
        config_file.write_text(EMBEDDED_DAGSTER_YAML, encoding="utf-8")
    return home
