"""Small wire helpers: ISO timestamps, money as exact JSON, opaque paging tokens, ErrorList bodies."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")
_DEC_MARK = "\u0000D:"
_DEC_RE = re.compile(r'"\\u0000D:(-?[0-9.]+)"')


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """Amazon's ISO 8601 form: 2026-11-22T16:10:00Z (no fractions)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 timestamp as SP-API clients send it; naive values are UTC."""
    text = value.strip().replace(" ", "+") if "T" in value else value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def money(value: Decimal | str | int) -> Decimal:
    return Decimal(value).quantize(CENT)


def money_str(value: Decimal) -> str:
    return str(money(value))


def raw_number(value: Decimal) -> str:
    """Mark a Decimal to be written as a JSON number with its exact digits (see dumps)."""
    return _DEC_MARK + str(money(value))


def dumps(obj: Any) -> str:
    """JSON with Decimal written as exact numbers (never through float)."""
    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            return raw_number(o)
        if isinstance(o, datetime):
            return iso(o)
        raise TypeError(type(o).__name__)

    text = json.dumps(obj, default=default, separators=(",", ":"))
    return _DEC_RE.sub(r"\1", text) if "\\u0000D:" in text else text


def encode_token(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, sort_keys=True).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any] | None:
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def error_body(code: str, message: str, details: str | None = "") -> dict[str, Any]:
    """An ErrorList; details=None leaves the key out (the gateway's MissingAuthenticationToken has none)."""
    error = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"errors": [error]}


class ApiError(Exception):
    """Raised by handlers; rendered as an ErrorList with this status."""

    def __init__(self, status: int, code: str, message: str, details: str | None = "",
                 error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        # x-amzn-ErrorType, as Amazon's API gateway sends it on a 403
        self.error_type = error_type or ("AccessDeniedException" if status == 403 else None)


def bad_request(message: str, code: str = "InvalidInput") -> ApiError:
    return ApiError(400, code, message)


def not_found(message: str = "Resource not found.") -> ApiError:
    return ApiError(404, "NotFound", message)


def csv_param(value: str | None) -> list[str]:
    if not value:
        return []
    return [v.strip() for v in value.split(",") if v.strip()]
