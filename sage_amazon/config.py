"""Runtime configuration: environment variables, then the instance's settings file, then the sandbox's defaults.

Every setting is read here and nowhere else. A missing or malformed value raises `ConfigError`
naming the variable; the CLI turns it into one clear line.

The settings file, `<data dir>/sage-amazon.toml` (FILE_NAME), holds settings every process of the instance reads
(the webserver, the daemon, each run, the command line) without inheriting an environment variable: the same names
as the variables, e.g. `SAGE_AMAZON_MAPPING_DIR = "mappings"` (a relative folder is the data dir's) or
`SAGE_AMAZON_START_DATE = "2026-11-01"`. A variable set in the environment wins over the file. Secrets and the data
dir itself are never read from it.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlparse


class ConfigError(ValueError):
    """A setting is missing or malformed. The message names the environment variable."""


TARGETS = ("x3", "sage500")

# name -> (default, description). Secrets have sandbox defaults only: real values come from the environment.
SETTINGS: dict[str, tuple[str, str]] = {
    "SAGE_AMAZON_TARGET": ("x3", "Sage target: x3 or sage500"),
    "SAGE_AMAZON_DATA_DIR": ("./data", "Where the warehouse, raw files, sandbox state and Dagster home live"),
    "SAGE_AMAZON_START_DATE": ("2026-01-01", "First day (UTC) of the daily order partitions"),
    "SAGE_AMAZON_MAPPING_DIR": ("", "Folder of mapping YAML files overriding the shipped defaults"),
    "SAGE_AMAZON_ACCOUNTS_FILE": (
        "",
        "YAML file of seller accounts per region (name, region, endpoint, marketplaces, refresh_token_env); "
        "empty: one account from SP_API_ENDPOINT, SP_API_REFRESH_TOKEN and SP_API_MARKETPLACES",
    ),
    "SAGE_AMAZON_TENANT": (
        "",
        "The seller a many-seller deployment's process serves (set from the tenants file, docs/multi-seller.md); "
        "its pools are prefixed with it (acme/sp_api_eu)",
    ),
    "SP_API_ENDPOINT": ("http://127.0.0.1:8100", "Selling Partner API base URL"),
    "SP_API_LWA_ENDPOINT": ("http://127.0.0.1:8100/auth/o2/token", "Login with Amazon token URL"),
    "SP_API_REFRESH_TOKEN": ("Atzr|sage-amazon-sandbox-refresh-token-A2SAGESANDBOX01", "LWA refresh token of the seller (secret)"),
    "LWA_APP_ID": ("amzn1.application-oa2-client.sageamazonsandbox0001", "LWA client id"),
    "LWA_CLIENT_SECRET": ("amzn1.oa2-cs.v1.sage-amazon-sandbox-client-secret", "LWA client secret (secret)"),
    "SP_API_MARKETPLACES": (
        "ATVPDKIKX0DER,A1F83G8C2ARO7P,A1PA6795UKMFR9",
        "Comma-separated marketplace ids to extract",
    ),
    "SP_API_RATE_SCALE": (
        "1",
        "Multiplies SP-API rate limits; only for a sandbox started with --time-scale (its clock runs faster)",
    ),
    "SQS_QUEUE_URL": (
        "http://127.0.0.1:9324/123456789012/sage-amazon-notifications",
        "Base URL of the SQS queues receiving SP-API notifications: one queue per consuming flow, this URL + "
        "-orders, -settlements, -inventory, -returns (`sage-amazon amazon connect` creates them)",
    ),
    "SAGE_X3_URL": ("http://127.0.0.1:8124", "Sage X3 Syracuse base URL"),
    "SAGE_X3_USER": ("admin", "Sage X3 web service user"),
    "SAGE_X3_PASSWORD": ("admin", "Sage X3 web service password (secret)"),
    "SAGE_X3_POOL": ("SEED", "Sage X3 classic SOAP pool alias"),
    "SAGE_X3_FOLDER": ("SEED", "Sage X3 folder (endpoint)"),
    "SAGE_X3_POOL_SIZE": ("4", "Concurrent calls allowed into the X3 pool"),
    "SAGE500_DB_URL": (
        "postgresql+psycopg2://postgres@127.0.0.1:5432/sage500_sandbox",
        "Sage 500 database (mssql+pymssql://... in production)",
    ),
    "SAGE_AMAZON_CALL_TIMEOUT_SECONDS": ("30", "Timeout of one call to Sage or Amazon (connect, send, answer)"),
    "SAGE_AMAZON_RETRY_BUDGET_SECONDS": (
        "120",
        "How long a call to Sage or Amazon keeps retrying transient failures (busy, timeouts, 5xx) before the "
        "run stops, leaving the rest unposted and resumable",
    ),
    "DAGSTER_HOME": ("", "Dagster instance folder (default: <data dir>/dagster_home)"),
}

SECRETS = frozenset({"SP_API_REFRESH_TOKEN", "LWA_CLIENT_SECRET", "SAGE_X3_PASSWORD"})


FILE_NAME = "sage-amazon.toml"
NOT_IN_FILE = SECRETS | {"SAGE_AMAZON_DATA_DIR"}
PATH_SETTINGS = frozenset({"SAGE_AMAZON_MAPPING_DIR", "SAGE_AMAZON_ACCOUNTS_FILE", "DAGSTER_HOME"})


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None or value.strip() == "" else value.strip()


def settings_file() -> Path:
    """The instance's settings file: FILE_NAME in the data dir (SAGE_AMAZON_DATA_DIR, default ./data)."""
    data_dir = _env("SAGE_AMAZON_DATA_DIR") or SETTINGS["SAGE_AMAZON_DATA_DIR"][0]
    return Path(data_dir).expanduser().resolve() / FILE_NAME


