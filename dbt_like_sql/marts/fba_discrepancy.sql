-- description: Sage FBA site stock against Amazon's fulfillable units, per day, site and item: units and value (Sage unit cost) of the difference; Amazon-reserved, inbound, unfulfillable and researching units shown apart and never adjusted. status: match | adjust | unknown_sku | no_site | absurd_quantity | waiting (no Amazon snapshot for the site that day)
-- flow: inventory
-- partitions: daily
-- partition_column: snapshot_date
WITH amazon AS (
    SELECT * FROM staging.stg_fba_inventory_by_site WHERE snapshot_date = CAST($partition_key AS DATE)
),
fba_sites AS (
    SELECT DISTINCT site FROM ref.fba_site_map
),
sage AS (
    SELECT s.*
    FROM raw.sage_stock AS s
    INNER JOIN fba_sites AS f ON f.site = s.site
    WHERE s.snapshot_date = CAST($partition_key AS DATE)
),
sites_seen AS (
    SELECT DISTINCT site FROM amazon WHERE site IS NOT NULL
),
joined AS (
    SELECT
        coalesce(a.site, s.site) AS site,
        coalesce(a.item, s.item) AS item,
        a.skus,
        a.marketplaces,
        coalesce(a.fulfillable, 0) AS amazon_fulfillable,
        coalesce(a.reserved, 0) AS amazon_reserved,
        coalesce(a.inbound, 0) AS amazon_inbound,
        coalesce(a.unfulfillable, 0) AS amazon_unfulfillable,
        coalesce(a.researching, 0) AS amazon_researching,
        coalesce(a.min_quantity, 0) AS amazon_min_quantity,
        coalesce(s.physical, 0) AS sage_physical,
        coalesce(s.allocated, 0) AS sage_allocated,
        coalesce(s.unit_cost, 0) AS unit_cost,
        (coalesce(a.site, s.site) IN (SELECT site FROM sites_seen)) AS amazon_seen
    FROM amazon AS a
    FULL OUTER JOIN sage AS s ON s.site = a.site AND s.item = a.item
)
SELECT
    CAST($partition_key AS DATE) AS snapshot_date,
    site,
    item,
    skus,
    marketplaces,
    amazon_fulfillable,
    amazon_reserved,
    amazon_inbound,
    amazon_unfulfillable,
    amazon_researching,
    sage_physical,
    sage_allocated,
    amazon_fulfillable - sage_physical AS discrepancy_units,
    CAST(unit_cost AS DECIMAL(18, 4)) AS unit_cost,
    CAST(round((amazon_fulfillable - sage_physical) * unit_cost, 2) AS DECIMAL(18, 2)) AS discrepancy_value,
    CASE
        WHEN site IS NULL THEN 'no_site'
        WHEN item IS NULL THEN 'unknown_sku'
        WHEN amazon_min_quantity < 0 OR amazon_fulfillable > 1000000
            OR sage_physical < 0 OR sage_physical > 1000000 THEN 'absurd_quantity'
        WHEN NOT amazon_seen THEN 'waiting'
        WHEN amazon_fulfillable = sage_physical THEN 'match'
        ELSE 'adjust'
    END AS status
FROM joined
