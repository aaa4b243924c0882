-- description: One row per settlement that finance reads: Amazon's total, the sum of the detail lines, the sum of the journal account lines, the deposit, the variance (must be 0.00), the clearing balance left after the deposit (in both currencies), realised FX gain or loss and rounding, unmapped (suspense) lines, and whether every journal balances.
-- flow: settlements
-- partitions: settlement
-- partition_column: settlement_id
WITH rep AS (
    SELECT * FROM raw.settlement_reports WHERE settlement_id = $partition_key
),
detail AS (
    SELECT
        count(*) AS line_count,
        CAST(coalesce(sum(amount), 0) AS DECIMAL(18, 2)) AS sum_lines,
        count(DISTINCT currency) AS currency_count,
        string_agg(DISTINCT currency, ',' ORDER BY currency) AS line_currencies,
        min(posted_date) AS first_posted,
        max(posted_date) AS last_posted
    FROM raw.settlement_lines
    WHERE settlement_id = $partition_key
),
journal AS (
    SELECT
        count(DISTINCT journal_reference) AS journal_count,
        string_agg(DISTINCT period, ',' ORDER BY period) AS periods,
        CAST(coalesce(sum(amount) FILTER (WHERE line_kind = 'account'), 0) AS DECIMAL(18, 2)) AS sum_journal_lines,
        CAST(coalesce(-sum(amount) FILTER (WHERE line_kind = 'bank'), 0) AS DECIMAL(18, 2)) AS deposit,
        CAST(coalesce(sum(amount) FILTER (WHERE line_kind = 'clearing'), 0) AS DECIMAL(18, 2)) AS clearing_balance,
        CAST(coalesce(sum(ledger_credit - ledger_debit) FILTER (WHERE line_kind = 'clearing'), 0) AS DECIMAL(18, 2))
            AS ledger_clearing_balance,
        CAST(coalesce(sum(ledger_credit - ledger_debit) FILTER (WHERE line_kind = 'fx_gain_loss'), 0)
            AS DECIMAL(18, 2)) AS fx_gain_loss,
        CAST(coalesce(sum(ledger_credit - ledger_debit) FILTER (WHERE line_kind = 'rounding'), 0) AS DECIMAL(18, 2))
            AS rounding,
        CAST(coalesce(sum(debit), 0) AS DECIMAL(18, 2)) AS debit_total,
        CAST(coalesce(sum(credit), 0) AS DECIMAL(18, 2)) AS credit_total,
        CAST(coalesce(sum(ledger_debit), 0) AS DECIMAL(18, 2)) AS ledger_debit_total,
        CAST(coalesce(sum(ledger_credit), 0) AS DECIMAL(18, 2)) AS ledger_credit_total
    FROM marts.journal_settlement_lines
    WHERE settlement_id = $partition_key
),
unbalanced AS (
    SELECT count(*) AS unbalanced_journals
    FROM (
        SELECT journal_reference
        FROM marts.journal_settlement_lines
        WHERE settlement_id = $partition_key
        GROUP BY journal_reference
        HAVING sum(debit) <> sum(credit) OR sum(ledger_debit) <> sum(ledger_credit)
    )
),
unmapped AS (
    SELECT
        CAST(coalesce(sum(line_count) FILTER (WHERE is_suspense), 0) AS BIGINT) AS unmapped_lines,
        CAST(coalesce(sum(amount) FILTER (WHERE is_suspense), 0) AS DECIMAL(18, 2)) AS unmapped_amount,
        count(*) FILTER (WHERE is_suspense) AS unmapped_keys
    FROM staging.stg_settlement_categories
    WHERE settlement_id = $partition_key
)
SELECT
    rep.settlement_id,
    rep.file_format,
    rep.marketplace,
    rep.currency,
    rep.settlement_start_date AS settlement_start,
    rep.settlement_end_date AS settlement_end,
    rep.deposit_date,
    rep.total_amount,
    detail.line_count,
    detail.sum_lines,
    journal.sum_journal_lines,
    journal.deposit,
    CAST(rep.total_amount - detail.sum_lines AS DECIMAL(18, 2)) AS variance,
    journal.clearing_balance,
    journal.ledger_clearing_balance,
    journal.fx_gain_loss,
    journal.rounding,
    journal.journal_count,
    journal.periods,
    journal.debit_total,
    journal.credit_total,
    journal.ledger_debit_total,
    journal.ledger_credit_total,
    unbalanced.unbalanced_journals = 0 AS journals_balanced,
    detail.currency_count,
    detail.line_currencies,
    detail.first_posted,
    detail.last_posted,
    unmapped.unmapped_lines,
    unmapped.unmapped_amount,
    unmapped.unmapped_keys,
    rep.source_file,
    rep.file_sha256
FROM rep, detail, journal, unbalanced, unmapped
