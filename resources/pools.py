"""Concurrency pools: one per scarce thing, so that waiting for one never blocks another.

- `duckdb_write`: the single DuckDB writer (limit 1). Only steps that do nothing but SQL on the warehouse
  (SQL models, landing a file, reference tables, checks) sit in it; they hold it for seconds.
- `sp_api_<region>` (`sp_api_na`, `sp_api_eu`, `sp_api_fe`): the seller's SP-API budget in one Amazon region
  (Amazon's usage plans are per selling partner and region). Extraction and report polls (minutes) and pushes to
  Amazon hold the pool of the region of the accounts they call (`SP_API`, from the configured accounts: the
  accounts file's regions, else the regions of SP_API_MARKETPLACES). Dagster gives a step one pool, and a step
  calls every configured account, so a code location whose accounts span regions holds one pool named for all of
  them (`sp_api_eu_na`); one code location per region gives each region its own (issue 13).
- `sage_x3` / `sage500`: the Sage pool of the configured target. Postings to Sage.

A step that calls Amazon or Sage writes DuckDB only through short write sessions (the warehouse's file
lock serialises them), never in the `duckdb_write` pool, so an SP-API report poll never waits for a
Sage posting nor the other way round. Limits live in the Dagster instance (`concurrency.pools`,
every pool defaults to one slot: see sage_amazon/instance.py and deploy/dagster.yaml); raise one with
`dagster instance concurrency set <pool> <slots>`.
"""

from sage_amazon import config

DUCKDB_WRITE = "duckdb_write"
SP_API_REGIONS = ("NA", "EU", "FE")


def sp_api_pool(*regions: str) -> str:
    """The SP-API pool of an account's region (`sp_api_na`); of several regions, one pool named for all."""
    wanted = sorted({r.upper() for r in regions if r} & set(SP_API_REGIONS)) or ["NA"]
    return "sp_api_" + "_".join(r.lower() for r in wanted)


def configured_regions() -> tuple[str, ...]:
    """The regions of the seller's accounts, read without their secrets: the accounts file's `region:` entries,
    else the regions of SP_API_MARKETPLACES. An unreadable file counts as no region here (the first SP-API call
    reports it in one line)."""
    from sage_amazon.amazon.accounts import region_of

    path = config.get("SAGE_AMAZON_ACCOUNTS_FILE")
    if path:
        import pathlib

        import yaml

        try:
            doc = yaml.safe_load(pathlib.Path(path).expanduser().read_text())
            entries = doc.get("accounts") if isinstance(doc, dict) else None
            return tuple(sorted({str(e.get("region") or "").upper() for e in entries or [] if isinstance(e, dict)}
                                & set(SP_API_REGIONS)))
        except (OSError, yaml.YAMLError):
            return ()
    found = {region_of(m.strip()) for m in config.get("SP_API_MARKETPLACES").split(",") if m.strip()}
    return tuple(sorted(r for r in found if r))


def tenant_pool(pool: str) -> str:
    """In a many-seller deployment (SAGE_AMAZON_TENANT, docs/multi-seller.md) every pool is the tenant's own
    (`acme/sp_api_eu`, `acme/sage_x3`, `acme/duckdb_write`): one seller's throttled region or busy Sage never
    holds another's slot. Without a tenant, the pool as named."""
    tenant = config.get("SAGE_AMAZON_TENANT")
    return f"{tenant}/{pool}" if tenant else pool


DUCKDB_WRITE = tenant_pool(DUCKDB_WRITE)
SP_API = tenant_pool(sp_api_pool(*configured_regions()))  # the SP-API steps' pool (sp_api_na: a seller in NA only)
SAGE = tenant_pool("sage500" if config.get("SAGE_AMAZON_TARGET").lower() == "sage500" else "sage_x3")
ALL = (DUCKDB_WRITE, SP_API, SAGE)
