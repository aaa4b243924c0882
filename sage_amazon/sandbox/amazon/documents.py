"""Report and feed documents: gzip files under the data dir, served at presigned-style URLs that need
no authentication and expire after 5 minutes (as Amazon's S3 URLs do)."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import secrets
import uuid
from pathlib import Path
from typing import Any

from sage_amazon.sandbox.amazon.wire import utcnow

URL_TTL_SECONDS = 300


def document_path(world: Any, doc_id: str) -> Path:
    folder = world.data_dir / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / (hashlib.sha1(doc_id.encode()).hexdigest() + ".bin")


def new_document_id(region: str = "na") -> str:
    return f"amzn1.spdoc.1.4.{region}.{uuid.uuid4()}.T{secrets.randbelow(10**13):013d}.{secrets.randbelow(10**4)}"


def store_document(world: Any, doc_id: str, text: str, kind: str, gzip_it: bool = True) -> None:
    data = text.encode("utf-8")
    document_path(world, doc_id).write_bytes(gzip.compress(data, mtime=0) if gzip_it else data)
    world.put("documents", doc_id, {"kind": kind, "gzip": gzip_it, "content_type": "text/plain; charset=UTF-8"})


def _secret(world: Any) -> bytes:
    meta = world.meta
    if "url_secret" not in meta:
        meta["url_secret"] = secrets.token_hex(16)
        world.save("meta", "world")
    return meta["url_secret"].encode()


def _sign(world: Any, doc_id: str, action: str, issued: int) -> str:
    return hmac.new(_secret(world), f"{action}|{doc_id}|{issued}".encode(), hashlib.sha256).hexdigest()


def presigned_url(world: Any, base_url: str, doc_id: str, action: str = "GET") -> str:
    from urllib.parse import quote

    issued = int(utcnow().timestamp())
    sig = _sign(world, doc_id, action, issued)
    path = "_documents" if action == "GET" else "_uploads"
    return (f"{base_url}/{path}/{quote(doc_id, safe='')}?X-Amz-Date={issued}&X-Amz-Expires={URL_TTL_SECONDS}"
            f"&X-Amz-Signature={sig}")


def check_url(world: Any, doc_id: str, action: str, issued: str, signature: str) -> str | None:
    """None when the URL is valid, else the S3-style error code."""
    try:
        issued_at = int(issued)
    except (TypeError, ValueError):
        return "AccessDenied"
    if not hmac.compare_digest(_sign(world, doc_id, action, issued_at), signature or ""):
        return "SignatureDoesNotMatch"
    if utcnow().timestamp() > issued_at + URL_TTL_SECONDS:
        return "AccessDenied"
    return None


def s3_error(code: str, message: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>")
