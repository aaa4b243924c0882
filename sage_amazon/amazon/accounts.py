"""Seller accounts per Amazon region (issue 13 item 1).

An Amazon seller authorises each region (NA, EU, FE) separately: each authorisation has its own host, its own
refresh token and its own marketplaces, and a host refuses a marketplace of another region (403 "The
marketplaces you provided are not valid for region."). The accounts file (SAGE_AMAZON_ACCOUNTS_FILE) lists
them; secrets stay in the environment (the file names the variable holding each refresh token):

    accounts:
      - name: north-america
        region: NA
        endpoint: https://sellingpartnerapi-na.amazon.com   # optional: Amazon's host of the region
        marketplaces: [ATVPDKIKX0DER, A2EUQ1WTGCTBG2]
        refresh_token_env: SP_API_REFRESH_TOKEN_NA
      - name: europe
        region: EU
        marketplaces: [A1F83G8C2ARO7P, A1PA6795UKMFR9]
        refresh_token_env: SP_API_REFRESH_TOKEN_EU

Without the file, one account comes from SP_API_ENDPOINT, SP_API_REFRESH_TOKEN and SP_API_MARKETPLACES, as
before. LWA_APP_ID / LWA_CLIENT_SECRET (the application's) and SP_API_LWA_ENDPOINT are shared by all accounts
unless an account names `lwa_endpoint`.

`RegionalSpApi` is one client over several accounts: a call naming a marketplace goes to that marketplace's
account; `per_account` splits a marketplace list so each part is called on its own host. The table of
marketplaces per region is the product's own (Amazon's "Marketplace IDs" page), not the sandbox's.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sage_amazon.amazon.client import SpApi, SpApiError, SpApiSettings
from sage_amazon.config import ConfigError

# developer-docs.amazon.com/sp-api/docs/marketplace-ids and /sp-api-endpoints
REGION_MARKETPLACES: dict[str, frozenset[str]] = {
    "NA": frozenset({"ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8", "A2Q3Y263D00KWC"}),
    "EU": frozenset({"A1F83G8C2ARO7P", "A1PA6795UKMFR9", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4", "A1RKKUPIHCS9HS",
                     "A1805IZSGTT6HS", "AMEN7PMS3EDWL", "A1C3SOZRARQ6R3", "A2NODRKZP88ZB9", "A33AVAJ2PDY3EV",
                     "A17E79C6D8DWNP", "A2VIGQ35RCS4UG", "ARBP9OOSHTCHU", "A21TJRUUN4KGV", "AE08WJ6YKNBMC",
                     "A28R8C7NBKEWEA"}),
    "FE": frozenset({"A1VC38T7YXB528", "A39IBJ37TRP1C6", "A19VAU5U5O7RUS"}),
}
ENDPOINTS = {"NA": "https://sellingpartnerapi-na.amazon.com", "EU": "https://sellingpartnerapi-eu.amazon.com",
             "FE": "https://sellingpartnerapi-fe.amazon.com"}
MARKETPLACE_KEYS = ("marketplaceIds", "MarketplaceIds", "marketplaceId", "MarketplaceId")


def region_of(marketplace_id: str) -> str | None:
    return next((r for r, ids in REGION_MARKETPLACES.items() if marketplace_id in ids), None)


@dataclass(frozen=True)
class Account:
    name: str
    region: str  # NA / EU / FE
    settings: SpApiSettings = field(repr=False)

    @property
    def marketplaces(self) -> tuple[str, ...]:
        return self.settings.marketplaces


def _file_error(path: Path, message: str) -> ConfigError:
    return ConfigError(f"SAGE_AMAZON_ACCOUNTS_FILE {path}: {message}")


def load(path: str | Path | None = None) -> list[Account]:
    """The configured accounts: the accounts file, else one account from the SP_API_* variables."""
    from sage_amazon import config

    path = path or config.get("SAGE_AMAZON_ACCOUNTS_FILE")
    if not path:
        settings = SpApiSettings.from_config()
        regions = {region_of(m) for m in settings.marketplaces} - {None}
        return [Account("default", regions.pop() if len(regions) == 1 else "", settings)]
    return _load_file(Path(path).expanduser())


def _load_file(path: Path) -> list[Account]:
    import yaml

    from sage_amazon import config

    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise _file_error(path, f"cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise _file_error(path, f"is not valid YAML ({str(exc).splitlines()[0]})") from None
    entries = doc.get("accounts") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise _file_error(path, "needs a non-empty list `accounts:`")
    lwa_endpoint = config.load().lwa_endpoint
    accounts: list[Account] = []
    owner: dict[str, str] = {}
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise _file_error(path, f"account {i} is not a mapping")
        name = str(entry.get("name") or f"account{i}")
        region = str(entry.get("region") or "").upper()
        if region not in REGION_MARKETPLACES:
            raise _file_error(path, f"account {name}: region must be NA, EU or FE, got {entry.get('region')!r}")
        marketplaces = entry.get("marketplaces")
        if isinstance(marketplaces, str):
            marketplaces = [m.strip() for m in marketplaces.split(",")]
        if not isinstance(marketplaces, list) or not marketplaces:
            raise _file_error(path, f"account {name}: needs a list of marketplaces")
        marketplaces = [str(m).strip() for m in marketplaces if str(m).strip()]
        foreign = [m for m in marketplaces if m not in REGION_MARKETPLACES[region]]
        if foreign:
            regions = ", ".join(f"{m} is {region_of(m) or 'no known region'}" for m in foreign)
            raise _file_error(path, f"account {name} ({region}): marketplace not of region {region} ({regions}); "
                                    f"each region needs its own account")
        for m in marketplaces:
            if m in owner:
                raise _file_error(path, f"marketplace {m} is in accounts {owner[m]} and {name}")
            owner[m] = name
        token_env = str(entry.get("refresh_token_env") or "")
        if "refresh_token" in entry:
            raise _file_error(path, f"account {name}: put the refresh token in an environment variable and name "
                                    f"it with refresh_token_env (no secret in this file)")
        token = os.environ.get(token_env, "").strip() if token_env else ""
        if not token:
            raise _file_error(path, f"account {name}: the environment variable named by refresh_token_env "
                                    f"({token_env or 'missing'}) is not set")
        endpoint = str(entry.get("endpoint") or ENDPOINTS[region]).rstrip("/")
        if not endpoint.startswith(("http://", "https://")):
            raise _file_error(path, f"account {name}: endpoint must be an http(s) URL, got {endpoint!r}")
        settings = SpApiSettings(endpoint=endpoint, lwa_endpoint=str(entry.get("lwa_endpoint") or lwa_endpoint),
                                 refresh_token=token, lwa_app_id=config.get("LWA_APP_ID"),
                                 lwa_client_secret=config.get("LWA_CLIENT_SECRET"),
                                 marketplaces=tuple(marketplaces))
        accounts.append(Account(name, region, settings))
    return accounts


class RegionalSpApi:
    """SP-API over several accounts (one per region), with SpApi's surface: `call`, `client`, `settings`
    (all marketplaces), `calls`, `total_calls`, `close`.

    A call naming a marketplace (marketplace_id=, or marketplaceIds/MarketplaceIds of one account) goes to that
    account's host with its token; a call naming marketplaces of several accounts is refused (split it with
    `per_account`). A call naming no marketplace (by id: getOrder, getReport, getFeed...) goes to the only
    account, or is asked of each account in turn until one knows the id (400/403/404 move on)."""

    def __init__(self, apis: list[tuple[Account, SpApi]]) -> None:
        if not apis:
            raise ValueError("no account")
        self.accounts = [a for a, _ in apis]
        self.apis = [api for _, api in apis]
        self.retry = self.apis[0].retry
        first = self.apis[0].settings
        self.settings = replace(first, marketplaces=tuple(m for a in self.accounts for m in a.marketplaces))
        self._by_marketplace = {m: api for a, api in apis for m in a.marketplaces}

    @property
    def calls(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for api in self.apis:
            total.update(api.calls)
        return total

    @property
    def retries(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for api in self.apis:
            total.update(api.retries)
        return total

    @property
    def total_calls(self) -> int:
        return sum(api.total_calls for api in self.apis)

    @property
    def system(self) -> Any:
        return self.apis[0].system

    def api_for(self, marketplace_id: str) -> SpApi:
        try:
            return self._by_marketplace[marketplace_id]
        except KeyError:
            raise SpApiError(f"marketplace {marketplace_id} is in no configured account "
                             f"(SAGE_AMAZON_ACCOUNTS_FILE)", status=None) from None

    def _named(self, kwargs: dict[str, Any]) -> list[str]:
        named: list[str] = []
        for key in MARKETPLACE_KEYS:
            value = kwargs.get(key)
            if isinstance(value, str):
                named += [m.strip() for m in value.split(",") if m.strip()]
            elif isinstance(value, (list, tuple)):
                named += [str(m) for m in value]
        return named

    def client(self, api: str, marketplace_id: str | None = None) -> Any:
        target = self.api_for(marketplace_id) if marketplace_id else self.apis[0]
        return target.client(api, marketplace_id)

    def call(self, operation: str, api: str, method: str, *args: Any,
             marketplace_id: str | None = None, **kwargs: Any) -> Any:
        if marketplace_id:
            return self.api_for(marketplace_id).call(operation, api, method, *args,
                                                     marketplace_id=marketplace_id, **kwargs)
        named = self._named(kwargs)
        if named:
            targets = {id(self.api_for(m)): self.api_for(m) for m in named}
            if len(targets) > 1:
                raise SpApiError(f"{operation} names marketplaces of several regions ({','.join(named)}): "
                                 f"Amazon refuses that; call each account (per_account)", status=None,
                                 operation=operation)
            target = next(iter(targets.values()))
            return target.call(operation, api, method, *args, marketplace_id=named[0], **kwargs)
        if len(self.apis) == 1:
            return self.apis[0].call(operation, api, method, *args, **kwargs)
        last: SpApiError | None = None
        for target in self.apis:
            try:
                return target.call(operation, api, method, *args, **kwargs)
            except SpApiError as exc:
                if exc.status not in (400, 403, 404):
                    raise
                last = exc
        assert last is not None
        raise last

    def close(self) -> None:
        for api in self.apis:
            api.close()


def per_account(api: Any, marketplaces: Any = None) -> list[tuple[Any, list[str]]]:
    """(client, marketplaces) per account: a plain SpApi is one account; a RegionalSpApi is split so that no
    call names marketplaces of two regions. Marketplaces of no account are kept on the first (Amazon will
    refuse them there, loudly)."""
    wanted = list(marketplaces or api.settings.marketplaces)
    if not isinstance(api, RegionalSpApi):
        return [(api, wanted)]
    parts: dict[int, tuple[SpApi, list[str]]] = {}
    for m in wanted:
        target = api._by_marketplace.get(m, api.apis[0])
        parts.setdefault(id(target), (target, []))[1].append(m)
    return list(parts.values())
