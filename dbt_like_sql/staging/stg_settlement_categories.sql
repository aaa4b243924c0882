-- description: Each distinct (transaction-type, amount-type, amount-description) of a settlement with the role, GL account and tax code the account map gives it. Keys no rule matches go to the suspense account with is_suspense = true: flagged, never dropped.
-- flow: settlements
-- partitions: settlement
-- partition_column: settlement_id
WITH rep AS (
    SELECT
        r.settlement_id,
        CASE
            WHEN r.marketplace IN (SELECT m.marketplace FROM ref.settlement_account_map AS m) THEN r.marketplace
            ELSE '*'
        END AS map_marketplace
    FROM raw.settlement_reports AS r
    WHERE r.settlement_id = $partition_key
),
rules AS (
    SELECT m.*
    FROM ref.settlement_account_map AS m, rep
    WHERE m.kind = 'rule' AND m.marketplace = rep.map_marketplace
),
suspense AS (
    SELECT m.account, m.tax_code
    FROM ref.settlement_account_map AS m, rep
    WHERE m.kind = 'role' AND m.role = 'suspense' AND m.marketplace = rep.map_marketplace
),
keys AS (
    SELECT
        l.settlement_id,
        coalesce(l.transaction_type, '') AS transaction_type,
        coalesce(l.amount_type, '') AS amount_type,
        coalesce(l.amount_description, '') AS amount_description,
        count(*) AS line_count,
        CAST(sum(l.amount) AS DECIMAL(18, 2)) AS amount
    FROM raw.settlement_lines AS l
    WHERE l.settlement_id = $partition_key
    GROUP BY ALL
),
matched AS (
    SELECT
        k.*,
        r.rule_no,
        r.rule_text,
        r.role,
        r.account,
        r.tax_code,
        row_number() OVER (
            PARTITION BY k.transaction_type, k.amount_type, k.amount_description ORDER BY r.rule_no
        ) AS rank_in_key
    FROM keys AS k
    LEFT JOIN rules AS r
        ON lower(k.transaction_type) LIKE r.transaction_type_like
        AND lower(k.amount_type) LIKE r.amount_type_like
        AND lower(k.amount_description) LIKE r.description_like
)
SELECT
    m.settlement_id,
    m.transaction_type,
    m.amount_type,
    m.amount_description,
    m.line_count,
    m.amount,
    coalesce(m.role, 'suspense') AS role,
    coalesce(m.account, s.account) AS account,
    coalesce(m.tax_code, s.tax_code, '') AS tax_code,
    m.rule_no,
    coalesce(m.rule_text, 'no rule matched: posted to suspense') AS rule_text,
    m.role IS NULL AS is_suspense
FROM matched AS m
LEFT JOIN suspense AS s ON true
WHERE m.rank_in_key = 1
