"""The local store of production events (`.workbench/monitor.sqlite`) and ingest into it.

Ingest reads JSONL event logs (what `record()` writes) and OTLP JSON trace exports.

- **Bad lines** (not JSON, torn, too deeply nested, a field of the wrong type or out of range,
  an OTLP attribute without a key) are reported as `file:line: reason` and skipped; every
  other line is kept. Field rules: `call_id` and `name` non-empty strings; `ts` a number of
  unix seconds; `version`, `commit`, `env`, `arm` strings or null; `latency_ms` a number >= 0;
  `input_tokens`, `output_tokens` whole numbers >= 0; `cost`, `score` finite numbers; `error`
  any value (a non-string is kept as its JSON text; null, "" and false mean no error);
  `feedback` a string, number or boolean.
- **One transaction per batch** of lines (100,000): the events, their hourly rollup, the feedback
  they carry and the store's "rolled up to" mark commit together, so a `kill -9` at any point
  leaves every batch either fully counted or absent (re-ingest adds the rest). A helper thread
  rolls a batch up and commits it while the next one is parsed (`ingest_batches`).
- **Idempotent**: events are keyed by call id; re-ingesting adds nothing twice.
- **Feedback** (`record_feedback`) is counted on the call it names, whether it arrives before,
  with or after that call; a score given with feedback replaces the call's score.
- **A corrupt store** is moved aside (`monitor.sqlite.corrupt-<time>`), every readable event is
  copied into a fresh one, and a warning names both files; a locked one is waited for.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from workbench.core.sqlite_files import (
    empty_in_memory,
    is_busy,
    is_corrupt,
    move_aside,
    open_read_only,
    salvage,
)
from workbench.core.state_folder import make_store_folder
from workbench.errors import MonitorError
from workbench.monitor.event_lines import UNKNOWN_VERSION, IngestReport
from workbench.monitor.ingest_batches import BATCH, ROWS_PER_INSERT, WIDTH, Batch, Idents, file_batches

__all__ = ["BATCH", "UNKNOWN_VERSION", "IngestReport", "MonitorStore"]

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS idents (
  id INTEGER PRIMARY KEY, prompt TEXT NOT NULL, version TEXT NOT NULL, commit_sha TEXT NOT NULL, env TEXT NOT NULL, arm TEXT NOT NULL,
  UNIQUE (prompt, version, commit_sha, env, arm)
);
CREATE TABLE IF NOT EXISTS events (
  call_id TEXT PRIMARY KEY, ts REAL NOT NULL, ident INTEGER NOT NULL, latency_ms REAL, input_tokens INTEGER, output_tokens INTEGER,
  cost REAL, error TEXT, score REAL, feedback TEXT
);
CREATE INDEX IF NOT EXISTS events_latency ON events (ident, latency_ms);
CREATE TABLE IF NOT EXISTS rollup (
  prompt TEXT NOT NULL, env TEXT NOT NULL, version TEXT NOT NULL, arm TEXT NOT NULL, hour INTEGER NOT NULL,
  calls INTEGER, errors INTEGER, lat_sum REAL, lat_sq REAL, lat_n INTEGER, tokens INTEGER, cost REAL,
  score_sum REAL, score_sq REAL, score_n INTEGER, feedback INTEGER, first_ts REAL, last_ts REAL,
  PRIMARY KEY (prompt, env, version, arm, hour)
);
CREATE TABLE IF NOT EXISTS feedback (call_id TEXT PRIMARY KEY, ts REAL, feedback TEXT, score REAL);
"""

LATENCY_INDEX = "CREATE INDEX IF NOT EXISTS events_latency ON events (ident, latency_ms)"
BULK_EVENTS = 200_000  # rebuilding the latency index once beats updating it per row above this many new events
BYTES_PER_EVENT = 250  # a typical JSONL event, to estimate how many events a file holds
BUSY_TIMEOUT_S = 60.0  # another ingest may hold the write lock for a whole batch

_ROLLUP_UPSERT = """ON CONFLICT (prompt, env, version, arm, hour) DO UPDATE SET
  calls = calls + excluded.calls, errors = errors + excluded.errors,
  lat_sum = coalesce(lat_sum, 0) + coalesce(excluded.lat_sum, 0), lat_sq = coalesce(lat_sq, 0) + coalesce(excluded.lat_sq, 0),
  lat_n = lat_n + excluded.lat_n, tokens = tokens + excluded.tokens, cost = cost + excluded.cost,
  score_sum = coalesce(score_sum, 0) + coalesce(excluded.score_sum, 0), score_sq = coalesce(score_sq, 0) + coalesce(excluded.score_sq, 0),
  score_n = score_n + excluded.score_n, feedback = feedback + excluded.feedback,
  first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts)"""

