"""Content-addressed response cache in SQLite (`.workbench/cache.sqlite`).

The key is a hash of everything that decides a response: provider id, model, parameters,
endpoint, the rendered messages and the repeat index, and what else the provider says decides
its answer (`cache_scope`: the local model's weights, runtime, caps and request shaping).
Errors are never cached.

Faults never stop a run (rules of `workbench.core.sqlite_files`): a corrupt file (found at
open or on any read or write) is moved aside as `cache.sqlite.corrupt-<time>` with a warning
and rebuilt empty; a file locked by another process is waited for briefly and then skipped
(a miss, or an answer not cached), never moved aside; anything else turns the cache off for
the run with a warning naming the file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from workbench.core.sqlite_files import file_id, is_busy, is_corrupt, move_aside
from workbench.core.state_folder import make_store_folder
from workbench.evals.providers import Completion

SCHEMA = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)"
BUSY_TIMEOUT_S = 5.0  # a cache is worth a short wait, not a stalled run


def cache_key(provider_id: str, parameters: dict[str, Any], request: dict[str, Any], repeat: int, scope: Any = None) -> str:
    """`scope`: what else decides the provider's answer (`Provider.cache_scope`), when it says."""
    key = {"p": provider_id, "params": parameters, "req": request, "r": repeat, **({"scope": scope} if scope is not None else {})}
    payload = json.dumps(key, sort_keys=True, ensure_ascii=False, default=str)
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
        self.skipped = 0  # reads and writes skipped because another process held the lock
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._file: tuple[int, int] | None = None
        self._pending: list[tuple[str, str, float]] = []
        self._flushed_at = time.monotonic()
        if path is not None:
            self._db = self._open(path)

    def _connect(self, path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA)
            db.execute("SELECT count(*) FROM responses LIMIT 1").fetchone()
        except BaseException:
            db.close()
            raise
        self._file = file_id(path)
        return db

    def _open(self, path: Path) -> sqlite3.Connection | None:
        make_store_folder(path.parent)
        try:
            return self._connect(path)
        except sqlite3.DatabaseError as err:
            if is_busy(err):
                self._warn_once(f"the cache {path} is locked by another process; this run does not use it")
                return None
            if is_corrupt(err):
                return self._rebuild(path, err)
            self._warn_once(f"the cache {path} cannot be used ({err}); running without a cache")
            return None

    def _rebuild(self, path: Path, err: BaseException) -> sqlite3.Connection | None:
        if self._db is not None:
            self._db.close()
            self._db = None
        try:
            aside = move_aside(path)
        except OSError:
            self._warn_once(f"the cache {path} is corrupt ({err}) and could not be moved; running without a cache")
            return None
        self.warnings.append(f"the cache {path} was corrupt ({err}); moved to {aside.name} and started a new one")
        try:
            return self._connect(path)
        except sqlite3.DatabaseError as again:
            self._warn_once(f"the cache {path} could not be rebuilt ({again}); running without a cache")
            return None

    def _warn_once(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def _fault(self, err: sqlite3.DatabaseError) -> None:
        """A read or write failed: a lock is skipped, corruption rebuilds, anything else turns the cache off."""
        if is_busy(err):
            self.skipped += 1
        elif is_corrupt(err) and self.path is not None:
            if self._file is not None and file_id(self.path) != self._file:  # already rebuilt by another connection
                if self._db is not None:
                    self._db.close()
                self._db = self._open(self.path)
            else:
                self._db = self._rebuild(self.path, err)
        else:
            self._disable(err)

    def _queued(self, key: str) -> str | None:
        """An answer put but not written yet (reads see their own writes)."""
        with self._lock:
            return next((value for queued, value, _ in reversed(self._pending) if queued == key), None)

    def get(self, key: str) -> Completion | None:
        queued = self._queued(key)
        if queued is not None:
            self.hits += 1
            return _completion(queued)
        if self._db is None:
            return None
        try:
            with self._lock:
                row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as err:
            self._fault(err)
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
            self._fault(err)
            return found
        for key, value in rows:
            found[key] = _completion(value)
        for key in unique:
            queued = self._queued(key)
            if queued is not None:
                found[key] = _completion(queued)
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
                "logprobs": list(completion.logprobs) if completion.logprobs is not None else None,
                "structured": completion.structured,
                "finish_reason": completion.finish_reason,
                "max_tokens": completion.max_tokens,
                "cap": completion.cap,
            },
            default=str,
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
                if self._db is not None and self._db.in_transaction:
                    self._db.rollback()
                self._fault(err)

    def _disable(self, err: Exception) -> None:
        self._warn_once(f"cache error in {self.path} ({err}); continuing without the cache")
        if self._db is not None:
            self._db.close()
        self._db = None

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None


def _completion(value: str) -> Completion:
    data = json.loads(value)
    logprobs = data.get("logprobs")
    return Completion(
        data["text"], data.get("input_tokens"), data.get("output_tokens"), data.get("latency_ms", 0.0), data.get("cost"),
        cached=True, logprobs=tuple(logprobs) if logprobs is not None else None, structured=data.get("structured"),
        finish_reason=data.get("finish_reason"), max_tokens=data.get("max_tokens"), cap=data.get("cap"),
    )
