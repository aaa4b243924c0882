"""The one retry model at the Dagster level (assets/retry.py): a TransientError is retried by RETRY_POLICY's shape
(here with no delay), a PermanentError fails the step at once, each with one line."""

import dagster as dg

from assets.retry import RETRY_POLICY, retried
from sage_amazon.errors import PermanentError, TransientError, Unfinished

NO_DELAY = dg.RetryPolicy(max_retries=RETRY_POLICY.max_retries, delay=0)


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The innermost cause of the step failure: the line `sage-amazon run` prints (sage_amazon/runner/progress.py)."""
    [event] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = event.event_specific_data.error
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def test_a_transient_error_is_retried_and_the_step_then_succeeds():
    calls: list[int] = []

    @dg.asset(retry_policy=NO_DELAY)
    @retried
    def flaky(context: dg.AssetExecutionContext):
        calls.append(1)
        if len(calls) <= RETRY_POLICY.max_retries:
            raise Unfinished("Sage X3 at SAGE_X3_URL=http://x still unavailable after 9 attempt(s) in 2.0 min "
                             "(save SOH): X3 pool busy; 12 order(s) left unposted, resumed by the next run")
        yield dg.MaterializeResult()

    with dg.instance_for_test() as instance:
        result = dg.materialize([flaky], instance=instance, raise_on_error=False)
    assert result.success and len(calls) == RETRY_POLICY.max_retries + 1


def test_a_transient_error_past_the_retries_fails_with_its_one_line():
    @dg.asset(retry_policy=NO_DELAY)
    @retried
    def down() -> None:
        raise TransientError("SP-API at SP_API_ENDPOINT=http://x still unavailable after 8 attempt(s) in 2.0 min")

    with dg.instance_for_test() as instance:
        result = dg.materialize([down], instance=instance, raise_on_error=False)
    assert not result.success
    assert failure_message(result).endswith(
        "SP-API at SP_API_ENDPOINT=http://x still unavailable after 8 attempt(s) in 2.0 min")
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == RETRY_POLICY.max_retries


def test_a_permanent_error_is_not_retried():
    calls: list[int] = []

    @dg.asset(retry_policy=NO_DELAY)
    @retried
    def refused() -> None:
        calls.append(1)
        raise PermanentError("login refused for SAGE_X3_USER=admin at SAGE_X3_URL=http://x (HTTP 401)")

    with dg.instance_for_test() as instance:
        result = dg.materialize([refused], instance=instance, raise_on_error=False)
    assert not result.success and calls == [1]
    message = failure_message(result)
    assert "login refused for SAGE_X3_USER=admin at SAGE_X3_URL=http://x" in message and "retry" not in message
