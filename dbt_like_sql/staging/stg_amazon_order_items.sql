-- description: Lines of the latest version of each Amazon order, one row per order item, by purchase day (UTC)
-- flow: orders
-- partitions: daily
-- partition_column: partition_date
SELECT * EXCLUDE (line_rank)
FROM (
    SELECT
        i.* REPLACE (o.partition_date AS partition_date),
        row_number() OVER (
            PARTITION BY i.amazon_order_id, i.order_item_id ORDER BY i.extracted_at DESC
        ) AS line_rank
    FROM raw.amazon_order_items AS i
    JOIN staging.stg_amazon_orders AS o
      ON o.amazon_order_id = i.amazon_order_id AND o.extract_id = i.extract_id
    WHERE o.partition_date = CAST($partition_key AS DATE)
      AND (i.partition_date = CAST($partition_key AS DATE) OR i.partition_date IS NULL)
)
WHERE line_rank = 1
