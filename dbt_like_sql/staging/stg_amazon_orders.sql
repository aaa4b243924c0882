-- description: Latest version of each Amazon order (API versions win a tie over report rows), by purchase day (UTC)
-- flow: orders
-- partitions: daily
-- partition_column: partition_date
-- An order without a purchase date lands on the day it was extracted (the mart dead-letters it).
SELECT * EXCLUDE (version_rank)
FROM (
    SELECT
        o.* REPLACE (coalesce(o.partition_date, CAST(o.extracted_at AS DATE)) AS partition_date),
        row_number() OVER (
            PARTITION BY o.amazon_order_id
            ORDER BY o.last_updated DESC NULLS LAST,
                     CASE WHEN o.source = 'all_orders_report' THEN 1 ELSE 0 END,
                     o.extracted_at DESC
        ) AS version_rank
    FROM raw.amazon_orders AS o
    WHERE o.amazon_order_id IS NOT NULL AND o.amazon_order_id <> ''
      -- (written so that DuckDB's zone maps skip the other days: no function around partition_date)
      AND (o.partition_date = CAST($partition_key AS DATE)
           OR (o.partition_date IS NULL AND CAST(o.extracted_at AS DATE) = CAST($partition_key AS DATE)))
)
WHERE version_rank = 1
