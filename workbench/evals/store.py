"""Results store: every run and every case, in SQLite (`.workbench/results.sqlite`).

Runs are keyed by prompt and by the blob (content hash) of the version that ran, so a result
recorded on a working copy still applies after the same content is committed.

Faults (the rules of `workbench.core.sqlite_files`):
- a run and its cases are written in one transaction: a killed process leaves whole runs only;
- a corrupt store (found at open or on any read or write) is moved aside as
  `results.sqlite.corrupt-<time>`, the runs and cases still readable are copied into a fresh
  store, and the run being recorded is stored there; a warning names both files;
- a store locked by another process is waited for (`busy_timeout`, 30 s), never moved aside; if
  the lock outlasts the wait, the run is kept in `.workbench/results.pending/` and added to the
  store by the next command that opens it (exactly once).

A read-only store (`read_only=True`, a read-only session) writes nothing: see
`sqlite_files.open_read_only`; a read that fails gives nothing and a warning, never a recovery.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from workbench.core.sqlite_files import file_id, is_busy, is_corrupt, move_aside, open_read_only, salvage
from workbench.core.state_folder import make_store_folder
from workbench.errors import EvalError
from workbench.evals.run_model import CaseResult, RunSummary, read_results, summarize
from workbench.evals.secrets import scrub, scrub_data

T = TypeVar("T")
BUSY_TIMEOUT_S = 30.0
PENDING_DIR = "results.pending"

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  prompt TEXT NOT NULL, revision TEXT, commit_sha TEXT, blob TEXT,
  provider TEXT NOT NULL, model TEXT, parameters TEXT NOT NULL,
  started REAL NOT NULL, finished REAL NOT NULL, cancelled INTEGER NOT NULL DEFAULT 0,
  total INTEGER NOT NULL, passed INTEGER NOT NULL, failed INTEGER NOT NULL, errors INTEGER NOT NULL,
  summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_prompt_blob ON runs (prompt, blob);
CREATE INDEX IF NOT EXISTS runs_prompt_commit ON runs (prompt, commit_sha);
CREATE TABLE IF NOT EXISTS cases (
  run_id INTEGER NOT NULL REFERENCES runs(id), case_id TEXT NOT NULL, repeat INTEGER NOT NULL,
  status TEXT NOT NULL, score REAL NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_run ON cases (run_id);
CREATE TABLE IF NOT EXISTS imported (name TEXT PRIMARY KEY);
"""


@dataclass(frozen=True)
class StoredRun:
    id: int
    prompt: str
    revision: str | None
    commit: str | None
    blob: str | None
    provider: str
    model: str | None
    started: float
    cancelled: bool
    summary: RunSummary

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prompt": self.prompt,
            "revision": self.revision,
            "commit": self.commit,
            "blob": self.blob,
            "provider": self.provider,
            "model": self.model,
            "started": self.started,
            "cancelled": self.cancelled,
            "summary": self.summary.to_dict(),
        }


