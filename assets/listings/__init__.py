"""The listings flow: Sage items flagged for Amazon become Amazon listings. definitions.py assembles it."""

FLOW = "listings"  # its asset group, its run tag sage_amazon/flow
