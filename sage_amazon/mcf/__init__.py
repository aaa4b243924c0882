"""Multi-Channel Fulfillment (issue 18.3): Sage sales orders of other channels shipped by Amazon from FBA stock.

- rules.py: mapping/mcf.yaml (channels per ERP, FBA site, marketplace, speed, policy);
- channel.py: the Sage side read (orders of the channels, FBA stock) into raw.sage_mcf_orders;
- outbound.py: the Fulfillment Outbound 2020-07-01 calls;
- fulfil.py: preview and create once per Sage order (sellerFulfillmentOrderId = Sage order number), cancel what
  Sage cancelled, follow statuses and shipments (ops.mcf_orders, ops.mcf_shipments);
- deliveries.py: each Amazon shipment posted once to its Sage order (delivery, carrier, tracking).

Dead letters: flow `mcf_orders` (Amazon cannot ship an order, refused it or a cancellation, an order became
Unfulfillable) and `mcf_deliveries` (Sage refused a shipment). No Dagster here.
"""
