"""Running the graph without the UI: the one runner behind `sage-amazon run`, `settlement import` and
`deadletter replay`. A Dagster-side package (like definitions.py): it imports dagster, and the domain
reaches it only from the command line, inside the command's function.

- `planning`: the asset graph split into stages Dagster can run (one ranged run for the daily and
  unpartitioned assets, one run per settlement partition), each stage an asset job selected by graph.
- `discovery`: settlement discovery before the settlement stage (what the discovery sensor does), then every
  settlement not posted yet (the daily reconciliation schedule's rule).
- `pipeline`: `run_pipeline`, the whole graph for a range of days, executed in this process and recorded in the
  instance (the UI shows the runs).
- `replay`: `replay_flows`, re-runs the assets that write a flow's dead letters, with what they read.
- `settlement`: `run_settlement`, one settlement's job for `sage-amazon settlement import`.
- `execution`: `execute`, a job on a worker thread, so the command keeps the signals and watches pool waits.
- `recovery`: `recover_dead_runs`, runs and pool slots left by a process that is gone.
- `stops`: exit codes, `RunStopped`, the SIGTERM / Ctrl-C handlers; `session`: what a command does first and
  last; `progress`: the lines a person watching the command sees.
"""

from __future__ import annotations

from .execution import INVOCATION_TAG, execute
from .pipeline import run_pipeline
from .planning import plan_stages
from .progress import user_line
from .progress import watch as _watch  # the command's summary reads what the steps reported
from .recovery import HOST_TAG, PID_TAG, process_tags, recover_dead_runs
from .replay import replay_flows
from .session import RUN_STARTED, embedded_instance, finish_stopped
from .settlement import add_settlement_partition, run_settlement
from .stops import (
    EXIT_ATTENTION,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    RunStopped,
    exit_now,
    install_stop_handlers,
)

__all__ = [
    "EXIT_ATTENTION", "EXIT_FAILED", "EXIT_OK", "EXIT_SIGINT", "EXIT_SIGTERM", "HOST_TAG", "INVOCATION_TAG", "PID_TAG",
    "RUN_STARTED", "RunStopped", "_watch", "add_settlement_partition", "embedded_instance", "execute", "exit_now",
    "finish_stopped", "install_stop_handlers", "plan_stages", "process_tags", "recover_dead_runs", "replay_flows",
    "run_pipeline", "run_settlement", "user_line",
]
