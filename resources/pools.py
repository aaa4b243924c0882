"""Concurrency pools: one per scarce thing, so that waiting for one never blocks another.

- `duckdb_write`: the single DuckDB writer (limit 1). Only steps that do nothing but SQL on the warehouse
  (SQL models, landing a file, reference tables, checks) sit in it; they hold it for seconds.
- `sp_api`: the seller's SP-API budget. Extraction and report polls (minutes) and pushes to Amazon.
- `sage_x3` / `sage500`: the Sage pool of the configured target. Postings to Sage.

A step that calls Amazon or Sage writes DuckDB only through short write sessions (the warehouse's file
lock serialises them), never in the `duckdb_write` pool, so an SP-API report poll never waits for a
Sage posting nor the other way round. Limits live in the Dagster instance (`concurrency.pools`,
every pool defaults to one slot: see sage_amazon/instance.py and deploy/dagster.yaml); raise one with
`dagster instance concurrency set <pool> <slots>`.
"""

from sage_amazon import config

DUCKDB_WRITE = "duckdb_write"
SP_API = "sp_api"  # one seller region per code location; a second region would be sp_api_<region>
SAGE = "sage500" if config.get("SAGE_AMAZON_TARGET").lower() == "sage500" else "sage_x3"
ALL = (DUCKDB_WRITE, SP_API, SAGE)
