"""The settlements flow: settlement reports become balanced Sage journals. definitions.py assembles it."""

FLOW = "settlements"  # its asset group, its run tag sage_amazon/flow
