-- description: Amazon orders mapped to Sage sales order headers, with the load action and any reason to dead-letter, by purchase day (UTC)
-- partitions: daily
-- partition_column: partition_date
-- flow: orders
WITH lines AS (
    SELECT
        amazon_order_id,
        count(*) AS line_count,
        string_agg(DISTINCT CASE WHEN item IS NULL THEN sku END, ', ' ORDER BY CASE WHEN item IS NULL THEN sku END)
            AS unmapped_skus,
        count(*) FILTER (WHERE quantity IS NULL OR quantity <= 0) AS bad_quantity_lines,
        count(*) FILTER (WHERE gross_price IS NULL OR gross_price < 0) AS bad_price_lines,
        CAST(sum(freight) AS DECIMAL(18, 2)) AS freight,
        CAST(sum(discount) AS DECIMAL(18, 2)) AS discount,
        CAST(sum(net_amount) AS DECIMAL(18, 2)) AS net_amount,
        CAST(sum(tax) AS DECIMAL(18, 2)) AS tax,
        CAST(sum(line_total) AS DECIMAL(18, 2)) AS lines_total
    FROM marts.sage_order_lines
    WHERE partition_date = CAST($partition_key AS DATE)
    GROUP BY amazon_order_id
),
orders AS (
    SELECT
        o.amazon_order_id,
        o.partition_date,
        o.purchase_date,
        CAST(o.purchase_date AS DATE) AS order_date,
        o.last_updated,
        o.marketplace_id,
        o.order_status AS amazon_status,
        s.sage_status,
        coalesce(s.action, 'unknown') AS action,
        o.fulfillment_channel,
        o.currency,
        m.site,
        m.customer,
        m.order_type,
        m.currency AS marketplace_currency,
        o.order_total,
        coalesce(l.line_count, 0) AS line_count,
        coalesce(l.freight, 0) AS freight,
        coalesce(l.discount, 0) AS discount,
        coalesce(l.net_amount, 0) AS net_amount,
        coalesce(l.tax, 0) AS tax,
        coalesce(l.lines_total, 0) AS lines_total,
        l.unmapped_skus,
        coalesce(l.bad_quantity_lines, 0) AS bad_quantity_lines,
        coalesce(l.bad_price_lines, 0) AS bad_price_lines,
        -- ship-to standardized to Sage's address fields
        nullif(trim(o.ship_name), '') AS ship_to_name,
        nullif(trim(o.ship_address_1), '') AS ship_to_line1,
        nullif(trim(o.ship_address_2), '') AS ship_to_line2,
        nullif(trim(o.ship_address_3), '') AS ship_to_line3,
        nullif(trim(o.ship_city), '') AS ship_to_city,
        nullif(upper(trim(o.ship_state)), '') AS ship_to_state,
        nullif(upper(trim(o.ship_postal_code)), '') AS ship_to_postal_code,
        coalesce(nullif(upper(trim(o.ship_country)), ''), m.country) AS ship_to_country,
        nullif(trim(o.ship_phone), '') AS ship_to_phone,
        o.source
    FROM staging.stg_amazon_orders AS o
    LEFT JOIN lines AS l ON l.amazon_order_id = o.amazon_order_id
    LEFT JOIN ref.marketplace_map AS m ON m.marketplace_id = o.marketplace_id
    LEFT JOIN ref.order_status_map AS s ON s.amazon_status = o.order_status
    WHERE o.partition_date = CAST($partition_key AS DATE)
)
SELECT
    orders.*,
    nullif(concat_ws('; ',
        CASE WHEN purchase_date IS NULL THEN 'missing required field: purchase date' END,
        CASE WHEN coalesce(marketplace_id, '') = '' THEN 'missing required field: marketplace' END,
        CASE WHEN coalesce(currency, '') = '' THEN 'missing required field: currency' END,
        CASE WHEN action = 'unknown' THEN 'unknown Amazon status: ' || coalesce(amazon_status, '') END,
        CASE WHEN action = 'post' AND line_count = 0 THEN 'order has no lines' END,
        CASE WHEN action = 'post' AND coalesce(marketplace_id, '') <> '' AND (site IS NULL OR site = '' OR customer IS NULL OR customer = '')
             THEN 'unmapped marketplace: ' || marketplace_id END,
        CASE WHEN coalesce(currency, '') <> ''
              AND (currency NOT IN (SELECT currency FROM ref.order_currencies)
                   OR (marketplace_currency IS NOT NULL AND marketplace_currency <> '' AND currency <> marketplace_currency))
             THEN 'unknown currency: ' || currency END,
        CASE WHEN action = 'post' AND unmapped_skus IS NOT NULL THEN 'unmapped SKU: ' || unmapped_skus END,
        CASE WHEN action = 'post' AND bad_quantity_lines > 0 THEN 'non-positive quantity on ' || bad_quantity_lines || ' line(s)' END,
        CASE WHEN action = 'post' AND bad_price_lines > 0 THEN 'missing or negative price on ' || bad_price_lines || ' line(s)' END,
        CASE WHEN action = 'post' AND order_total IS NOT NULL AND order_total <> lines_total
             THEN 'order total ' || order_total || ' differs from the sum of its lines ' || lines_total END
    ), '') AS dead_letter_reason
FROM orders
