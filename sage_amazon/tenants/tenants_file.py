"""The tenants file (SAGE_AMAZON_TENANTS_FILE): the sellers one deployment serves (docs/multi-seller.md).

Each tenant becomes the settings of the process that serves it (`tenant_env`): every setting of the README's table
is replaced by the tenant's, its Amazon accounts are written to `<data_root>/accounts.yaml`, and its secrets are
copied from the environment variables the file names (never from the file). No Dagster here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sage_amazon import config
from sage_amazon.config import ConfigError

NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
INLINE_SECRETS = ("password", "refresh_token", "client_secret", "secret", "token")
KEEP = ("DAGSTER_HOME",)  # the shared instance: the one setting a tenant's process keeps from its parent


@dataclass(frozen=True)
class Tenant:
    name: str
    queue: str  # the Celery queue of the worker whose disk holds the data root
    data_root: Path
    entry: dict[str, Any] = field(repr=False)  # the file's entry, validated
    automation: bool = True

    @property
    def location(self) -> str:
        return f"tenant_{self.name}"

    @property
    def accounts_file(self) -> Path:
        return self.data_root / "accounts.yaml"


def _error(path: Path, message: str) -> ConfigError:
    return ConfigError(f"SAGE_AMAZON_TENANTS_FILE {path}: {message}")


def _no_inline_secret(path: Path, name: str, where: str, mapping: dict) -> None:
    for key in mapping:
        if str(key).lower().endswith(INLINE_SECRETS):
            raise _error(path, f"tenant {name}: {where}{key} is a secret: put it in an environment variable "
                               f"and name the variable with {key}_env (no secret in this file)")


def load(path: str | Path | None = None) -> list[Tenant]:
    """The tenants of the file (SAGE_AMAZON_TENANTS_FILE unless given), validated; one clear line otherwise."""
    import yaml

    path = Path(path or os.environ.get("SAGE_AMAZON_TENANTS_FILE", "")).expanduser()
    if not str(path) or str(path) == ".":
        raise ConfigError("SAGE_AMAZON_TENANTS_FILE is not set: name the tenants file (docs/multi-seller.md)")
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise _error(path, f"cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise _error(path, f"is not valid YAML ({str(exc).splitlines()[0]})") from None
    entries = doc.get("tenants") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise _error(path, "needs a non-empty list `tenants:`")
    tenants: list[Tenant] = []
    for i, entry in enumerate(entries, 1):
        tenants.append(_tenant(path, i, entry, {t.name for t in tenants}))
    return tenants


def _tenant(path: Path, i: int, entry: Any, seen: set[str]) -> Tenant:
    if not isinstance(entry, dict):
        raise _error(path, f"tenant {i} is not a mapping")
    name = str(entry.get("name") or "")
    if not NAME.match(name):
        raise _error(path, f"tenant {i}: name must match [a-z][a-z0-9_]{{0,30}} (it names a code location, pools "
                           f"and a Celery queue), got {name!r}")
    if name in seen:
        raise _error(path, f"tenant {name} is listed twice")
    queue = str(entry.get("queue") or "")
    if not re.match(r"^[A-Za-z0-9_.-]+$", queue):
        raise _error(path, f"tenant {name}: queue must name the Celery queue of the worker holding its data root, "
                           f"got {queue!r}")
    if not entry.get("data_root"):
        raise _error(path, f"tenant {name}: data_root is missing (its warehouse, raw files and dead letters)")
    sage = entry.get("sage") or {}
    amazon = entry.get("amazon") or {}
    settings = entry.get("settings") or {}
    for where, part in (("sage.", sage), ("amazon.", amazon), ("", entry)):
        if not isinstance(part, dict):
            raise _error(path, f"tenant {name}: {where.rstrip('.')} must be a mapping")
        _no_inline_secret(path, name, where, part)
    target = str(sage.get("target") or "x3").lower()
    if target not in config.TARGETS:
        raise _error(path, f"tenant {name}: sage.target must be one of {', '.join(config.TARGETS)}, got {target!r}")
    accounts = amazon.get("accounts")
    if not isinstance(accounts, list) or not accounts:
        raise _error(path, f"tenant {name}: amazon.accounts needs one account per authorised region")
    for account in accounts:
        if isinstance(account, dict):
            _no_inline_secret(path, name, "amazon.accounts.", account)
    unknown = sorted(k for k in settings if k not in config.SETTINGS or k in config.SECRETS or k in KEEP)
    if unknown:
        raise _error(path, f"tenant {name}: settings may only name non-secret settings of the README's table, "
                           f"not {', '.join(map(str, unknown))}")
    automation = entry.get("automation", True)
    automation = automation if isinstance(automation, bool) else str(automation).lower() in ("on", "true", "yes")
    root = Path(str(entry["data_root"])).expanduser()
    return Tenant(name=name, queue=queue, data_root=root, entry=entry, automation=automation)


def find(name: str, path: str | Path | None = None) -> Tenant:
    for tenant in load(path):
        if tenant.name == name:
            return tenant
    raise ConfigError(f"SAGE_AMAZON_TENANTS_FILE: no tenant named {name!r}")


def _secret(tenant: Tenant, key: str, variable: str | None, environ: dict[str, str]) -> str | None:
    if not variable:
        return None
    value = environ.get(str(variable), "").strip()
    if not value:
        raise ConfigError(f"tenant {tenant.name}: the environment variable named by {key} ({variable}) is not set")
    return value


def tenant_env(tenant: Tenant, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The settings of the process serving `tenant`: every setting of the README's table from its entry (the
    others unset: the defaults), its secrets from the variables the entry names, SAGE_AMAZON_TENANT its name.
    Writes the tenant's accounts file under its data root."""
    import yaml

    environ = dict(os.environ if environ is None else environ)
    e, sage, amazon = tenant.entry, tenant.entry.get("sage") or {}, tenant.entry.get("amazon") or {}
    env: dict[str, str] = {str(k): str(v) for k, v in (e.get("settings") or {}).items()}
    env["SAGE_AMAZON_TENANT"] = tenant.name
    env["SAGE_AMAZON_DATA_DIR"] = str(tenant.data_root)
    if e.get("mapping_dir"):
        env["SAGE_AMAZON_MAPPING_DIR"] = str(Path(str(e["mapping_dir"])).expanduser())
    target = str(sage.get("target") or "x3").lower()
    env["SAGE_AMAZON_TARGET"] = target
    if target == "x3":
        company = str(sage.get("company") or "")
        plain = {"SAGE_X3_URL": sage.get("url"), "SAGE_X3_USER": sage.get("user"),
                 "SAGE_X3_FOLDER": company, "SAGE_X3_POOL": sage.get("pool") or company,
                 "SAGE_X3_POOL_SIZE": sage.get("pool_size")}
        env.update({k: str(v) for k, v in plain.items() if v})
        password = _secret(tenant, "sage.password_env", sage.get("password_env"), environ)
        if password:
            env["SAGE_X3_PASSWORD"] = password
    else:
        db_url = _secret(tenant, "sage.db_url_env", sage.get("db_url_env"), environ)
        if db_url:
            env["SAGE500_DB_URL"] = db_url
    plain = {"LWA_APP_ID": amazon.get("lwa_app_id"), "SP_API_LWA_ENDPOINT": amazon.get("lwa_endpoint"),
             "SQS_QUEUE_URL": amazon.get("sqs_queue_url")}
    env.update({k: str(v) for k, v in plain.items() if v})
    client_secret = _secret(tenant, "amazon.lwa_client_secret_env", amazon.get("lwa_client_secret_env"), environ)
    if client_secret:
        env["LWA_CLIENT_SECRET"] = client_secret
    accounts = [dict(a) for a in amazon["accounts"] if isinstance(a, dict)]
    for account in accounts:  # the accounts file names the variables; the tenant's process must hold them
        variable = str(account.get("refresh_token_env") or "")
        token = _secret(tenant, "amazon.accounts.refresh_token_env", variable or None, environ)
        if token:
            env[variable] = token
    tenant.data_root.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump({"accounts": accounts}, sort_keys=False)
    if not tenant.accounts_file.exists() or tenant.accounts_file.read_text() != text:
        tmp = tenant.accounts_file.with_name(f".accounts.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, tenant.accounts_file)  # two processes of the tenant never read half a file
    env["SAGE_AMAZON_ACCOUNTS_FILE"] = str(tenant.accounts_file)
    env["SP_API_MARKETPLACES"] = ",".join(str(m) for a in accounts for m in a.get("marketplaces") or [])
    return env


def apply(tenant: Tenant) -> None:
    """Make this process the tenant's: clear every setting of the README's table (but DAGSTER_HOME), then set
    the tenant's. Call before the project's modules are imported (they read some settings at import)."""
    env = tenant_env(tenant)
    for name in config.SETTINGS:
        if name not in KEEP:
            os.environ.pop(name, None)
    os.environ.update(env)