class ResultsStore:
    def __init__(self, path: Path, *, busy_timeout: float = BUSY_TIMEOUT_S, read_only: bool = False) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        self.warnings: list[str] = []
        self._file: tuple[int, int] | None = None
        if read_only:
            try:
                self.db = open_read_only(path, lambda db: db.executescript(SCHEMA))
            except sqlite3.DatabaseError as err:
                raise self._error(err) from err
            return
        make_store_folder(path.parent)
        self.db = self._open()
        self._import_pending()

    # ------------------------------------------------------------------ faults
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.busy_timeout)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
            db.executescript(SCHEMA)
            db.execute("SELECT count(*) FROM runs").fetchone()
        except BaseException:
            db.close()
            raise
        self._file = file_id(self.path)
        return db

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as err:
            if is_corrupt(err):
                self._recover(err, None)
                return self._connect()
            if is_busy(err):
                self._warn_locked()
                return sqlite3.connect(self.path, timeout=self.busy_timeout)
            raise self._error(err) from err

    def _error(self, err: BaseException) -> EvalError:
        return EvalError(f"the results store {self.path} cannot be used: {err}", hint=f"check the disk space and the permissions of {self.path.parent}")

    def _warn_locked(self) -> None:
        text = f"the results store {self.path} is locked by another process (waited {self.busy_timeout:.0f} s)"
        if not any(w.startswith(text) for w in self.warnings):
            self.warnings.append(text)

    def _recover(self, err: BaseException, db: sqlite3.Connection | None) -> None:
        """Move the corrupt file aside, copy what is readable into a fresh store, warn."""
        if db is not None:
            db.close()
            if self._file is not None and file_id(self.path) != self._file:
                return  # another connection (A/B runs share a process) already replaced it: just reopen
        aside = move_aside(self.path)
        fresh = sqlite3.connect(self.path, timeout=self.busy_timeout)
        try:
            fresh.execute("PRAGMA journal_mode=WAL")
            fresh.executescript(SCHEMA)
            with fresh:
                salvage(aside, fresh, ["runs", "imported"])
                copied_runs = fresh.execute("SELECT count(*) FROM runs").fetchone()[0]
                salvage(aside, fresh, ["cases"])
                fresh.execute("DELETE FROM cases WHERE run_id NOT IN (SELECT id FROM runs)")
        finally:
            fresh.close()
        self.warnings.append(
            f"the results store {self.path} was corrupt ({err}); moved to {aside.name} and started a new one "
            f"with the {copied_runs} run(s) still readable"
        )

    def _use(self, operation: Callable[[], T], default: T) -> T:
        """A read: recover a corrupt store and try once more; a locked one gives `default` and a warning."""
        try:
            return operation()
        except sqlite3.DatabaseError as err:
            if self.read_only:  # never repaired from here: the next writer does that
                self.warnings.append(f"the results store {self.path} could not be read ({err})")
                return default
            if is_corrupt(err):
                self._recover(err, self.db)
                self.db = self._open()
                try:
                    return operation()
                except sqlite3.DatabaseError:
                    return default
            if is_busy(err):
                self._warn_locked()
                return default
            raise self._error(err) from err

    # ------------------------------------------------------------------ writing
    def record(
        self,
        *,
        prompt: str,
        revision: str | None,
        commit: str | None,
        blob: str | None,
        provider: str,
        model: str | None,
        parameters: dict[str, Any],
        results: Sequence[CaseResult],
        started: float,
        finished: float | None = None,
        cancelled: bool = False,
    ) -> int:
        """Store one run with its cases (one transaction); returns its id (0: kept aside, see the module docstring)."""
        if self.read_only:
            raise EvalError(f"the results store {self.path} was opened read-only", hint="this session writes nothing into the repository")
        # Whatever the run saw (error bodies, echoed headers, a URL with credentials) is
        # scrubbed before it is stored: the store outlives the run and is shared.
        provider, revision, model = scrub(provider), scrub(revision) if revision else revision, scrub(model) if model else model
        parameters = scrub_data(parameters)
        run = {
            "prompt": prompt, "revision": revision, "commit": commit, "blob": blob, "provider": provider, "model": model,
            "parameters": parameters, "results": list(results), "started": started, "finished": finished or time.time(), "cancelled": cancelled,
        }
        try:
            return self._insert(run)
        except sqlite3.DatabaseError as err:
            if is_corrupt(err):
                self._recover(err, self.db)
                self.db = self._open()
                try:
                    return self._insert(run)
                except sqlite3.DatabaseError as again:
                    err = again
            if not is_busy(err) and not is_corrupt(err):
                self.warnings.append(f"the results store {self.path} cannot be written ({err})")
            else:
                self._warn_locked()
            where = self._keep_pending(run)
            self.warnings[-1] += f"; this run is kept in {where} and will be added to the store next time"
            return 0

    def _insert(self, run: dict[str, Any], *, imported: str | None = None) -> int:
        results: list[CaseResult] = run["results"]
        summary = summarize(results)
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO runs (prompt, revision, commit_sha, blob, provider, model, parameters, started, finished, cancelled,"
                " total, passed, failed, errors, summary) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run["prompt"], run["revision"], run["commit"], run["blob"], run["provider"], run["model"],
                    json.dumps(run["parameters"], sort_keys=True, default=str), run["started"], run["finished"], int(run["cancelled"]),
                    summary.total, summary.passed, summary.failed, summary.errors, json.dumps(summary.to_dict()),
                ),
            )
            run_id = int(cursor.lastrowid or 0)
            self.db.executemany(
                "INSERT INTO cases VALUES (?,?,?,?,?,?)",
                [(run_id, r.case_id, r.repeat, r.status, r.score, json.dumps(scrub_data(r.to_dict()), default=str)) for r in results],
            )
            if imported is not None:
                self.db.execute("INSERT INTO imported VALUES (?)", (imported,))
        return run_id

    def _keep_pending(self, run: dict[str, Any]) -> Path:
        folder = self.path.parent / PENDING_DIR
        make_store_folder(folder)
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:12]}.json"
        data = {**run, "results": [r.to_dict() for r in run["results"]]}
        temporary = folder / f".{name}.tmp"
        temporary.write_text(json.dumps(data, default=str), encoding="utf-8")
        os.replace(temporary, folder / name)
        return folder / name

    def _import_pending(self) -> None:
        """Runs kept aside while the store was locked: add each one once, then delete its file."""
        folder = self.path.parent / PENDING_DIR
        if not folder.is_dir():
            return
        for item in sorted(folder.glob("*.json")):
            try:
                done = self.db.execute("SELECT 1 FROM imported WHERE name = ?", (item.name,)).fetchone() is not None
                if not done:
                    data = json.loads(item.read_text(encoding="utf-8"))
                    data["results"] = read_results(data["results"])
                    self._insert(data, imported=item.name)
            except sqlite3.DatabaseError:
                return  # still locked (or worse): the next command tries again
            except (OSError, ValueError, KeyError, TypeError) as err:
                self.warnings.append(f"could not add the kept run {item} to the results store ({err}); it stays there")
                continue
            item.unlink(missing_ok=True)

    def _run(self, row: tuple[Any, ...]) -> StoredRun:
        data = json.loads(row[9])
        summary = RunSummary(
            total=data["total"], passed=data["passed"], failed=data["failed"], errors=data["errors"],
            pass_rate=data["pass_rate"], interval=(data["interval95"][0], data["interval95"][1]),
            latency_p50=data["latency_p50_ms"], latency_p95=data["latency_p95_ms"], tokens=data["tokens"], cost=data["cost"],
        )
        return StoredRun(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], bool(row[8]), summary)

    _COLUMNS = "id, prompt, revision, commit_sha, blob, provider, model, started, cancelled, summary"

    def latest(self, prompt: str, *, blob: str | None = None, commit: str | None = None, complete: bool = True) -> StoredRun | None:
        """The newest run of `prompt` for that content (blob) or commit."""
        clauses, args = ["prompt = ?"], [prompt]
        if blob is not None and commit is not None:
            clauses.append("(blob = ? OR commit_sha = ?)")
            args += [blob, commit]
        elif blob is not None:
            clauses.append("blob = ?")
            args.append(blob)
        elif commit is not None:
            clauses.append("commit_sha = ?")
            args.append(commit)
        if complete:
            clauses.append("cancelled = 0")
        row = self._use(
            lambda: self.db.execute(f"SELECT {self._COLUMNS} FROM runs WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT 1", args).fetchone(),
            None,
        )
        return self._run(row) if row else None

    def runs(self, prompt: str | None = None, limit: int = 50) -> list[StoredRun]:
        def read() -> list[Any]:
            if prompt is None:
                return self.db.execute(f"SELECT {self._COLUMNS} FROM runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
            return self.db.execute(f"SELECT {self._COLUMNS} FROM runs WHERE prompt = ? ORDER BY id DESC LIMIT ?", (prompt, limit)).fetchall()

        empty: list[Any] = []
        return [self._run(r) for r in self._use(read, empty)]

    def cases(self, run_id: int) -> list[CaseResult]:
        empty: list[Any] = []
        rows = self._use(lambda: self.db.execute("SELECT data FROM cases WHERE run_id = ? ORDER BY rowid", (run_id,)).fetchall(), empty)
        return read_results([json.loads(r[0]) for r in rows])

    def failed_cases(self, prompt: str) -> set[tuple[str, int]] | None:
        """The cases (case id, occurrence) that failed or errored in the newest run of `prompt`
        (None: never ran): of two tests described alike, the one that failed, not both."""

        def read() -> list[Any] | None:
            row = self.db.execute("SELECT id FROM runs WHERE prompt = ? ORDER BY id DESC LIMIT 1", (prompt,)).fetchone()
            if row is None:
                return None
            return self.db.execute("SELECT data FROM cases WHERE run_id = ? ORDER BY rowid", (row[0],)).fetchall()

        rows = self._use(read, None)
        if rows is None:
            return None
        return {(r.case_id, r.occurrence) for r in read_results([json.loads(row[0]) for row in rows]) if r.passed is not True}

    def close(self) -> None:
        self.db.close()
