"""Order to cash: Amazon orders become Sage sales orders; FBA shipments and cancellations follow.

raw.py lands extractions, refdata.py writes the mapping tables, load.py posts through the ledger,
replay.py re-processes dead letters (the CLI's `deadletter replay`).
"""
