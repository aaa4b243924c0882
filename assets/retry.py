"""The one retry model at the Dagster level, for every step that calls Sage or Amazon.

The connectors retry transport failures within their budget (sage_amazon.retrying, SAGE_AMAZON_RETRY_BUDGET_SECONDS);
what is still failing after it reaches the step as one `sage_amazon.errors.TransientError` (the domain's loads raise
`Unfinished`, which carries their partial result). Such a step has `retry_policy=RETRY_POLICY` and runs its work under
`transient_as_retry()`:

    @dg.asset(..., retry_policy=RETRY_POLICY)
    def sage_sales_orders(context, warehouse, sage):
        with transient_as_retry(metadata=lambda result: {...}):
            result = load.load_orders(warehouse.write, target)

- a TransientError becomes `dg.Failure(allow_retries=True)`: one line naming the system and its setting, and what was
  left undone; the step is retried by RETRY_POLICY (minutes later, never the next day);
- a PermanentError (refused login, wrong pool, forbidden) becomes `dg.Failure(allow_retries=False)`: reported at
  once, never "will retry".

Worst case for a system down for good: (1 + RETRY_POLICY.max_retries) budgets plus the policy's delays (30 s, then
60 s; about 7 min with the default 120 s budget), then the run fails with that one line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg

from sage_amazon.errors import PermanentError, TransientError, one_line


def _first_delay() -> float:
    """30 s, or a quarter of a smaller retry budget (a test or a sandbox run with SAGE_AMAZON_RETRY_BUDGET_SECONDS=4
    retries its steps after 1 s, not 30)."""
    from sage_amazon import config

    try:
        return max(1.0, min(30.0, config.retry_budget_seconds() / 4))
    except config.ConfigError:  # reported with its variable by config.load(); keep the default here
        return 30.0


RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=_first_delay(), backoff=dg.Backoff.EXPONENTIAL,
                              jitter=dg.Jitter.PLUS_MINUS)


@contextmanager
def transient_as_retry(metadata: Callable[[Any], Mapping[str, Any]] | None = None) -> Iterator[None]:
    """Turn the domain's two failure kinds into Dagster's: retried (transient) or not (permanent).
    `metadata(partial_result)` adds metadata from an `Unfinished` error's partial result."""
    try:
        yield
    except TransientError as exc:
        md: dict[str, Any] = {"outcome": "transient", "cause": one_line(exc)}
        partial = getattr(exc, "result", None)
        if metadata is not None and partial is not None:
            md.update(metadata(partial))
        raise dg.Failure(description=one_line(exc, 1000), metadata=md, allow_retries=True) from exc
    except PermanentError as exc:
        raise dg.Failure(description=one_line(exc, 1000), metadata={"outcome": "permanent", "cause": one_line(exc)},
                         allow_retries=False) from exc


def retried(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`transient_as_retry()` around a whole asset or op body, also one that yields (put it under @dg.asset)."""
    import functools
    import inspect

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Any:
            with transient_as_retry():
                yield from fn(*args, **kwargs)

        return generator

    @functools.wraps(fn)
    def plain(*args: Any, **kwargs: Any) -> Any:
        with transient_as_retry():
            return fn(*args, **kwargs)

    return plain
