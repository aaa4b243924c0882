"""The flows' assets, checks and definitions (one package per flow; see docs/architecture.md)."""

import warnings

import dagster as dg

# We use single-run backfills and partitioned checks knowingly; their maturity notices are noise to operators.
# Here, not in sage_amazon/definitions.py: any process that imports a flow's assets (a run's step, the runner,
# a test) passes through this package first.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
