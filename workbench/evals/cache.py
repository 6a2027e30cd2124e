"""Content-addressed response cache in SQLite (`.workbench/cache.sqlite`).

The key is a hash of everything that decides a response: provider id, model, parameters,
endpoint, the rendered messages and the repeat index. Errors are never cached. A corrupt
or locked file is reported once, moved aside and rebuilt; the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from workbench.evals.providers import Completion

SCHEMA = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)"


def cache_key(provider_id: str, parameters: dict[str, Any], request: dict[str, Any], repeat: int) -> str:
    payload = json.dumps({"p": provider_id, "params": parameters, "req": request, "r": repeat}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_FLUSH_EVERY = 64  # answers per write transaction
_FLUSH_AFTER_S = 1.0  # ... or this long after the last one, whichever comes first
_KEYS_PER_QUERY = 500  # below SQLite's limit on bound parameters


class ResponseCache:
    """Read in bulk (`get_many`: one query per suite); written in batches (`put`, `flush`)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.warnings: list[str] = []
        self.hits = 0
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pending: list[tuple[str, str, float]] = []
        self._flushed_at = time.monotonic()
        if path is not None:
            self._db = self._open(path)

    def _open(self, path: Path) -> sqlite3.Connection | None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(path, check_same_thread=False, timeout=2.0)
            db.execute(SCHEMA)
            db.execute("SELECT count(*) FROM responses LIMIT 1").fetchone()
            return db
        except sqlite3.DatabaseError as err:
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            try:
                path.replace(aside)
            except OSError:
                self.warnings.append(f"cache {path} is unusable ({err}) and could not be moved; running without a cache")
                return None
            self.warnings.append(f"cache {path} was unreadable ({err}); moved to {aside.name} and rebuilt")
            try:
                db = sqlite3.connect(path, check_same_thread=False, timeout=2.0)
                db.execute(SCHEMA)
                return db
            except sqlite3.DatabaseError as again:
                self.warnings.append(f"cache could not be rebuilt ({again}); running without a cache")
                return None

    def get(self, key: str) -> Completion | None:
        if self._db is None:
            return None
        try:
            with self._lock:
                row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as err:
            self._disable(err)
            return None
        if row is None:
            return None
        self.hits += 1
        return _completion(row[0])

    def get_many(self, keys: list[str]) -> dict[str, Completion]:
        """The cached answers among `keys`, read in one query (per 500 keys)."""
        found: dict[str, Completion] = {}
        if self._db is None or not keys:
            return found
        unique = list(dict.fromkeys(keys))
        try:
            with self._lock:
                rows = []
                for start in range(0, len(unique), _KEYS_PER_QUERY):
                    chunk = unique[start : start + _KEYS_PER_QUERY]
                    marks = ",".join("?" * len(chunk))
                    rows += self._db.execute(f"SELECT key, value FROM responses WHERE key IN ({marks})", chunk).fetchall()
        except sqlite3.DatabaseError as err:
            self._disable(err)
            return found
        for key, value in rows:
            found[key] = _completion(value)
        self.hits += len(found)
        return found

    def put(self, key: str, completion: Completion) -> None:
        """Queue an answer; it is written with the next batch (`flush`, at the latest on close)."""
        if self._db is None:
            return
        value = json.dumps(
            {
                "text": completion.text,
                "input_tokens": completion.input_tokens,
                "output_tokens": completion.output_tokens,
                "latency_ms": completion.latency_ms,
                "cost": completion.cost,
            }
        )
        with self._lock:
            self._pending.append((key, value, time.time()))
            due = len(self._pending) >= _FLUSH_EVERY or time.monotonic() - self._flushed_at >= _FLUSH_AFTER_S
        if due:
            self.flush()

    def flush(self) -> None:
        """Write the queued answers in one transaction."""
        with self._lock:
            pending, self._pending = self._pending, []
            self._flushed_at = time.monotonic()
            if self._db is None or not pending:
                return
            try:
                self._db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?)", pending)
                self._db.commit()
            except sqlite3.DatabaseError as err:
                self._disable(err)

    def _disable(self, err: Exception) -> None:
        self.warnings.append(f"cache error ({err}); continuing without the cache")
        self._db = None

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None


def _completion(value: str) -> Completion:
    data = json.loads(value)
    return Completion(data["text"], data.get("input_tokens"), data.get("output_tokens"), data.get("latency_ms", 0.0), data.get("cost"), cached=True)