_file_cache: dict[tuple[str, float], dict[str, str]] = {}


def file_settings() -> dict[str, str]:
    """The settings the instance's file sets (empty without a file). A bad file raises ConfigError naming it."""
    path = settings_file()
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return {}
    cached = _file_cache.get((str(path), stamp))
    if cached is not None:
        return cached
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable TOML settings file ({exc})") from None
    values: dict[str, str] = {}
    for key, value in raw.items():
        name = key.upper()
        if name not in SETTINGS:
            raise ConfigError(f"{path}: unknown setting {key!r} (one of {', '.join(sorted(set(SETTINGS) - NOT_IN_FILE))})")
        if name in NOT_IN_FILE:
            raise ConfigError(f"{path}: {name} cannot be set in the settings file (use the environment)")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{path}: {name} must be a string or a number, got {value!r}")
        text = str(value).strip()
        if name in PATH_SETTINGS and text:
            text = str((path.parent / Path(text).expanduser()).resolve())  # relative: the data dir's
        values[name] = text
    _file_cache.clear()
    _file_cache[(str(path), stamp)] = values
    return values


def source(name: str) -> str:
    """Where a setting's value comes from: the variable, the settings file's path, or 'default'."""
    if _env(name) is not None:
        return name
    if name not in NOT_IN_FILE and file_settings().get(name):
        return str(settings_file())
    return "default"


def get(name: str) -> str:
    """The raw value of a setting: the environment, else the instance's settings file, else its default."""
    default, _ = SETTINGS[name]
    value = _env(name)
    if value is None and name not in NOT_IN_FILE:
        value = file_settings().get(name) or None
    return default if value is None else value


def record(name: str, value: str) -> Path:
    """Adds `name = value` to the instance's settings file (a setting found later by every process); returns it."""
    if name not in SETTINGS or name in NOT_IN_FILE:
        raise ConfigError(f"{name} cannot be set in the settings file")
    path = settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    if existing and not existing.endswith("\n"):
        existing += "\n"
    path.write_text(existing + f"{name} = {json.dumps(value)}\n", encoding="utf-8")
    return path


