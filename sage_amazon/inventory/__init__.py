"""The inventory flow's domain, both ways (issue 14), without Dagster.

- `fba`: FBA inventory from getInventorySummaries (details, paged, every marketplace) and from the
  FBA_INVENTORY_AVAILABILITY_CHANGES notification, as rows of raw.amazon_fba_inventory;
- `stock`: Sage stock per site and item (X3 STOCK/ITMMVT through api1 REST, Sage 500 timWhseBinInvt/timInventory
  through SQL), as rows of raw.sage_stock;
- `rules`: inventory.yaml (FBA sites, mode, reason code, MFN quantity rules);
- `adjust`: the FBA discrepancy and the adjustments that make each FBA site follow Amazon (posting ledger).
"""
