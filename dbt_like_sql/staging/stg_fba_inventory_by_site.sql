-- description: FBA inventory of the day per Sage FBA site and Sage item: the marketplaces a site holds summed, each SKU mapped to its Sage item (exact match on the items Sage reported that day, then the skus.yaml alias); item NULL = unknown SKU, site NULL = a marketplace no FBA site holds
-- flow: inventory
-- partitions: daily
-- partition_column: snapshot_date
WITH sage_items AS (
    SELECT DISTINCT item FROM raw.sage_stock WHERE snapshot_date = CAST($partition_key AS DATE)
),
mapped AS (
    SELECT
        f.*,
        m.site,
        CASE WHEN i.item IS NOT NULL THEN f.sku ELSE a.item END AS item
    FROM raw.amazon_fba_inventory AS f
    LEFT JOIN ref.fba_site_map AS m ON m.marketplace_id = f.marketplace_id
    LEFT JOIN sage_items AS i ON i.item = f.sku
    LEFT JOIN ref.sku_map AS a ON a.sku = f.sku
    WHERE f.snapshot_date = CAST($partition_key AS DATE)
)
SELECT
    CAST($partition_key AS DATE) AS snapshot_date,
    site,
    item,
    string_agg(DISTINCT sku, ',' ORDER BY sku) AS skus,
    string_agg(DISTINCT marketplace_id, ',' ORDER BY marketplace_id) AS marketplaces,
    CAST(sum(fulfillable) AS BIGINT) AS fulfillable,
    CAST(sum(reserved_total) AS BIGINT) AS reserved,
    CAST(sum(inbound_working + inbound_shipped + inbound_receiving) AS BIGINT) AS inbound,
    CAST(sum(unfulfillable_total) AS BIGINT) AS unfulfillable,
    CAST(sum(researching) AS BIGINT) AS researching,
    CAST(min(least(fulfillable, reserved_total, researching, unfulfillable_total)) AS BIGINT) AS min_quantity
FROM mapped
GROUP BY site, item, CASE WHEN item IS NULL THEN sku END