def _url(name: str) -> str:
    value = get(name)
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def rate_scale() -> float:
    value = get("SP_API_RATE_SCALE")
    try:
        scale = float(value)
    except ValueError:
        raise ConfigError(f"SP_API_RATE_SCALE must be a number, got {value!r}") from None
    if not scale > 0:
        raise ConfigError(f"SP_API_RATE_SCALE must be positive, got {value!r}")
    return scale


def _seconds(name: str) -> float:
    value = get(name)
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if not number > 0:
        raise ConfigError(f"{name} must be positive, got {value!r}")
    return number


def call_timeout_seconds() -> float:
    return _seconds("SAGE_AMAZON_CALL_TIMEOUT_SECONDS")


def retry_budget_seconds() -> float:
    return _seconds("SAGE_AMAZON_RETRY_BUDGET_SECONDS")


def _int(name: str, low: int = 1) -> int:
    value = get(name)
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if number < low:
        raise ConfigError(f"{name} must be at least {low}, got {number}")
    return number


@dataclass(frozen=True)
class Settings:
    target: str
    data_dir: Path
    start_date: date
    mapping_dir: Path | None
    sp_api_endpoint: str
    lwa_endpoint: str
    marketplaces: tuple[str, ...]
    rate_scale: float
    sqs_queue_url: str
    x3_url: str
    x3_user: str
    x3_pool: str
    x3_folder: str
    x3_pool_size: int
    sage500_db_url: str
    dagster_home: Path
    call_timeout_seconds: float = 30.0
    retry_budget_seconds: float = 120.0

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse" / "sage_amazon.duckdb"

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"


def load() -> Settings:
    """Read and validate every setting. Secrets are not part of `Settings`: resources read them by EnvVar."""
    target = get("SAGE_AMAZON_TARGET").lower()
    if target not in TARGETS:
        raise ConfigError(f"SAGE_AMAZON_TARGET must be one of {', '.join(TARGETS)}, got {target!r}")
    data_dir = Path(get("SAGE_AMAZON_DATA_DIR")).expanduser().resolve()
    try:
        start_date = date.fromisoformat(get("SAGE_AMAZON_START_DATE"))
    except ValueError:
        raise ConfigError(
            f"SAGE_AMAZON_START_DATE must be a date like 2026-01-01, got {get('SAGE_AMAZON_START_DATE')!r}"
        ) from None
    marketplaces = tuple(m.strip() for m in get("SP_API_MARKETPLACES").split(",") if m.strip())
    if not marketplaces or any(not m.isalnum() for m in marketplaces):
        raise ConfigError(
            f"SP_API_MARKETPLACES must be comma-separated marketplace ids, got {get('SP_API_MARKETPLACES')!r}"
        )
    db_url = get("SAGE500_DB_URL")
    if "://" not in db_url:
        raise ConfigError(f"SAGE500_DB_URL must be a SQLAlchemy URL, got {db_url!r}")
    mapping = get("SAGE_AMAZON_MAPPING_DIR")
    home = get("DAGSTER_HOME")
    return Settings(
        target=target,
        data_dir=data_dir,
        start_date=start_date,
        mapping_dir=Path(mapping).expanduser().resolve() if mapping else None,
        sp_api_endpoint=_url("SP_API_ENDPOINT"),
        lwa_endpoint=_url("SP_API_LWA_ENDPOINT"),
        marketplaces=marketplaces,
        rate_scale=rate_scale(),
        sqs_queue_url=_url("SQS_QUEUE_URL"),
        x3_url=_url("SAGE_X3_URL"),
        x3_user=get("SAGE_X3_USER"),
        x3_pool=get("SAGE_X3_POOL"),
        x3_folder=get("SAGE_X3_FOLDER"),
        x3_pool_size=_int("SAGE_X3_POOL_SIZE"),
        sage500_db_url=db_url,
        dagster_home=Path(home).expanduser().resolve() if home else data_dir / "dagster_home",
        call_timeout_seconds=call_timeout_seconds(),
        retry_budget_seconds=retry_budget_seconds(),
    )
