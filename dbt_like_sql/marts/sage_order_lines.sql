-- description: Amazon order lines mapped to Sage sales order lines (item, quantity, gross price, discount), by purchase day (UTC)
-- partitions: daily
-- partition_column: partition_date
-- flow: orders
SELECT
    i.amazon_order_id,
    CAST(row_number() OVER (PARTITION BY i.amazon_order_id ORDER BY i.order_item_id) AS INTEGER) AS line_no,
    i.order_item_id,
    CASE WHEN i.order_item_id LIKE 'report:%' THEN '' ELSE i.order_item_id END AS external_line_ref,
    i.sku,
    CASE
        WHEN exact.item IS NOT NULL THEN exact.item
        ELSE alias.item
    END AS item,
    CASE
        WHEN exact.item IS NOT NULL THEN 'exact'
        WHEN alias.item IS NOT NULL THEN 'alias'
        ELSE 'unmapped'
    END AS sku_rule,
    i.title AS description,
    i.quantity,
    i.quantity_shipped,
    i.currency,
    CAST(coalesce(i.unit_price, CASE WHEN i.quantity > 0 THEN round(i.item_price / i.quantity, 2) END)
         AS DECIMAL(18, 2)) AS gross_price,
    CAST(coalesce(i.promotion_discount, 0) AS DECIMAL(18, 2)) AS discount,
    CAST(coalesce(i.item_price, 0) AS DECIMAL(18, 2)) AS item_price,
    CAST(coalesce(i.item_price, 0) - coalesce(i.promotion_discount, 0) AS DECIMAL(18, 2)) AS net_amount,
    CAST(coalesce(i.shipping_price, 0) - coalesce(i.shipping_discount, 0) + coalesce(i.gift_wrap_price, 0)
         AS DECIMAL(18, 2)) AS freight,
    CAST(coalesce(i.item_tax, 0) + coalesce(i.shipping_tax, 0) + coalesce(i.gift_wrap_tax, 0)
         AS DECIMAL(18, 2)) AS tax,
    CAST(coalesce(i.item_price, 0) + coalesce(i.item_tax, 0) + coalesce(i.shipping_price, 0)
         + coalesce(i.shipping_tax, 0) + coalesce(i.gift_wrap_price, 0) + coalesce(i.gift_wrap_tax, 0)
         - coalesce(i.promotion_discount, 0) - coalesce(i.shipping_discount, 0) AS DECIMAL(18, 2)) AS line_total,
    i.item_status,
    i.partition_date
FROM staging.stg_amazon_order_items AS i
LEFT JOIN ref.sage_item_codes AS exact  -- empty when exact matching is switched off in skus.yaml
  ON exact.item = trim(i.sku)
LEFT JOIN ref.sku_map AS alias
  ON alias.sku = trim(i.sku)
WHERE i.partition_date = CAST($partition_key AS DATE)
