"""Order to cash: Amazon orders become Sage sales orders; FBA shipments and cancellations follow.

raw.py lands extractions, refdata.py writes the mapping tables, load.py posts through the ledger;
`sage-amazon deadletter replay` re-runs the load assets (tag deadletters.FLOW_TAG) after a fix.
"""
