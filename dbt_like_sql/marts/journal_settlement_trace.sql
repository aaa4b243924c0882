-- description: Trace from each journal line to the settlement rows behind it: one row per row of raw.settlement_lines (row_no = its position in the settlement as landed, 1 = the first detail line) with the journal reference, period, site, account, role and journal line number it is summarised into. Rows whose journal line nets to zero keep an empty journal_reference (nothing dropped). `sage-amazon settlement trace ID --account A --journal REF` prints them.
-- flow: settlements
-- partitions: settlement
-- partition_column: settlement_id
WITH rep AS (
    SELECT r.settlement_id, r.marketplace, coalesce(r.settlement_end_date, r.deposit_date) AS end_date
    FROM raw.settlement_reports AS r
    WHERE r.settlement_id = $partition_key
),
numbered AS (
    SELECT
        l.*,
        row_number() OVER (ORDER BY l.rowid) AS row_no
    FROM raw.settlement_lines AS l
    WHERE l.settlement_id = $partition_key
),
keyed AS (
    SELECT
        n.*,
        strftime(date_trunc('month', coalesce(n.posted_date, rep.end_date)), '%Y-%m') AS period,
        coalesce(n.marketplace, rep.marketplace, '') AS line_marketplace
    FROM numbered AS n, rep
)
SELECT
    k.settlement_id,
    k.row_no,
    j.journal_reference,
    k.period,
    c.site,
    c.account,
    c.role,
    c.tax_code,
    c.is_suspense,
    j.line_no AS journal_line_no,
    k.line_marketplace AS marketplace,
    k.transaction_type,
    k.amount_type,
    k.amount_description,
    k.order_id,
    k.sku,
    k.posted_date,
    k.amount,
    k.currency
FROM keyed AS k
INNER JOIN staging.stg_settlement_categories AS c
    ON c.settlement_id = k.settlement_id
    AND c.marketplace = k.line_marketplace
    AND c.transaction_type = coalesce(k.transaction_type, '')
    AND c.amount_type = coalesce(k.amount_type, '')
    AND c.amount_description = coalesce(k.amount_description, '')
LEFT JOIN marts.journal_settlement_lines AS j
    ON j.settlement_id = k.settlement_id
    AND j.line_kind = 'account'
    AND j.period = k.period
    AND j.site = c.site
    AND j.marketplace = c.marketplace
    AND j.role = c.role
    AND j.account = c.account
    AND j.tax_code = c.tax_code
ORDER BY k.row_no
