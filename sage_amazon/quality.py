"""Great Expectations suites on DataFrames read from the warehouse.

GX is imported only when a check runs (its import costs seconds), and its progress bars stay off.
Each asset module declares its suite as {check name: (expectation class name, kwargs)}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ExpectationResult:
    passed: bool
    unexpected_count: int
    unexpected_percent: float
    examples: tuple[str, ...]  # a few unexpected values, for the person reading the check


def validate(df: Any, suite: dict[str, tuple[str, dict[str, Any]]], name: str = "frame") -> dict[str, ExpectationResult]:
    """Run every expectation of the suite on the DataFrame. An empty frame meets every expectation."""
    if df.empty:
        return {check: ExpectationResult(True, 0, 0.0, ()) for check in suite}
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = gx.data_context.types.base.ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas(name)
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": df})
    )
    results: dict[str, ExpectationResult] = {}
    for check, (kind, kwargs) in suite.items():
        outcome = batch.validate(getattr(gxe, kind)(**kwargs), result_format="SUMMARY")
        detail = outcome.result or {}
        results[check] = ExpectationResult(
            passed=bool(outcome.success),
            unexpected_count=int(detail.get("unexpected_count") or 0),
            unexpected_percent=float(detail.get("unexpected_percent") or 0.0),
            examples=tuple(str(v) for v in (detail.get("partial_unexpected_list") or [])[:5]),
        )
    return results
