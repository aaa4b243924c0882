"""A report poll and a Sage posting run at the same time: they hold different pools (one slot each).

The pools are read from the code location's real assets (the fulfilled-shipments report poll and the
settlement journal posting); two runs on an instance with one slot per pool then overlap. The control
case (both in one pool) shows the pools are enforced, so the overlap is not an accident of timing."""

from __future__ import annotations

import threading
import time

import dagster as dg


def _pool_of(asset_name: str) -> str:
    from sage_amazon.definitions import defs

    (pool,) = defs.resolve_asset_graph().get(dg.AssetKey(asset_name)).pools
    return pool


def _runs_overlap(poll_pool: str, post_pool: str, patience: float) -> bool:
    """True when the posting starts while the poll still runs; the poll runs until the posting has started, or
    for `patience` seconds (a loaded machine may take many seconds to start the second run)."""
    started: dict[str, float] = {}

    def job(name: str, pool: str, wait_for: str | None) -> dg.JobDefinition:
        @dg.op(name=name, pool=pool)
        def _step() -> None:
            started[name] = time.monotonic()
            deadline = time.monotonic() + patience
            while wait_for and wait_for not in started and time.monotonic() < deadline:
                time.sleep(0.02)  # a poll that only ends once the posting has started (or gives up)
            started[f"{name} done"] = time.monotonic()

        @dg.job(name=f"{name}_job", executor_def=dg.in_process_executor)
        def _job() -> None:
            _step()

        return _job

    poll, post = job("report_poll", poll_pool, "posting"), job("posting", post_pool, None)
    with dg.instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 1}}}) as instance:
        background = threading.Thread(target=lambda: poll.execute_in_process(instance=instance))
        background.start()
        while "report_poll" not in started:
            time.sleep(0.02)
        post.execute_in_process(instance=instance)
        background.join()
    return started["posting"] < started["report_poll done"]


def test_a_report_poll_does_not_block_a_sage_posting():
    poll_pool, post_pool = _pool_of("amazon_fba_shipments"), _pool_of("settlement_journal_postings")
    assert poll_pool != post_pool
    assert _runs_overlap(poll_pool, post_pool, patience=300)  # ends as soon as the posting starts
    # control: one pool, one slot -> the posting waits for the whole poll (a slow machine only delays it more)
    assert not _runs_overlap(post_pool, post_pool, patience=5)
