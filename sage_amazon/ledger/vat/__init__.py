"""VAT and GST/HST/QST of Amazon settlements (issue 17.1, 17.5): the seller's tax profile (tax_profile.yaml,
`profile`), rates with their sources (`rates`), each order's departure, arrival and buyer VAT number (`facts`),
each line's treatment (`decide`), the VAT journals and marts.settlement_vat (`journal`), the return boxes
(`summary`). Never imports Dagster (the assets are assets/settlements/vat.py)."""
