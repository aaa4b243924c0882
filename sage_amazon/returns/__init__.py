"""Returns and refunds (issue 15): Amazon's returns reports and refund transactions as daily datasets; the credit
notes and the stock back in Sage that follow from them. Never imports Dagster (assets/returns/ is the thin side)."""
