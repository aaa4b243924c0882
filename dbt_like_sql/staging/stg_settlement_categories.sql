-- description: Each distinct (marketplace, transaction-type, amount-type, amount-description) of a settlement with the role, GL account, tax code and journal site the account map gives it. A line belongs to its own marketplace-name's marketplace (a North America unified settlement keeps its US, CA and MX lines apart); lines without one (fees, reserves) to the settlement's. Keys no rule matches go to the suspense account with is_suspense = true: flagged, never dropped.
-- flow: settlements
-- partitions: settlement
-- partition_column: settlement_id
WITH rep AS (
    SELECT r.settlement_id, r.marketplace
    FROM raw.settlement_reports AS r
    WHERE r.settlement_id = $partition_key
),
mapped_marketplaces AS (
    SELECT DISTINCT m.marketplace FROM ref.settlement_account_map AS m
),
keys AS (
    SELECT
        l.settlement_id,
        coalesce(l.marketplace, rep.marketplace, '') AS marketplace,
        coalesce(l.transaction_type, '') AS transaction_type,
        coalesce(l.amount_type, '') AS amount_type,
        coalesce(l.amount_description, '') AS amount_description,
        count(*) AS line_count,
        CAST(sum(l.amount) AS DECIMAL(18, 2)) AS amount
    FROM raw.settlement_lines AS l, rep
    WHERE l.settlement_id = $partition_key
    GROUP BY ALL
),
keyed AS (
    SELECT
        k.*,
        CASE WHEN k.marketplace IN (SELECT marketplace FROM mapped_marketplaces) THEN k.marketplace ELSE '*' END
            AS map_marketplace
    FROM keys AS k
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
            PARTITION BY k.marketplace, k.transaction_type, k.amount_type, k.amount_description ORDER BY r.rule_no
        ) AS rank_in_key
    FROM keyed AS k
    LEFT JOIN ref.settlement_account_map AS r
        ON r.kind = 'rule'
        AND r.marketplace = k.map_marketplace
        -- rules see the text without surrounding blanks (real files pad values: "Principal   ")
        AND lower(trim(k.transaction_type)) LIKE r.transaction_type_like
        AND lower(trim(k.amount_type)) LIKE r.amount_type_like
        AND lower(trim(k.amount_description)) LIKE r.description_like
)
SELECT
    m.settlement_id,
    m.marketplace,
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
    m.role IS NULL AS is_suspense,
    coalesce(site.account, '') AS site
FROM matched AS m
LEFT JOIN ref.settlement_account_map AS s
    ON s.kind = 'role' AND s.role = 'suspense' AND s.marketplace = m.map_marketplace
LEFT JOIN ref.settlement_account_map AS site
    ON site.kind = 'site' AND site.marketplace = m.map_marketplace
WHERE m.rank_in_key = 1
