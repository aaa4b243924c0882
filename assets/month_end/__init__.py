"""The month_end flow (issue 17.3 and 17.5): what finance closes a month with, built over every settlement: the
deferred (DD+7) accrual and its reversal per marketplace, and the reports finance files with (US sales tax per
state, COGS and margin per SKU, the orders behind each accrual). Its assets are unpartitioned (a month is run
config), so the settlement-partitioned settlements flow keeps one partitions definition. definitions.py assembles it."""

FLOW = "month_end"  # its asset group, its run tag sage_amazon/flow
