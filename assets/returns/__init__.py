"""The returns flow: Amazon's FBA and merchant-fulfilled returns and its refund transactions (Finances 2024-06-19) as
daily datasets, for the credit notes and the stock back in Sage. definitions.py assembles it."""

FLOW = "returns"  # its asset group, its run tag sage_amazon/flow
