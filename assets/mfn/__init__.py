"""The mfn flow: merchant-fulfilled shipments recorded in Sage, confirmed to Amazon. definitions.py assembles it."""

FLOW = "mfn"  # its asset group, its run tag sage_amazon/flow
