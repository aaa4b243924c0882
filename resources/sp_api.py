"""The Selling Partner API as a Dagster resource: credentials through EnvVar, endpoints configurable.

Build it with `SpApiResource.from_env()` (what resources/__init__.py should register under the key
`sp_api`). Every client it hands out shares the process-wide rate limiter of
sage_amazon.amazon.client (one token bucket per seller and operation).
"""

from __future__ import annotations

import os

import dagster as dg

from sage_amazon.amazon.client import LIMITERS, SpApi, SpApiSettings, shared_limiters


def _secret(name: str):
    """EnvVar when the variable is set (never stored in run config), else the sandbox default."""
    from sage_amazon import config

    return dg.EnvVar(name) if os.environ.get(name) else config.get(name)


def _value(field) -> str:
    """A field's value, also when the resource is used outside a run (its EnvVar not resolved yet)."""
    return field.get_value() if isinstance(field, dg.EnvVar) else field


class SpApiResource(dg.ConfigurableResource):
    """SP-API for one seller. `api_version` picks searchOrders 2026-01-01 (default) or the v0 Orders API."""

    endpoint: str = "http://127.0.0.1:8100"
    lwa_endpoint: str = "http://127.0.0.1:8100/auth/o2/token"
    refresh_token: str
    lwa_app_id: str
    lwa_client_secret: str
    marketplaces: str = "ATVPDKIKX0DER,A1F83G8C2ARO7P,A1PA6795UKMFR9"
    api_version: str = "2026-01-01"
    report_backfill_days: int = 3  # a run covering more days than this reads the all-orders report
    report_poll_seconds: float = 2.0
    timeout_seconds: float = 0.0  # seconds per call; 0: SAGE_AMAZON_CALL_TIMEOUT_SECONDS
    max_attempts: int = 8  # within the retry budget SAGE_AMAZON_RETRY_BUDGET_SECONDS
    limiter_dir: str = ""  # where the shared token buckets live: "" = <data dir>/sp_api_limits, "memory" = per process
    accounts_file: str = ""  # SAGE_AMAZON_ACCOUNTS_FILE: one account per region (then endpoint/token/marketplaces unused)

    @classmethod
    def from_env(cls) -> SpApiResource:
        from sage_amazon import config

        settings = config.load()
        return cls(
            endpoint=settings.sp_api_endpoint,
            lwa_endpoint=settings.lwa_endpoint,
            refresh_token=_secret("SP_API_REFRESH_TOKEN"),
            lwa_app_id=_secret("LWA_APP_ID"),
            lwa_client_secret=_secret("LWA_CLIENT_SECRET"),
            marketplaces=",".join(settings.marketplaces),
            accounts_file=config.get("SAGE_AMAZON_ACCOUNTS_FILE"),
        )

    def settings(self) -> SpApiSettings:
        return SpApiSettings(
            endpoint=self.endpoint,
            lwa_endpoint=self.lwa_endpoint,
            refresh_token=_value(self.refresh_token),
            lwa_app_id=_value(self.lwa_app_id),
            lwa_client_secret=_value(self.lwa_client_secret),
            marketplaces=tuple(m.strip() for m in self.marketplaces.split(",") if m.strip()),
            timeout=self.timeout_seconds or None,
        )

    def get_client(self) -> SpApi:
        """A client whose limiter is shared by every process using the same data dir (or, with
        limiter_dir "memory", by this process only). With an accounts file: a RegionalSpApi, one SpApi per
        account (its own host, token and rate-limit buckets), routing each call by marketplace."""
        if self.limiter_dir == "memory":
            limiters = LIMITERS
        else:
            from sage_amazon import config

            limiters = shared_limiters(self.limiter_dir or config.load().data_dir / "sp_api_limits")
        from sage_amazon.retrying import RetryPolicy

        retry = RetryPolicy.from_config(max_attempts=self.max_attempts)
        if self.accounts_file:
            from dataclasses import replace

            from sage_amazon.amazon.accounts import RegionalSpApi, load

            timeout = self.timeout_seconds or None
            return RegionalSpApi([(a, SpApi(replace(a.settings, timeout=timeout), limiters=limiters, retry=retry))
                                  for a in load(self.accounts_file)])  # type: ignore[return-value]
        return SpApi(self.settings(), limiters=limiters, retry=retry)
