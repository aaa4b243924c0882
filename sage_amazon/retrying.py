"""The one retry model of the connectors: tenacity, one policy shape, a budget in minutes.

Every call to Sage X3, Sage 500, SP-API or LWA goes through `retry_call`: transport failures (timeouts,
refused connections, pool busy, 429/5xx) are retried with exponential backoff and jitter until the
policy's budget (SAGE_AMAZON_RETRY_BUDGET_SECONDS) is spent; each call has its own timeout
(SAGE_AMAZON_CALL_TIMEOUT_SECONDS). While it waits, one log line per retry says which system it waits
for, through which setting, why and for how long (logger `sage_amazon.waits`). When the budget is
spent, `give_up` turns the last failure into the connector's transient error, whose message names the
system and its setting: the flows then stop, leave the rest unposted and resumable, and raise one
`sage_amazon.errors.TransientError`.

Nothing else retries transport failures: no hand loops, no nested budgets. No dagster here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

log = logging.getLogger("sage_amazon.waits")
T = TypeVar("T")


@dataclass(frozen=True)
class System:
    """An external system as the operator knows it: its name, the setting that points at it, its value
    (never a secret: URLs are rendered without password)."""

    name: str  # "Sage X3", "Sage 500", "SP-API", "LWA"
    variable: str  # "SAGE_X3_URL", "SAGE500_DB_URL", "SP_API_ENDPOINT", "SP_API_LWA_ENDPOINT"
    where: str = ""

    def __str__(self) -> str:
        return f"{self.name} at {self.variable}={self.where}" if self.where else f"{self.name} ({self.variable})"


@dataclass(frozen=True)
class RetryPolicy:
    """How long one call may wait for a system: `budget` seconds in all (retries included), at most
    `max_attempts` tries, waits growing from `initial` to `max_wait` seconds (exponential, jittered),
    `timeout` seconds per try."""

    budget: float = 120.0
    timeout: float = 30.0
    initial: float = 0.5
    max_wait: float = 15.0
    max_attempts: int = 30

    @classmethod
    def from_config(cls, **overrides: float) -> RetryPolicy:
        """The policy of the settings SAGE_AMAZON_RETRY_BUDGET_SECONDS / SAGE_AMAZON_CALL_TIMEOUT_SECONDS."""
        from sage_amazon import config

        policy = cls(budget=config.retry_budget_seconds(), timeout=config.call_timeout_seconds())
        return replace(policy, **overrides) if overrides else policy

    def describe(self) -> str:
        return f"retry budget {_duration(self.budget)}, {_duration(self.timeout)} per call"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.1f} s"


def exhausted_message(system: System, what: str, attempts: int, elapsed: float, exc: BaseException) -> str:
    """One line: which system, through which setting, what was attempted, for how long, and why."""
    reason = " ".join(str(getattr(exc, "reason", "") or exc).split()) or type(exc).__name__
    return (f"{system} still unavailable after {attempts} attempt(s) in {_duration(elapsed)} "
            f"({what}): {reason}")


def retry_call(fn: Callable[[], T], *, system: System | Callable[[BaseException], System], what: str, retry_on: type[BaseException] | tuple,
               policy: RetryPolicy, give_up: Callable[[BaseException, str], BaseException] | None = None,
               before_retry: Callable[[BaseException], None] | None = None,
               sleep: Callable[[float], None] = time.sleep) -> T:
    """Call `fn`, retrying the `retry_on` exceptions within `policy`. Other exceptions pass at once.

    `give_up(last_exception, message)` builds the exception raised when the budget is spent (default:
    the last exception itself); `before_retry(exc)` runs before each wait (e.g. drain a rate limiter).
    `system` may be a function of the failure (SP-API or its LWA token endpoint).
    """

    def named(exc: BaseException | None) -> System:
        return system if isinstance(system, System) or exc is None else system(exc)
    from tenacity import (
        RetryCallState,
        Retrying,
        retry_if_exception_type,
        stop_after_attempt,
        stop_before_delay,
        wait_exponential_jitter,
    )

    def waiting(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if before_retry is not None and exc is not None:
            before_retry(exc)
        reason = " ".join(str(getattr(exc, "reason", "") or exc).split()) if exc is not None else "?"
        log.warning("waiting for %s: %s failed (%s); retry %d in %.1f s (%.1f of %g s budget used)",
                    named(exc), what, reason[:200], state.attempt_number, state.upcoming_sleep,
                    state.seconds_since_start or 0.0, policy.budget)

    def spent(state: RetryCallState) -> T:
        exc = state.outcome.exception() if state.outcome else None
        assert exc is not None
        message = exhausted_message(named(exc), what, state.attempt_number, state.seconds_since_start or 0.0, exc)
        log.error("giving up: %s", message)
        if give_up is None:
            raise exc
        raise give_up(exc, message) from exc

    retrying = Retrying(
        retry=retry_if_exception_type(retry_on),
        stop=stop_after_attempt(max(policy.max_attempts, 1)) | stop_before_delay(policy.budget),
        wait=wait_exponential_jitter(initial=policy.initial, max=policy.max_wait, jitter=policy.initial),
        before_sleep=waiting,
        retry_error_callback=spent,
        sleep=sleep,
        reraise=True,
    )
    return retrying(fn)
