"""The Celery app of the tenants' workers: dagster-celery's run tasks, plus what a killed worker needs.

    celery -A sage_amazon.tenants.celery_app worker -Q worker_1 -n worker_1@%h --concurrency 2

The broker is DAGSTER_CELERY_BROKER_URL (pyamqp://guest:guest@127.0.0.1:5672// by default), the instance is
DAGSTER_HOME's (PostgreSQL, deploy/celery/dagster.yaml), and the run tasks are dagster-celery's own
(`execute_job`, `resume_job`, as its CeleryRunLauncher sends them). Each run executes in a fresh worker child
(`worker_max_tasks_per_child = 1`): loading a tenant's code location makes the process that tenant's.

When a run's task starts, the run is tagged with the child's pid and host (`sage_amazon/pid`, `sage_amazon/host`,
the project's recovery tags). When a worker starts, runs of dead processes on its host are marked failed and
their pool slots freed (`recover_dead_runs`), so the daemon's run retries execute them again on the same queue.
"""

from __future__ import annotations

import os

from celery.signals import task_prerun, worker_ready
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task

BROKER = os.environ.get("DAGSTER_CELERY_BROKER_URL", "pyamqp://guest:guest@127.0.0.1:5672//")

app = make_app({"broker": BROKER, "backend": os.environ.get("DAGSTER_CELERY_BACKEND_URL", "rpc://"),
                "config_source": {"worker_max_tasks_per_child": 1, "worker_prefetch_multiplier": 1,
                                  "broker_connection_retry_on_startup": True, "task_default_queue": "dagster"}})
execute_job = create_execute_job_task(app)
resume_job = create_resume_job_task(app)


def _run_id(kwargs: dict | None) -> str | None:
    from dagster._serdes import unpack_value

    packed = (kwargs or {}).get("execute_job_args_packed")
    if packed is None:
        return None
    return getattr(unpack_value(packed), "run_id", None)


# sage_amazon.runner.recovery's PID_TAG and HOST_TAG: not imported here, because importing the runner loads the
# project's modules with this process's settings, and a worker child must load a tenant's location first
PID_TAG, HOST_TAG, TASK_TAG = "sage_amazon/pid", "sage_amazon/host", "sage_amazon/celery_task"


@task_prerun.connect
def _tag_run_with_process(task_id=None, task=None, args=None, kwargs=None, **_):
    import socket

    import dagster as dg

    run_id = _run_id(kwargs)
    if run_id:
        with dg.DagsterInstance.get() as instance:
            instance.add_run_tags(run_id, {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname(),
                                           TASK_TAG: str(task_id)})


RECOVER = """if True:
    import dagster as dg
    from sage_amazon.runner.recovery import recover_dead_runs
    with dg.DagsterInstance.get() as instance:
        for line in recover_dead_runs(instance):
            print(f"sage-amazon worker: {line}", flush=True)
"""


@worker_ready.connect
def _recover_dead_runs(**_):
    """In a child process: the worker's own process stays free of the project's modules (its children fork
    from it and each loads one tenant's location)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", RECOVER], capture_output=True, text=True, timeout=600)
    print(done.stdout + (done.stderr[-2000:] if done.returncode else ""), end="", flush=True)
