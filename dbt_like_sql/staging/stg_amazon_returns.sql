-- description: Returned units of the day, FBA (customer returns report) and merchant-fulfilled (returns report) in one shape, with Amazon's status of the return (amazon_status: Reimbursed when Amazon paid for the unit), each tied to its Amazon order: marketplace, units of the SKU shipped on the order, units of it returned so far; status unknown_order (no such order read), unknown_sku (not on the order), over_return (more units back than shipped) or ok
-- flow: returns
-- partitions: daily
-- partition_column: return_date
WITH returned AS (
    SELECT return_date, 'AFN' AS channel, amazon_order_id, sku, quantity, detailed_disposition AS disposition,
           reason, fulfillment_center_id, license_plate_number AS return_ref, returned_at, status AS amazon_status
    FROM raw.amazon_fba_returns
    UNION ALL
    SELECT return_date, 'MFN' AS channel, amazon_order_id, sku, quantity, 'SELLABLE' AS disposition,
           reason, '' AS fulfillment_center_id, rma_id AS return_ref, CAST(return_date AS TIMESTAMP) AS returned_at,
           return_status AS amazon_status
    FROM raw.amazon_mfn_returns
),
orders AS (
    SELECT amazon_order_id, arg_max(marketplace_id, last_updated) AS marketplace_id
    FROM raw.amazon_orders GROUP BY amazon_order_id
),
items AS (  -- the latest version of each order line
    SELECT amazon_order_id, sku, CAST(sum(quantity_shipped) AS BIGINT) AS shipped
    FROM (SELECT *, row_number() OVER (PARTITION BY amazon_order_id, order_item_id
                                       ORDER BY last_updated DESC NULLS LAST, extracted_at DESC) AS rn
          FROM raw.amazon_order_items)
    WHERE rn = 1
    GROUP BY amazon_order_id, sku
),
so_far AS (  -- units of the order and SKU returned up to and including this row (all days)
    SELECT amazon_order_id, sku, return_date, return_ref,
           sum(quantity) OVER (PARTITION BY amazon_order_id, sku ORDER BY returned_at, return_ref
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS returned_to_date
    FROM returned
)
SELECT
    r.return_date, r.channel, r.amazon_order_id, r.sku, r.quantity, r.disposition, r.reason,
    r.fulfillment_center_id, r.return_ref, r.returned_at, r.amazon_status,
    o.marketplace_id,
    i.shipped AS units_shipped,
    CAST(s.returned_to_date AS BIGINT) AS returned_to_date,
    CASE
        WHEN o.amazon_order_id IS NULL THEN 'unknown_order'
        WHEN i.sku IS NULL THEN 'unknown_sku'
        WHEN s.returned_to_date > i.shipped THEN 'over_return'
        ELSE 'ok'
    END AS status
FROM returned AS r
LEFT JOIN orders AS o ON o.amazon_order_id = r.amazon_order_id
LEFT JOIN items AS i ON i.amazon_order_id = r.amazon_order_id AND i.sku = r.sku
LEFT JOIN so_far AS s ON s.amazon_order_id = r.amazon_order_id AND s.sku = r.sku
                      AND s.return_date = r.return_date AND s.return_ref IS NOT DISTINCT FROM r.return_ref
WHERE r.return_date = CAST($partition_key AS DATE)
