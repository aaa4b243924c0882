"""Syracuse api1 reads ($query with where/orderBy/count, following $links.$next; $details)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import quote

import httpx

from ..errors import SageConfigurationError, SageTransientError
from .soap import login_refused, not_reachable


def quote_literal(value: str) -> str:
    """A string literal of an SData where clause ('' doubles a quote)."""
    return "'" + value.replace("'", "''") + "'"


class X3Rest:
    def __init__(self, url: str, folder: str, *, gate: threading.BoundedSemaphore, http: httpx.Client,
                 page_size: int = 100, user: str = "") -> None:
        self.url, self.user = url.rstrip("/"), user
        self.base = f"{url.rstrip('/')}/api1/x3/erp/{quote(folder)}"
        self.gate, self.http, self.page_size = gate, http, page_size

    def _get(self, url: str, params: dict | None = None) -> dict | None:
        with self.gate:
            try:
                response = self.http.get(url, params=params, headers={"Accept": "application/json"})
            except httpx.TransportError as exc:
                raise SageTransientError(not_reachable(self.url, exc), refused=_path(url)) from exc
        if response.status_code == 401:
            raise SageConfigurationError(login_refused(self.user, self.url, 401), refused="api1")
        if response.status_code == 404:
            doc = _json(response)
            message = _diagnosis(doc)
            if "record does not exist" in message.lower():
                return None
            raise SageConfigurationError(f"X3 REST: {message or 'not found'}", refused=url)
        if response.status_code >= 500 or response.status_code == 429:
            raise SageTransientError(f"X3 REST HTTP {response.status_code} at SAGE_X3_URL={self.url}",
                                     refused=_path(url))
        if response.status_code != 200:
            raise SageConfigurationError(f"X3 REST HTTP {response.status_code}: {_diagnosis(_json(response))}",
                                         refused=url)
        return _json(response)

    def query(self, cls: str, *, where: str = "", order_by: str = "", count: int | None = None,
              representation: str | None = None) -> Iterator[dict]:
        params = {"representation": f"{representation or cls}.$query", "count": str(count or self.page_size)}
        if where:
            params["where"] = where
        if order_by:
            params["orderBy"] = order_by
        url: str | None = f"{self.base}/{cls}"
        while url:
            doc = self._get(url, params) or {}
            yield from doc.get("$resources", [])
            url = ((doc.get("$links") or {}).get("$next") or {}).get("$url")
            params = None  # the $next URL carries every parameter

    def details(self, cls: str, key: str, representation: str | None = None) -> dict | None:
        url = f"{self.base}/{cls}('{quote(key, safe='~')}')"
        return self._get(url, {"representation": f"{representation or cls}.$details"})


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path or url


def _json(response: httpx.Response) -> dict:
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return {}


def _diagnosis(doc: dict) -> str:
    return "; ".join(d.get("$message", "") for d in (doc or {}).get("$diagnoses", []))
