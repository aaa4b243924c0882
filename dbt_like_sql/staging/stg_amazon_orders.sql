-- description: Latest version of each Amazon order (API versions win a tie over report rows)
SELECT * EXCLUDE (version_rank)
FROM (
    SELECT
        o.*,
        row_number() OVER (
            PARTITION BY o.amazon_order_id
            ORDER BY o.last_updated DESC NULLS LAST,
                     CASE WHEN o.source = 'all_orders_report' THEN 1 ELSE 0 END,
                     o.extracted_at DESC
        ) AS version_rank
    FROM raw.amazon_orders AS o
    WHERE o.amazon_order_id IS NOT NULL AND o.amazon_order_id <> ''
)
WHERE version_rank = 1
