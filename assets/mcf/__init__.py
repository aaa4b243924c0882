"""The mcf flow: Sage sales orders of other channels (web shop, B2B) shipped by Amazon Multi-Channel Fulfillment from
FBA stock, their shipments and tracking posted back to Sage. definitions.py assembles it."""

FLOW = "mcf"  # its asset group, its run tag sage_amazon/flow
