-- description: Lines of the latest version of each Amazon order, one row per order item
SELECT * EXCLUDE (line_rank)
FROM (
    SELECT
        i.*,
        row_number() OVER (
            PARTITION BY i.amazon_order_id, i.order_item_id ORDER BY i.extracted_at DESC
        ) AS line_rank
    FROM raw.amazon_order_items AS i
    JOIN staging.stg_amazon_orders AS o
      ON o.amazon_order_id = i.amazon_order_id AND o.extract_id = i.extract_id
)
WHERE line_rank = 1
