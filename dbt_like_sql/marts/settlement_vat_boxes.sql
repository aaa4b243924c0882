-- description: VAT return boxes of a settlement's decided VAT lines (marts.settlement_vat, status ok), per accounting month and registration: the UK VAT100 boxes 1-9 for a GB registration, the German UStVA Kennzahlen (81, 86 and their tax, 41 intra-EU supplies, 43 exports, 46/47 services reverse charged, 66/67 input VAT, 83 payable) for a DE registration, net and VAT per member state of consumption for an OSS registration, the GST34 lines 101, 105, 108, 109 and the QST collected for Canada. Sales and tax due are positive, as the return shows them; the VAT summary adds the months of a return period.
-- flow: settlements
-- partitions: settlement
-- partition_column: settlement_id
WITH v AS (
    SELECT * FROM marts.settlement_vat WHERE settlement_id = $partition_key AND status = 'ok'
        AND registration <> ''
),
uk AS (
    SELECT
        settlement_id, period, registration, registration_country,
        sum(output_vat) AS box1,
        sum(input_vat) AS box4,
        sum(CASE WHEN line_kind = 'sale' THEN net ELSE 0 END) AS box6,
        -sum(CASE WHEN line_kind = 'fee' THEN net ELSE 0 END) AS box7
    FROM v WHERE registration_country = 'GB' AND scheme = 'standard'
    GROUP BY ALL
),
de AS (
    SELECT
        settlement_id, period, registration, registration_country,
        sum(CASE WHEN line_kind = 'sale' AND treatment = 'standard' THEN net ELSE 0 END) AS k81,
        sum(CASE WHEN line_kind = 'sale' AND treatment = 'standard' THEN output_vat ELSE 0 END) AS k81_tax,
        sum(CASE WHEN line_kind = 'sale' AND treatment = 'reduced' THEN net ELSE 0 END) AS k86,
        sum(CASE WHEN line_kind = 'sale' AND treatment = 'reduced' THEN output_vat ELSE 0 END) AS k86_tax,
        sum(CASE WHEN treatment = 'intra_eu' THEN net ELSE 0 END) AS k41,
        sum(CASE WHEN treatment = 'export' THEN net ELSE 0 END) AS k43,
        -sum(CASE WHEN treatment = 'reverse_charge' THEN net ELSE 0 END) AS k46,
        sum(CASE WHEN treatment = 'reverse_charge' THEN output_vat ELSE 0 END) AS k47,
        sum(CASE WHEN treatment = 'input' THEN input_vat ELSE 0 END) AS k66,
        sum(CASE WHEN treatment = 'reverse_charge' THEN input_vat ELSE 0 END) AS k67
    FROM v WHERE registration_country = 'DE' AND scheme = 'standard'
    GROUP BY ALL
),
ca AS (
    SELECT
        settlement_id, period, registration, registration_country,
        sum(CASE WHEN line_kind = 'sale' THEN net ELSE 0 END) AS l101,
        sum(CASE WHEN line_kind = 'sale' THEN output_vat ELSE 0 END) AS l105,
        sum(CASE WHEN line_kind = 'fee' THEN input_vat ELSE 0 END) AS l108,
        sum(qst) AS qst
    FROM v WHERE scheme = 'gst_hst'
    GROUP BY ALL
),
boxes AS (
    SELECT settlement_id, period, registration, registration_country, 'UK VAT100' AS form, b.box, b.amount
    FROM uk, LATERAL (VALUES ('1', box1), ('2', 0), ('3', box1), ('4', box4), ('5', box1 - box4), ('6', box6),
                             ('7', box7), ('8', 0), ('9', 0)) AS b (box, amount)
    UNION ALL
    SELECT settlement_id, period, registration, registration_country, 'DE UStVA', b.box, b.amount
    FROM de, LATERAL (VALUES ('81', k81), ('81_tax', k81_tax), ('86', k86), ('86_tax', k86_tax), ('41', k41),
                             ('43', k43), ('46', k46), ('47', k47), ('66', k66), ('67', k67),
                             ('83', k81_tax + k86_tax + k47 - k66 - k67)) AS b (box, amount)
    UNION ALL
    SELECT settlement_id, period, registration, registration_country, 'OSS', vat_country || '_net', sum(net)
    FROM v WHERE scheme = 'oss' GROUP BY ALL
    UNION ALL
    SELECT settlement_id, period, registration, registration_country, 'OSS', vat_country || '_vat', sum(output_vat)
    FROM v WHERE scheme = 'oss' GROUP BY ALL
    UNION ALL
    SELECT settlement_id, period, registration, registration_country, 'CA GST34', b.box, b.amount
    FROM ca, LATERAL (VALUES ('101', l101), ('105', l105), ('108', l108), ('109', l105 - l108), ('qst', qst))
        AS b (box, amount)
)
SELECT
    settlement_id,
    period,
    registration,
    registration_country,
    form,
    box,
    CAST(amount AS DECIMAL(18, 2)) AS amount
FROM boxes
