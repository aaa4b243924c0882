-- description: Fees per order item of a settlement with their rate: referral fee / item sales (principal + shipping + gift wrap - promotions) and FBA fee per unit, the evidence the fee-anomaly check compares with each SKU's usual rate.
-- flow: settlements
-- partitions: settlement
-- partition_column: settlement_id
WITH rep AS (
    SELECT settlement_id, marketplace, currency FROM raw.settlement_reports WHERE settlement_id = $partition_key
),
items AS (
    SELECT
        l.settlement_id,
        l.order_id,
        l.order_item_code,
        l.sku,
        max(l.quantity_purchased) AS quantity,
        min(l.posted_date) AS posted_date,
        CAST(coalesce(sum(l.amount) FILTER (
            WHERE l.amount_type = 'ItemPrice' AND l.amount_description IN ('Principal', 'Shipping', 'GiftWrap')
        ), 0) + coalesce(sum(l.amount) FILTER (WHERE l.amount_type = 'Promotion'), 0) AS DECIMAL(18, 2)) AS item_sales,
        CAST(coalesce(sum(l.amount) FILTER (
            WHERE l.amount_type = 'ItemPrice' AND l.amount_description = 'Principal'
        ), 0) AS DECIMAL(18, 2)) AS principal,
        CAST(-coalesce(sum(l.amount) FILTER (WHERE l.amount_description = 'Commission'), 0) AS DECIMAL(18, 2))
            AS referral_fee,
        CAST(-coalesce(sum(l.amount) FILTER (
            WHERE l.amount_description LIKE 'FBA%Fee' OR l.amount_description LIKE 'FBA%FulfillmentFee'
        ), 0) AS DECIMAL(18, 2)) AS fba_fee
    FROM raw.settlement_lines AS l
    WHERE l.settlement_id = $partition_key
        AND l.transaction_type = 'Order'
        AND l.order_item_code IS NOT NULL
        AND l.sku IS NOT NULL
    GROUP BY ALL
)
SELECT
    i.settlement_id,
    rep.marketplace,
    rep.currency,
    i.order_id,
    i.order_item_code,
    i.sku,
    i.quantity,
    i.posted_date,
    i.item_sales,
    i.principal,
    i.referral_fee,
    i.fba_fee,
    CASE WHEN i.item_sales > 0 THEN CAST(i.referral_fee / i.item_sales AS DECIMAL(9, 4)) END AS referral_rate,
    CASE WHEN i.quantity > 0 AND i.fba_fee <> 0 THEN CAST(i.fba_fee / i.quantity AS DECIMAL(18, 4)) END
        AS fba_fee_per_unit
FROM items AS i, rep
