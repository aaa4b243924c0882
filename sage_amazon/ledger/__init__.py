"""Settlement to ledger: Amazon settlement reports reconciled into balanced Sage journals.

    intake.py       settlement files into <data dir>/raw/settlements (SP-API discovery, manual import)
    ../amazon/settlement/     V2/V1 flat-file parser landing raw.settlement_lines / raw.settlement_reports
    ../mapping/accounts.py    accounts.yaml -> ref.settlement_account_map (roles, accounts, tax codes, rates)
    dbt_like_sql/   stg_settlement_categories -> journal_settlement_lines -> settlement_reconciliation,
                    settlement_fee_rates (SQL models: categorisation, period split, balancing, FX)
    settlements.py  runs those models, reads journals back as sage.protocol.Journal, validation, preview
    posting.py      idempotent posting per settlement and period (posting ledger, dead letters)
    documents.py    credit notes for refunds when accounts.yaml says `documents: credit_notes`
    reclass.py      what was posted, line by line; a reclass journal when the account map changes after posting
    tieout.py       per Amazon order id: Sage sales orders / invoices against settlement money (open items, ageing)
    anomalies.py    fees far from their usual rate per SKU / marketplace (non-blocking evidence)
    cli.py          `sage-amazon settlement import FILE` / `remove ID` / `inspect FILE [--json]`
    tieout_cli.py   `sage-amazon settlement tieout [--json] [--as-of DAY] [--status S]`
"""
