"""Results store: every run and every case, in SQLite (`.workbench/results.sqlite`).

Runs are keyed by prompt and by the blob (content hash) of the version that ran, so a result
recorded on a working copy still applies after the same content is committed.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.evals.runner import CaseResult, RunSummary, summarize
from workbench.evals.secrets import scrub, scrub_data

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
    def __init__(self, path: Path) -> None:
        self.path = path
        self.warnings: list[str] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = self._connect()
        except sqlite3.DatabaseError as err:
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            path.replace(aside)
            self.warnings.append(f"results store {path} was unreadable ({err}); moved to {aside.name}, starting a new one")
            self.db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=5.0)
        db.executescript(SCHEMA)
        db.execute("SELECT count(*) FROM runs").fetchone()
        return db

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
        summary = summarize(results)
        # Whatever the run saw (error bodies, echoed headers, a URL with credentials) is
        # scrubbed before it is stored: the store outlives the run and is shared.
        provider, revision, model = scrub(provider), scrub(revision) if revision else revision, scrub(model) if model else model
        parameters = scrub_data(parameters)
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO runs (prompt, revision, commit_sha, blob, provider, model, parameters, started, finished, cancelled,"
                " total, passed, failed, errors, summary) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    prompt, revision, commit, blob, provider, model, json.dumps(parameters, sort_keys=True, default=str),
                    started, finished or time.time(), int(cancelled), summary.total, summary.passed, summary.failed,
                    summary.errors, json.dumps(summary.to_dict()),
                ),
            )
            run_id = int(cursor.lastrowid or 0)
            self.db.executemany(
                "INSERT INTO cases VALUES (?,?,?,?,?,?)",
                [(run_id, r.case_id, r.repeat, r.status, r.score, json.dumps(scrub_data(r.to_dict()), default=str)) for r in results],
            )
        return run_id

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
        row = self.db.execute(f"SELECT {self._COLUMNS} FROM runs WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT 1", args).fetchone()
        return self._run(row) if row else None

    def runs(self, prompt: str | None = None, limit: int = 50) -> list[StoredRun]:
        if prompt is None:
            rows = self.db.execute(f"SELECT {self._COLUMNS} FROM runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        else:
            rows = self.db.execute(f"SELECT {self._COLUMNS} FROM runs WHERE prompt = ? ORDER BY id DESC LIMIT ?", (prompt, limit)).fetchall()
        return [self._run(r) for r in rows]

    def cases(self, run_id: int) -> list[CaseResult]:
        rows = self.db.execute("SELECT data FROM cases WHERE run_id = ? ORDER BY rowid", (run_id,)).fetchall()
        return [CaseResult.from_dict(json.loads(r[0])) for r in rows]

    def failed_case_ids(self, prompt: str) -> set[str] | None:
        """Cases that failed or errored in the newest run of `prompt` (None: never ran)."""
        row = self.db.execute("SELECT id FROM runs WHERE prompt = ? ORDER BY id DESC LIMIT 1", (prompt,)).fetchone()
        if row is None:
            return None
        return {r[0] for r in self.db.execute("SELECT case_id FROM cases WHERE run_id = ? AND status != 'pass'", (row[0],))}

    def close(self) -> None:
        self.db.close()
