"""The cockpit flow (issue 16): what finance and operations read first in the Dagster UI, built from the other
flows' tables (open dead letters per flow, with a replay job; later the settlements overview).
definitions.py assembles it."""

FLOW = "cockpit"  # its asset group, its run tag sage_amazon/flow
