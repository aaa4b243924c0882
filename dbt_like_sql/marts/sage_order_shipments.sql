-- description: FBA shipment lines matched to Sage sales order lines, with the Sage carrier and tracking
-- flow: shipments
SELECT
    s.amazon_order_id,
    s.shipment_id,
    s.shipment_item_id,
    s.order_item_id,
    s.sku,
    coalesce(l.line_no, ls.line_no) AS line_no,
    coalesce(l.item, ls.item) AS item,
    s.quantity_shipped,
    CAST(s.shipment_date AS DATE) AS ship_date,
    s.shipment_date,
    s.carrier AS amazon_carrier,
    coalesce(c.sage_carrier, nullif((SELECT any_value(sage_carrier) FROM ref.carrier_map WHERE amazon_carrier = '*'), ''),
             s.carrier) AS carrier,
    s.tracking_number,
    s.fulfillment_center_id,
    s.partition_date
FROM staging.stg_amazon_fba_shipments AS s
LEFT JOIN marts.sage_order_lines AS l  -- by Amazon order item id
  ON l.amazon_order_id = s.amazon_order_id AND l.order_item_id = s.order_item_id
LEFT JOIN marts.sage_order_lines AS ls  -- else by SKU (orders first read from the all-orders report)
  ON ls.amazon_order_id = s.amazon_order_id AND ls.sku = s.sku AND l.line_no IS NULL
LEFT JOIN ref.carrier_map AS c
  ON c.amazon_carrier = lower(trim(s.carrier))
QUALIFY row_number() OVER (PARTITION BY s.shipment_id, s.shipment_item_id ORDER BY ls.line_no NULLS LAST) = 1
