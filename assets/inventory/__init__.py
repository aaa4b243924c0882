"""The inventory flow: Amazon FBA stock and Sage stock as daily datasets, the FBA discrepancy and the adjustments
that make Sage's FBA sites follow Amazon. definitions.py assembles it."""

FLOW = "inventory"  # its asset group, its run tag sage_amazon/flow
