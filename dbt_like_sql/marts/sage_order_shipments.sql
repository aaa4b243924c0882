-- description: FBA shipment lines matched to Sage sales order lines, with the Sage carrier and tracking
SELECT
    s.amazon_order_id,
    s.shipment_id,
    s.shipment_item_id,
    s.order_item_id,
    s.sku,
    l.line_no,
    l.item,
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
LEFT JOIN marts.sage_order_lines AS l
  ON l.amazon_order_id = s.amazon_order_id
 AND (l.order_item_id = s.order_item_id OR (coalesce(s.order_item_id, '') = '' AND l.sku = s.sku))
LEFT JOIN ref.carrier_map AS c
  ON c.amazon_carrier = lower(trim(s.carrier))
