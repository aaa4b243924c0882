"""The shipments flow: FBA shipments recorded on their Sage sales orders. definitions.py assembles it."""

FLOW = "shipments"  # its asset group, its run tag sage_amazon/flow
