-- description: FBA shipment lines (fulfilled-shipments report), latest extraction of each shipment item
-- flow: shipments
SELECT * EXCLUDE (rank_)
FROM (
    SELECT
        s.*,
        row_number() OVER (
            PARTITION BY s.shipment_id, s.shipment_item_id ORDER BY s.extracted_at DESC
        ) AS rank_
    FROM raw.amazon_fba_shipments AS s
    WHERE s.shipment_id IS NOT NULL AND s.shipment_id <> '' AND s.amazon_order_id <> ''
)
WHERE rank_ = 1
