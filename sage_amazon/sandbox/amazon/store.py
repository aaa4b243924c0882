"""Durable sandbox state: one SQLite file of JSON documents, grouped by kind.

Every mutation is written through, so a restarted sandbox serves the same seller, tokens, reports
and subscriptions. Documents are small; the whole state is loaded into memory at start.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS docs (kind TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,"
            " data TEXT NOT NULL, PRIMARY KEY (kind, id))"
        )
        self._seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM docs").fetchone()[0]

    def put(self, kind: str, doc_id: str, data: Any) -> None:
        self.put_many(kind, [(doc_id, data)])

    def put_many(self, kind: str, items: Iterable[tuple[str, Any]]) -> None:
        with self._lock:
            rows = []
            for doc_id, data in items:
                self._seq += 1
                rows.append((kind, doc_id, self._seq, json.dumps(data, separators=(",", ":"))))
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT INTO docs (kind, id, seq, data) VALUES (?, ?, ?, ?) ON CONFLICT (kind, id)"
                    " DO UPDATE SET data = excluded.data", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def get(self, kind: str, doc_id: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM docs WHERE kind = ? AND id = ?", (kind, doc_id)).fetchone()
        return json.loads(row[0]) if row else None

    def delete(self, kind: str, doc_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, doc_id))

    def all(self, kind: str) -> Iterator[tuple[str, Any]]:
        """Documents of a kind in insertion order (seq of first write)."""
        with self._lock:
            rows = self._db.execute("SELECT id, data FROM docs WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
        for doc_id, data in rows:
            yield doc_id, json.loads(data)

    def close(self) -> None:
        with self._lock:
            self._db.close()
