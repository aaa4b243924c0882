"""Issue 20.6: where secrets and buyer PII must never be. `find_leaks` reads everything the product wrote under
its data dir (Dagster's run and event storage and compute logs under DAGSTER_HOME, asset metadata, the DuckDB
warehouse and its snapshot, raw files) and the commands' output, and reports each secret or buyer detail found.

The sandboxes' own state (`<data dir>/sandbox/`: Amazon's orders, Sage's tables) is where PII and the X3 password
legitimately live; it is the source of the buyer details looked for, never scanned."""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from sage_amazon.sandbox.amazon.seller import FIRST, LAST, STREETS

SECRET_VARIABLES = ("LWA_CLIENT_SECRET", "SAGE_X3_PASSWORD", "SP_API_REFRESH_TOKEN")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"\+\d[\d ]{6,}\d")
_STREETS = "|".join(re.escape(s) for streets in STREETS.values() for s in streets)
NAME = re.compile(r"\b(?:" + "|".join(FIRST) + ") (?:" + "|".join(LAST) + r")\b")
STREET = re.compile(r"\b\d{1,3} (?:" + _STREETS + r")\b")


@dataclass(frozen=True)
class Buyers:
    """The buyer details of the sandbox seller's orders, read from the Amazon sandbox's own store."""

    names: frozenset[str]
    emails: frozenset[str]
    phones: frozenset[str]
    streets: frozenset[str]
    orders: int


def sandbox_buyers(data_dir: Path) -> Buyers:
    names, emails, phones, streets, count = set(), set(), set(), set(), 0
    for state in (data_dir / "sandbox").rglob("state.sqlite"):
        con = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
        try:
            for (data,) in con.execute("SELECT data FROM docs WHERE kind = 'orders'"):
                order = json.loads(data)
                address = order.get("address") or {}
                count += 1
                emails.add(order["buyer_email"])
                names.add(address["Name"])
                phones.add(address["Phone"])
                streets.add(address["AddressLine1"])
        finally:
            con.close()
    return Buyers(frozenset(names), frozenset(emails), frozenset(phones), frozenset(streets), count)


def secrets(env: dict[str, str]) -> dict[str, str]:
    """variable -> value of every secret the product was given (regional refresh tokens included)."""
    found = {}
    for name, value in env.items():
        if value and len(value) >= 8 and any(name.startswith(v) for v in SECRET_VARIABLES):
            found[name] = value
    return found


def _find(text: str, secret_values: dict[str, str], buyers: Buyers) -> set[str]:
    hits = {f"secret {name}" for name, value in secret_values.items() if value in text}
    hits |= {f"buyer e-mail {m}" for m in EMAIL.findall(text) if m in buyers.emails}
    digits = {re.sub(r"\D", "", p) for p in buyers.phones}
    hits |= {f"buyer phone {m}" for m in PHONE.findall(text) if m in buyers.phones}
    hits |= {f"buyer phone {m}" for m in re.findall(r"\d{9,}", text) if m in digits}
    hits |= {f"buyer name {m}" for m in NAME.findall(text) if m in buyers.names}
    hits |= {f"buyer street {m}" for m in STREET.findall(text) if m in buyers.streets}
    return hits


def _sqlite_texts(path: Path) -> Iterator[tuple[str, str]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    if isinstance(value, str):
                        yield f"{path}:{table}", value
    finally:
        con.close()


def _duckdb_texts(path: Path) -> Iterator[tuple[str, str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type NOT IN ('BOOLEAN', 'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'DOUBLE', "
            "'FLOAT', 'DATE', 'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE', 'TIME', 'INTERVAL', 'UUID') "
            "AND data_type NOT LIKE 'DECIMAL%'"
        ).fetchall()
        for schema, table, column in columns:
            rows = con.execute(
                f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM "{schema}"."{table}" WHERE "{column}" IS NOT NULL'
            ).fetchall()
            if rows:
                yield f"{path}:{schema}.{table}.{column}", "\n".join(value for (value,) in rows)
    finally:
        con.close()


def _texts(data_dir: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(data_dir.rglob("*")):
        if not path.is_file() or path.is_relative_to(data_dir / "sandbox"):
            continue
        head = path.open("rb").read(64)
        raw = path.read_bytes()
        if head.startswith(b"SQLite format 3"):
            yield from _sqlite_texts(path)
        elif head[8:12] == b"DUCK":
            yield from _duckdb_texts(path)
        elif head.startswith(b"\x1f\x8b"):
            raw = gzip.decompress(raw)
        # every file's bytes too (WAL files, logs, raw reports; databases' uncompressed pages)
        yield str(path), raw.decode("utf-8", "replace")


def find_leaks(data_dir: Path, outputs: list[str], env: dict[str, str], buyers: Buyers) -> dict[str, set[str]]:
    """where -> what was found there; empty when nothing leaked."""
    secret_values = secrets(env)
    leaks: dict[str, set[str]] = {}
    for where, text in [*(("command output", out) for out in outputs), *_texts(data_dir)]:
        hits = _find(text, secret_values, buyers)
        if hits:
            leaks.setdefault(where, set()).update(hits)
    return leaks


def scanned_files(data_dir: Path) -> list[Path]:
    return [p for p in data_dir.rglob("*") if p.is_file() and not p.is_relative_to(data_dir / "sandbox")]
