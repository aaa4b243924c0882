"""The orders flow (order to cash): Amazon orders become Sage sales orders. definitions.py assembles it."""

FLOW = "orders"  # its asset group, its run tag sage_amazon/flow
