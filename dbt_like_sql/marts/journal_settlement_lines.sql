-- description: Balanced journal lines of a settlement, one journal per accounting period (month of the posted date) and journal site: account lines summarised per marketplace and GL account against the Amazon clearing account; the deposit moves from clearing to the bank on the deposit date, and the balance of a negative settlement (owed to Amazon, no money moved) to the amazon_payable account, which the next settlement's "Payable to Amazon" line clears. Lines of several marketplaces (a North America unified settlement) stay apart, each with its marketplace's accounts, tax and site. amount is credit-positive in the settlement currency; ledger_* are in the company currency at the configured rate; the clearing account nets to exactly zero in both, a rounding difference goes to the rounding account.
-- flow: settlements
-- partitions: settlement
-- partition_column: settlement_id
WITH rep AS (
    SELECT
        r.settlement_id,
        r.currency,
        r.total_amount,
        r.deposit_date,
        coalesce(r.settlement_end_date, r.deposit_date) AS end_date,
        -- the day money moves: the deposit; what a negative settlement owes Amazon is owed from its end
        CASE
            WHEN r.total_amount < 0 THEN coalesce(r.deposit_date, r.settlement_end_date)
            ELSE r.deposit_date
        END AS payout_date,
        CASE
            WHEN r.marketplace IN (SELECT m.marketplace FROM ref.settlement_account_map AS m) THEN r.marketplace
            ELSE '*'
        END AS map_marketplace
    FROM raw.settlement_reports AS r
    WHERE r.settlement_id = $partition_key
),
home AS (
    SELECT coalesce((
        SELECT m.account FROM ref.settlement_account_map AS m, rep
        WHERE m.kind = 'site' AND m.marketplace = rep.map_marketplace
    ), '') AS site
),
fx AS (
    SELECT
        rep.settlement_id,
        coalesce(
            -- the currency of the Sage company of the settlement's journal site (several companies), else the one
            (SELECT m.company_currency FROM ref.settlement_account_map AS m
             WHERE m.kind = 'site' AND m.marketplace = rep.map_marketplace),
            (SELECT min(m.company_currency) FROM ref.settlement_account_map AS m WHERE m.kind = 'rate'),
            rep.currency
        ) AS company_currency
    FROM rep
),
fixed AS (
    SELECT m.role, m.account, coalesce(m.tax_code, '') AS tax_code
    FROM ref.settlement_account_map AS m, rep
    WHERE m.kind = 'role' AND m.marketplace = rep.map_marketplace
        AND m.role IN ('clearing', 'bank', 'amazon_payable', 'rounding', 'fx_gain_loss')
),
by_key AS (
    SELECT
        date_trunc('month', coalesce(l.posted_date, (SELECT rep.end_date FROM rep))) AS period_start,
        coalesce(l.marketplace, (SELECT r.marketplace FROM raw.settlement_reports AS r
                                 WHERE r.settlement_id = $partition_key), '') AS marketplace,
        coalesce(l.transaction_type, '') AS transaction_type,
        coalesce(l.amount_type, '') AS amount_type,
        coalesce(l.amount_description, '') AS amount_description,
        sum(l.amount) AS amount,
        count(*) AS line_count
    FROM raw.settlement_lines AS l
    WHERE l.settlement_id = $partition_key
    GROUP BY ALL
),
periods AS (
    -- each journal's accounting date and the rate of that day (dated rates: the last on or before it)
    SELECT
        p.period_start,
        p.accounting_date,
        CASE
            WHEN rep.currency = fx.company_currency THEN CAST(1 AS DECIMAL(18, 8))
            ELSE coalesce(
                (SELECT arg_max(m.rate, m.valid_from) FROM ref.settlement_account_map AS m
                 WHERE m.kind = 'rate' AND m.currency = rep.currency AND m.valid_from <= p.accounting_date
                     AND m.company_currency = fx.company_currency),
                (SELECT any_value(m.rate) FROM ref.settlement_account_map AS m
                 WHERE m.kind = 'rate' AND m.currency = rep.currency AND m.valid_from IS NULL
                     AND m.company_currency = fx.company_currency)
            )
        END AS rate
    FROM (
        SELECT
            s.period_start,
            CASE
                WHEN date_trunc('month', rep.payout_date) = s.period_start THEN rep.payout_date
                ELSE least(last_day(s.period_start), greatest(s.period_start, rep.end_date))
            END AS accounting_date
        FROM (
            SELECT DISTINCT CAST(k.period_start AS DATE) AS period_start FROM by_key AS k
            UNION
            SELECT CAST(date_trunc('month', rep.payout_date) AS DATE) FROM rep WHERE rep.payout_date IS NOT NULL
        ) AS s, rep
    ) AS p, rep, fx
),
by_account AS (
    SELECT
        CAST(k.period_start AS DATE) AS period_start,
        c.site,
        c.marketplace,
        c.role,
        c.account,
        c.tax_code,
        bool_or(c.is_suspense) AS is_suspense,
        CAST(sum(k.amount) AS DECIMAL(18, 2)) AS amount,
        sum(k.line_count) AS line_count
    FROM by_key AS k
    INNER JOIN staging.stg_settlement_categories AS c
        ON c.settlement_id = $partition_key
        AND c.marketplace = k.marketplace
        AND c.transaction_type = k.transaction_type
        AND c.amount_type = k.amount_type
        AND c.amount_description = k.amount_description
    GROUP BY ALL
),
account_lines AS (
    SELECT
        a.period_start,
        a.site,
        a.marketplace,
        1 AS kind_order,
        'account' AS line_kind,
        a.role,
        a.account,
        a.tax_code,
        a.is_suspense,
        a.amount,
        CAST(round(a.amount * p.rate, 2) AS DECIMAL(18, 2)) AS ledger_amount,
        a.line_count
    FROM by_account AS a
    INNER JOIN periods AS p ON p.period_start = a.period_start
),
clearing_net AS (
    SELECT
        a.period_start,
        a.site,
        '' AS marketplace,
        2 AS kind_order,
        'clearing' AS line_kind,
        'clearing' AS role,
        f.account,
        f.tax_code,
        false AS is_suspense,
        CAST(-sum(a.amount) AS DECIMAL(18, 2)) AS amount,
        CAST(-sum(a.ledger_amount) AS DECIMAL(18, 2)) AS ledger_amount,
        CAST(0 AS BIGINT) AS line_count
    FROM account_lines AS a
    INNER JOIN fixed AS f ON f.role = 'clearing'
    GROUP BY a.period_start, a.site, f.account, f.tax_code
),
deposit_bank AS (
    SELECT
        CAST(date_trunc('month', rep.payout_date) AS DATE) AS period_start,
        home.site,
        '' AS marketplace,
        3 AS kind_order,
        'bank' AS line_kind,
        f.role,
        f.account,
        f.tax_code,
        false AS is_suspense,
        CAST(-rep.total_amount AS DECIMAL(18, 2)) AS amount,
        CAST(round(-rep.total_amount * p.rate, 2) AS DECIMAL(18, 2)) AS ledger_amount,
        CAST(0 AS BIGINT) AS line_count
    FROM rep, home, fixed AS f, periods AS p
    WHERE f.role = CASE WHEN rep.total_amount < 0 THEN 'amazon_payable' ELSE 'bank' END
        AND rep.payout_date IS NOT NULL
        AND p.period_start = CAST(date_trunc('month', rep.payout_date) AS DATE)
),
deposit_clearing AS (
    -- takes out of clearing exactly what the journals put in, in both currencies
    SELECT
        b.period_start,
        b.site,
        '' AS marketplace,
        4 AS kind_order,
        'clearing' AS line_kind,
        'clearing' AS role,
        f.account,
        f.tax_code,
        false AS is_suspense,
        -b.amount AS amount,
        CAST(-coalesce((SELECT sum(c.ledger_amount) FROM clearing_net AS c), 0) AS DECIMAL(18, 2)) AS ledger_amount,
        CAST(0 AS BIGINT) AS line_count
    FROM deposit_bank AS b
    INNER JOIN fixed AS f ON f.role = 'clearing'
),
period_totals AS (
    -- per period: the settlement amount, its conversion at the period's rate and the sum of the converted lines
    SELECT
        a.period_start,
        sum(a.amount) AS amount,
        CAST(round(sum(a.amount) * any_value(p.rate), 2) AS DECIMAL(18, 2)) AS converted,
        sum(a.ledger_amount) AS lines_converted
    FROM account_lines AS a
    INNER JOIN periods AS p ON p.period_start = a.period_start
    GROUP BY a.period_start
),
differences AS (
    -- realised FX: the deposit at its day's rate against the journals' rates; rounding: converting line by line
    SELECT
        CAST(round((SELECT sum(t.amount) FROM period_totals AS t) * p.rate, 2)
             - (SELECT sum(t.converted) FROM period_totals AS t) AS DECIMAL(18, 2)) AS fx,
        CAST((SELECT sum(t.converted) FROM period_totals AS t)
             - (SELECT sum(t.lines_converted) FROM period_totals AS t) AS DECIMAL(18, 2)) AS rounding,
        b.ledger_amount + d.ledger_amount AS unbalanced
    FROM deposit_bank AS b, deposit_clearing AS d, periods AS p
    WHERE p.period_start = b.period_start
),
rounding AS (
    -- company-currency lines without a transaction amount: FX gain (credit) or loss, and the rounding cents
    -- (together they are exactly what keeps the deposit journal balanced once clearing nets to zero)
    SELECT
        b.period_start,
        b.site,
        '' AS marketplace,
        CASE f.role WHEN 'fx_gain_loss' THEN 5 ELSE 6 END AS kind_order,
        f.role AS line_kind,
        f.role,
        f.account,
        f.tax_code,
        false AS is_suspense,
        CAST(0 AS DECIMAL(18, 2)) AS amount,
        CAST(CASE WHEN f.role = 'fx_gain_loss' THEN x.fx ELSE -x.unbalanced - x.fx END AS DECIMAL(18, 2))
            AS ledger_amount,
        CAST(0 AS BIGINT) AS line_count
    FROM deposit_bank AS b, differences AS x
    INNER JOIN fixed AS f ON f.role IN ('fx_gain_loss', 'rounding')
),
all_lines AS (
    SELECT * FROM account_lines
    UNION ALL
    SELECT * FROM clearing_net
    UNION ALL
    SELECT * FROM deposit_bank
    UNION ALL
    SELECT * FROM deposit_clearing
    UNION ALL
    SELECT * FROM rounding
),
several AS (
    SELECT count(DISTINCT marketplace) > 1 AS several_marketplaces FROM account_lines
)
SELECT
    rep.settlement_id,
    'AMZ-' || rep.settlement_id || '-' || strftime(l.period_start, '%Y%m')
    || CASE WHEN l.site <> home.site AND l.site <> '' THEN '-' || l.site ELSE '' END AS journal_reference,
    strftime(l.period_start, '%Y-%m') AS period,
    p.accounting_date,
    rep.currency,
    fx.company_currency,
    p.rate,
    row_number() OVER (
        PARTITION BY l.period_start, l.site ORDER BY l.kind_order, l.account, l.marketplace, l.tax_code, l.role
    ) AS line_no,
    l.line_kind,
    l.role,
    l.account,
    l.tax_code,
    -- the whole description, "AMZ <settlement id> <what>": the Sage target cuts it to its field's width
    -- (X3 GACCENTRYD DES: the LEN getDescription publishes; Sage 500 tglPosting.PostCmnt: 50)
    CASE
        WHEN l.line_kind = 'bank' AND l.amount > 0 THEN 'AMZ ' || rep.settlement_id || ' owed to Amazon'
        WHEN l.line_kind = 'bank' THEN 'AMZ ' || rep.settlement_id || ' deposit'
        WHEN l.kind_order = 4 THEN 'AMZ ' || rep.settlement_id || ' clearing out'
        WHEN l.line_kind = 'clearing' THEN 'AMZ ' || rep.settlement_id || ' clearing'
        WHEN l.line_kind = 'rounding' THEN 'AMZ ' || rep.settlement_id || ' rounding'
        WHEN l.line_kind = 'fx_gain_loss' THEN 'AMZ ' || rep.settlement_id || ' FX gain/loss'
        ELSE 'AMZ ' || rep.settlement_id || ' '
            || CASE WHEN several.several_marketplaces AND l.marketplace <> '' THEN l.marketplace || ' ' ELSE '' END
            || CASE
                WHEN l.is_suspense THEN 'UNMAPPED'
                ELSE CASE l.role
                    WHEN 'shipping_income' THEN 'shipping'
                    WHEN 'gift_wrap_income' THEN 'gift wrap'
                    WHEN 'marketplace_fees' THEN 'selling fees'
                    WHEN 'fba_fees' THEN 'FBA fees'
                    WHEN 'tax_payable' THEN 'tax'
                    ELSE replace(l.role, '_', ' ')
                END
            END
    END AS description,
    l.is_suspense,
    l.amount,
    CAST(CASE WHEN l.amount < 0 THEN -l.amount ELSE 0 END AS DECIMAL(18, 2)) AS debit,
    CAST(CASE WHEN l.amount > 0 THEN l.amount ELSE 0 END AS DECIMAL(18, 2)) AS credit,
    CAST(CASE WHEN l.ledger_amount < 0 THEN -l.ledger_amount ELSE 0 END AS DECIMAL(18, 2)) AS ledger_debit,
    CAST(CASE WHEN l.ledger_amount > 0 THEN l.ledger_amount ELSE 0 END AS DECIMAL(18, 2)) AS ledger_credit,
    l.line_count,
    l.site,
    l.marketplace
FROM all_lines AS l
INNER JOIN periods AS p ON p.period_start = l.period_start, rep, fx, home, several
WHERE l.amount <> 0 OR l.ledger_amount <> 0
