"""Sage items become Amazon listings (issue 18): the listings flow's domain, no Dagster.

- `rules.py`: listings.yaml (which items, marketplaces and prices, attributes, channel, price guard);
- `sage_items.py`: the flagged items and their prices, read from Sage X3 (ITMMASTER, SPRICLIST) or Sage 500;
- `definitions.py`: the product types' requirements (Product Type Definitions API);
- `push.py`: what changed since Amazon last accepted it, VALIDATION_PREVIEW, then putListingsItem (new) or
  patchListingsItem (changed attributes only), the price guard, dead letters with Amazon's issues.
"""

FLOW = "listings"  # its dead letters and posting ledger entries