_ROLLUP_NEW = f"""INSERT INTO rollup
  SELECT i.prompt, i.env, i.version, i.arm, a.hour, a.calls, a.errors, a.lat_sum, a.lat_sq, a.lat_n, a.tokens, a.cost,
         a.score_sum, a.score_sq, a.score_n, a.feedback, a.first_ts, a.last_ts
  FROM (SELECT ident, cast(ts / 3600 AS INTEGER) AS hour,
               count(*) AS calls, count(error) AS errors, sum(latency_ms) AS lat_sum, sum(latency_ms * latency_ms) AS lat_sq,
               count(latency_ms) AS lat_n, sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)) AS tokens,
               sum(coalesce(cost, 0)) AS cost, sum(score) AS score_sum, sum(score * score) AS score_sq, count(score) AS score_n,
               count(feedback) AS feedback, min(ts) AS first_ts, max(ts) AS last_ts
        FROM events WHERE rowid > ? GROUP BY 1, 2) a
  JOIN idents i ON i.id = a.ident WHERE true
  {_ROLLUP_UPSERT}"""

T = TypeVar("T")


class MonitorStore:
    def __init__(self, path: Path, *, busy_timeout: float = BUSY_TIMEOUT_S, read_only: bool = False) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        self.warnings: list[str] = []
        if read_only:
            self.db = self._open_read_only()
            return
        make_store_folder(path.parent)
        self.db = self.guard(self._open, reopen=False)

    def _open_read_only(self) -> sqlite3.Connection:
        """The store as it is, writing nothing (`open_read_only`). What the next `workbench monitor
        ingest` fixes reads as a warning: events not yet counted; or, as an empty store, an older
        layout, a store that cannot be read as it is on disk (damaged, or being created by an
        ingest still running: its tables are in the `-wal` an immutable store does not read)."""
        db = None
        try:
            db = open_read_only(self.path, _create_schema)
            if "prompt" in {row[1] for row in db.execute("PRAGMA table_info(events)")}:
                problem = "has an older layout: run `workbench monitor ingest` to upgrade it"
            else:
                row = db.execute("SELECT value FROM meta WHERE key = 'rolled_rowid'").fetchone()
                top = db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
                if row is None or int(row[0]) < top:
                    self.warnings.append(f"the monitor store {self.path} has events not yet counted: run `workbench monitor ingest`")
                return db
        except sqlite3.DatabaseError as err:
            problem = f"could not be read ({err}): an ingest still running, or a damaged store that `workbench monitor ingest` repairs"
        except BaseException:
            if db is not None:
                db.close()
            raise
        if db is not None:
            db.close()
        self.warnings.append(f"the monitor store {self.path} {problem}")
        return empty_in_memory(_create_schema)

    # ------------------------------------------------------------------ opening, faults
    def _open(self) -> sqlite3.Connection:
        # check_same_thread=False: ingest commits a batch in a helper thread while it parses the next;
        # the two never use the connection at once (SQLite serialises calls anyway)
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process never corrupts the store
            columns = {row[1] for row in db.execute("PRAGMA table_info(events)")}
            if "prompt" in columns:
                self._migrate_v1(db)
            _create_schema(db)
            self._roll_up_gap(db)
        except BaseException:
            db.close()
            raise
        return db

    def guard(self, operation: Callable[[], T], *, reopen: bool = True) -> T:
        """Run `operation`; if the store turns out to be corrupt, recover it once and run it again."""
        try:
            return operation()
        except sqlite3.DatabaseError as err:
            if is_corrupt(err) and not self.read_only:  # read-only: never repaired from here
                self._recover(err, reopen=reopen)
                return operation()
            if is_busy(err):
                raise MonitorError(
                    f"the monitor store {self.path} is locked by another process (waited {self.busy_timeout:.0f} s)",
                    hint="wait for the other `workbench monitor ingest` to finish, then run this again",
                ) from err
            raise MonitorError(f"the monitor store {self.path} cannot be used: {err}", hint=f"check the disk and the permissions of {self.path}") from err

    def _recover(self, err: BaseException, *, reopen: bool) -> None:
        if reopen:
            with contextlib.suppress(sqlite3.Error):
                self.db.close()
        aside = move_aside(self.path)
        fresh = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        try:
            fresh.execute("PRAGMA journal_mode=WAL")
            _create_schema(fresh)
            fresh.execute("BEGIN IMMEDIATE")
            copied = salvage(aside, fresh, ["idents", "events", "feedback"])
            fresh.execute("COMMIT")
        finally:
            fresh.close()
        self.warnings.append(
            f"the monitor store {self.path} was corrupt ({err}); moved to {aside.name} and started a new one with the "
            f"{copied} row(s) still readable; re-ingest your event logs to restore anything missing"
        )
        if reopen:
            self.db = self._open()

    def _migrate_v1(self, db: sqlite3.Connection) -> None:
        """The first layout kept names on every event: move them to `idents`, rebuild the rollup."""
        db.execute("BEGIN IMMEDIATE")
        db.execute("DROP INDEX IF EXISTS events_latency")
        db.execute("ALTER TABLE events RENAME TO events_v1")
        db.execute("DROP TABLE IF EXISTS rollup")
        _create_schema(db, index=False)
        db.execute(
            f"""INSERT OR IGNORE INTO idents (prompt, version, commit_sha, env, arm)
                SELECT DISTINCT prompt, coalesce(version, '{UNKNOWN_VERSION}'), coalesce(commit_sha, ''), coalesce(env, ''), coalesce(arm, '')
                FROM events_v1"""
        )
        db.execute(
            f"""INSERT OR IGNORE INTO events
                SELECT e.call_id, e.ts, i.id, e.latency_ms, e.input_tokens, e.output_tokens, e.cost, e.error, e.score, e.feedback
                FROM events_v1 e JOIN idents i ON i.prompt = e.prompt AND i.version = coalesce(e.version, '{UNKNOWN_VERSION}')
                  AND i.commit_sha = coalesce(e.commit_sha, '') AND i.env = coalesce(e.env, '') AND i.arm = coalesce(e.arm, '')
                ORDER BY e.rowid"""
        )
        db.execute("DROP TABLE events_v1")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('rolled_rowid', 0)")
        db.execute("COMMIT")

    def _roll_up_gap(self, db: sqlite3.Connection) -> None:
        """Events stored but never rolled up (a store written by an older ingest): count them now."""
        row = db.execute("SELECT value FROM meta WHERE key = 'rolled_rowid'").fetchone()
        top = db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
        rolled = int(row[0]) if row is not None else -1
        if row is not None and rolled >= top:
            return
        db.execute("BEGIN IMMEDIATE")
        if row is None:  # no mark at all: rebuild the rollup from every event
            db.execute("DELETE FROM rollup")
            rolled = 0
        db.execute(_APPLY_FEEDBACK, (rolled,))
        db.execute(_ROLLUP_NEW, (rolled,))
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?), ('rolled_rowid', ?)", (SCHEMA_VERSION, top))
        db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM events").fetchone()[0])

    # ------------------------------------------------------------------ ingest
    def ingest(self, paths: list[Path]) -> IngestReport:
        """Load JSONL or OTLP JSON files; bad lines are reported and skipped (see the module docstring)."""
        self.guard(self._check)
        report = self.guard(lambda: self._ingest(paths))
        report.warnings = self.warnings
        return report

    def _check(self) -> None:
        """Before writing: a damaged page that no read has reached yet is found here, not later."""
        problems = [row[0] for row in self.db.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            self._recover(sqlite3.DatabaseError("; ".join(str(p) for p in problems)[:300]), reopen=True)

    def _ingest(self, paths: list[Path]) -> IngestReport:
        import gc

        report = IngestReport()
        db = self.db
        bind_none_directly()  # two of an event's ten values are usually None
        db.execute("PRAGMA cache_size=-262144")  # 256 MB: the call-id B-tree stays in memory
        idents = Idents({tuple(row[1:]): row[0] for row in db.execute("SELECT id, prompt, version, commit_sha, env, arm FROM idents")})
        existing = db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
        expected = sum(p.stat().st_size for p in paths if p.is_file()) // BYTES_PER_EVENT
        bulk = expected > max(BULK_EVENTS, existing // 2)
        state = _IngestState(bulk=bulk)
        collect = gc.isenabled()
        gc.disable()  # a million small dicts: the cycle collector would rescan them over and over
        try:
            state.per = min(ROWS_PER_INSERT, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // WIDTH)
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-commit") as finisher:
                finishing: Future[None] | None = None
                for batch in file_batches(paths, report, idents):  # the next batch is parsed here while
                    if finishing is not None:  # the last one is rolled up and committed (SQLite, no GIL)
                        finishing.result()
                    last = self._write_batch(db, batch, state)
                    finishing = finisher.submit(self._finish_batch, db, batch, report, state, last)
                if finishing is not None:
                    finishing.result()
            if state.index_dropped:
                db.execute("BEGIN IMMEDIATE")
                db.execute(LATENCY_INDEX)
                db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            if collect:
                gc.enable()
        db.execute("PRAGMA cache_size=-2000")
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        return report

    def _store_batch(self, db: sqlite3.Connection, batch: Batch, report: IngestReport, state: _IngestState) -> None:
        """One transaction: events, feedback, rollup and the rolled-up mark."""
        self._finish_batch(db, batch, report, state, self._write_batch(db, batch, state))

    def _write_batch(self, db: sqlite3.Connection, batch: Batch, state: _IngestState) -> tuple[int, int]:
        """Open the batch's transaction and insert its identities, feedback and events: (last rowid before, rows added)."""
        db.execute("BEGIN IMMEDIATE")
        if state.bulk and not state.index_dropped:
            db.execute("DROP INDEX IF EXISTS events_latency")
            state.index_dropped = True
        last = db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
        if batch.feedback:
            db.executemany("INSERT OR REPLACE INTO feedback VALUES (?,?,?,?)", batch.feedback)
            state.has_feedback = True
        elif not state.has_feedback:
            state.has_feedback = db.execute("SELECT 1 FROM feedback LIMIT 1").fetchone() is not None
        if batch.new_idents:
            _write_idents(db, batch, state.stored_id)
        values = batch.values
        if state.stored_id:  # rare: another ingest stored an identity under an id this one handed out
            stored = state.stored_id.get
            for i in range(2, len(values), WIDTH):
                values[i] = stored(values[i], values[i])
        before = db.total_changes
        _insert_events(db, values, state.per)
        return last, db.total_changes - before

    def _finish_batch(self, db: sqlite3.Connection, batch: Batch, report: IngestReport, state: _IngestState, written: tuple[int, int]) -> None:
        """Roll the batch up, move the mark and commit: one SQLite call each, the GIL released meanwhile."""
        last, added = written
        if added and state.has_feedback:
            db.execute(_APPLY_FEEDBACK, (last,))
        if added:
            db.execute(_ROLLUP_NEW, (last,))
        if batch.feedback:
            _apply_late_feedback(db, [f[0] for f in batch.feedback], last)
        top = db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?), ('rolled_rowid', ?)", (SCHEMA_VERSION, top))
        db.execute("COMMIT")
        report.added += added
        report.duplicates += batch.count - added
        report.feedback += len(batch.feedback)


def _write_idents(db: sqlite3.Connection, batch: Batch, stored_id: dict[int, int]) -> None:
    """Store the identities first seen in this batch. Another ingest may have added the same
    identity, or used the same id, since this one started: then the stored id is used, and
    `stored_id` maps the provisional id to it for this batch and every later one (they may
    have been parsed already)."""
    for ident, *key in batch.new_idents:
        row = db.execute("SELECT id FROM idents WHERE prompt = ? AND version = ? AND commit_sha = ? AND env = ? AND arm = ?", key).fetchone()
        if row is not None:
            real = int(row[0])
        else:
            taken = db.execute("SELECT 1 FROM idents WHERE id = ?", (ident,)).fetchone() is not None
            real = int(db.execute("SELECT coalesce(max(id), 0) + 1 FROM idents").fetchone()[0]) if taken else ident
            db.execute("INSERT INTO idents (id, prompt, version, commit_sha, env, arm) VALUES (?,?,?,?,?,?)", (real, *key))
        if real != ident:
            stored_id[ident] = real


_ONE_ROW = "(?,?,?,?,?,?,?,?,?,?)"


_NULL: Any = {}.get  # returns None for any argument, in C


def bind_none_directly() -> None:
    """Binding None costs sqlite3 ~1 µs: it has no fast path for None (it has for int, float,
    str), so every None goes through the adaptation protocol: a registry look-up, then
    `__adapt__` and `__conform__` look-ups that each build and clear an AttributeError. An
    adapter registered for NoneType that returns None (the documented way to bind NULL) is
    found at the first step. None still binds as NULL, for every connection in the process; an
    adapter the application registered for None is left in place."""
    if (type(None), sqlite3.PrepareProtocol) not in sqlite3.adapters:
        sqlite3.register_adapter(type(None), _NULL)


def _insert_events(db: sqlite3.Connection, values: list[Any], per: int) -> None:
    """INSERT OR IGNORE the rows (WIDTH values each, one after the other) in order; a row whose
    call id is known is skipped on its own. `per` rows to a statement: fewer statements to step."""
    step = per * WIDTH
    whole = len(values) - len(values) % step
    db.executemany("INSERT OR IGNORE INTO events VALUES " + ",".join([_ONE_ROW] * per), (tuple(values[i : i + step]) for i in range(0, whole, step)))
    if whole < len(values):
        db.executemany("INSERT OR IGNORE INTO events VALUES " + _ONE_ROW, (tuple(values[i : i + WIDTH]) for i in range(whole, len(values), WIDTH)))


def _create_schema(db: sqlite3.Connection, *, index: bool = True) -> None:
    """SCHEMA statement by statement (`executescript` would commit an open transaction)."""
    for statement in SCHEMA.split(";"):
        if statement.strip() and (index or "CREATE INDEX" not in statement):
            db.execute(statement)


@dataclass
class _IngestState:
    bulk: bool
    index_dropped: bool = False
    has_feedback: bool = False
    stored_id: dict[int, int] = field(default_factory=dict)  # provisional identity id -> the id stored, where they differ
    per: int = ROWS_PER_INSERT  # rows per INSERT statement


# New events pick up feedback that arrived before them (a score given with feedback wins).
_APPLY_FEEDBACK = """UPDATE events SET
    feedback = coalesce((SELECT f.feedback FROM feedback f WHERE f.call_id = events.call_id), events.feedback, ''),
    score = coalesce((SELECT f.score FROM feedback f WHERE f.call_id = events.call_id), events.score)
  WHERE rowid > ? AND call_id IN (SELECT call_id FROM feedback)"""


def _apply_late_feedback(db: sqlite3.Connection, call_ids: list[str], last: int) -> None:
    """Feedback for calls already counted: update those calls and adjust their rollup rows."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS fb_batch (call_id TEXT PRIMARY KEY)")
    db.execute("DELETE FROM fb_batch")
    db.executemany("INSERT OR IGNORE INTO fb_batch VALUES (?)", ((c,) for c in call_ids))
    rows = db.execute(
        """SELECT e.rowid, i.prompt, i.env, i.version, i.arm, cast(e.ts / 3600 AS INTEGER), e.score, e.feedback, f.feedback, f.score
           FROM fb_batch b JOIN events e ON e.call_id = b.call_id JOIN feedback f ON f.call_id = b.call_id JOIN idents i ON i.id = e.ident
           WHERE e.rowid <= ?""",
        (last,),
    ).fetchall()
    deltas: dict[tuple[Any, ...], list[float]] = {}
    updates = []
    for rowid, prompt, env, version, arm, hour, old_score, old_feedback, new_feedback, feedback_score in rows:
        new_score = feedback_score if feedback_score is not None else old_score
        delta = deltas.setdefault((prompt, env, version, arm, hour), [0, 0.0, 0.0, 0])
        delta[0] += old_feedback is None
        if new_score != old_score:
            delta[1] += (new_score or 0.0) - (old_score or 0.0)
            delta[2] += (new_score or 0.0) ** 2 - (old_score or 0.0) ** 2
            delta[3] += (old_score is None) - (new_score is None)
        updates.append((new_feedback if new_feedback is not None else (old_feedback or ""), new_score, rowid))
    db.executemany("UPDATE events SET feedback = ?, score = ? WHERE rowid = ?", updates)
    db.executemany(
        """UPDATE rollup SET feedback = feedback + ?, score_sum = coalesce(score_sum, 0) + ?, score_sq = coalesce(score_sq, 0) + ?,
             score_n = score_n + ? WHERE prompt = ? AND env = ? AND version = ? AND arm = ? AND hour = ?""",
        [(d[0], d[1], d[2], d[3], *key) for key, d in deltas.items()],
    )
