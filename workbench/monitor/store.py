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
  leaves every batch either fully counted or absent (re-ingest adds the rest).
- **Idempotent**: events are keyed by call id; re-ingesting adds nothing twice.
- **Feedback** (`record_feedback`) is counted on the call it names, whether it arrives before,
  with or after that call; a score given with feedback replaces the call's score.
- **A corrupt store** is moved aside (`monitor.sqlite.corrupt-<time>`), every readable event is
  copied into a fresh one, and a warning names both files; a locked one is waited for.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from workbench.core.sqlite_files import is_busy, is_corrupt, move_aside, salvage
from workbench.errors import MonitorError
from workbench.monitor.event_lines import (
    UNKNOWN_VERSION,
    BadField,
    EventLine,
    IngestReport,
    convert_event,
    error_text,
    feedback_text,
    looks_like_otlp,
    otlp_events,
    validation_message,
    whole,
)

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

BATCH = 100_000  # lines per transaction
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
    def __init__(self, path: Path, *, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.warnings: list[str] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = self.guard(self._open, reopen=False)

    # ------------------------------------------------------------------ opening, faults
    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
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
            if is_corrupt(err):
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
        db.execute("PRAGMA cache_size=-262144")  # 256 MB: the call-id B-tree stays in memory
        idents = _Idents({tuple(row[1:]): row[0] for row in db.execute("SELECT id, prompt, version, commit_sha, env, arm FROM idents")})
        existing = db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
        expected = sum(p.stat().st_size for p in paths if p.is_file()) // BYTES_PER_EVENT
        bulk = expected > max(BULK_EVENTS, existing // 2)
        state = _IngestState(bulk=bulk)
        collect = gc.isenabled()
        gc.disable()  # a million small dicts: the cycle collector would rescan them over and over
        try:
            for path in paths:
                report.files += 1
                for batch in self._batches(path, report, idents):
                    self._store_batch(db, batch, idents, report, state)
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

    def _store_batch(self, db: sqlite3.Connection, batch: _Batch, idents: _Idents, report: IngestReport, state: _IngestState) -> None:
        """One transaction: events, feedback, rollup and the rolled-up mark."""
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
        rows = batch.events
        if batch.new_idents:
            rows = _write_idents(db, batch, idents)
        before = db.total_changes
        _insert_events(db, rows)
        added = db.total_changes - before
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
        report.duplicates += len(rows) - added
        report.feedback += len(batch.feedback)

    def _batches(self, path: Path, report: IngestReport, idents: _Idents) -> Iterator[_Batch]:
        try:
            handle = path.open("rb")
        except OSError as err:
            report.problem(f"{path}: cannot read ({err.strerror or err})")
            return
        with handle:
            head = handle.read(1)
            handle.seek(0)
            if head == b"{" and looks_like_otlp(path):
                yield from _batched(path, otlp_events(path, report), report, idents)
                return
            yield from _jsonl_batches(path, handle, report, idents)


def _write_idents(db: sqlite3.Connection, batch: _Batch, idents: _Idents) -> list[tuple[Any, ...]]:
    """Store the identities first seen in this batch. Another ingest may have added the same
    identity, or used the same id, since this one started: then use the stored id."""
    remap: dict[int, int] = {}
    for ident, *key in batch.new_idents:
        row = db.execute("SELECT id FROM idents WHERE prompt = ? AND version = ? AND commit_sha = ? AND env = ? AND arm = ?", key).fetchone()
        if row is not None:
            real = int(row[0])
        else:
            taken = db.execute("SELECT 1 FROM idents WHERE id = ?", (ident,)).fetchone() is not None
            real = int(db.execute("SELECT coalesce(max(id), 0) + 1 FROM idents").fetchone()[0]) if taken else ident
            db.execute("INSERT INTO idents (id, prompt, version, commit_sha, env, arm) VALUES (?,?,?,?,?,?)", (real, *key))
        if real != ident:
            remap[ident] = real
            idents.ids[tuple(key)] = real
        idents.next = max(idents.next, real + 1)
    if not remap:
        return batch.events
    return [(r[0], r[1], remap.get(r[2], r[2]), *r[3:]) for r in batch.events]


ROWS_PER_INSERT = 50  # multi-row VALUES: half the per-row cost of one statement per row
_ONE_ROW = "(?,?,?,?,?,?,?,?,?,?)"
_INSERT_MANY = "INSERT OR IGNORE INTO events VALUES " + ",".join([_ONE_ROW] * ROWS_PER_INSERT)


def _insert_events(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """INSERT OR IGNORE the rows in order (a row whose call id is known is skipped on its own)."""
    from itertools import chain

    whole = len(rows) - len(rows) % ROWS_PER_INSERT
    flat = chain.from_iterable
    db.executemany(_INSERT_MANY, (tuple(flat(rows[i : i + ROWS_PER_INSERT])) for i in range(0, whole, ROWS_PER_INSERT)))
    if whole < len(rows):
        db.executemany("INSERT OR IGNORE INTO events VALUES " + _ONE_ROW, rows[whole:])


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


@dataclass
class _Batch:
    events: list[tuple[Any, ...]] = field(default_factory=list)  # rows of the events table
    feedback: list[tuple[Any, ...]] = field(default_factory=list)
    new_idents: list[tuple[Any, ...]] = field(default_factory=list)  # (id, prompt, version, commit, env, arm) first seen here


class _Idents:
    """Identity (prompt, version, commit, env, arm) -> id; new ids are handed out while parsing and
    written with the batch that first uses them (so they roll back with it)."""

    def __init__(self, ids: dict[tuple[Any, ...], int]) -> None:
        self.ids = ids
        self.next = max(ids.values(), default=0) + 1

    def new(self, key: tuple[Any, ...], batch: _Batch) -> int:
        ident = self.ids[key] = self.next
        self.next += 1
        batch.new_idents.append((ident, *key))
        return ident


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


def _jsonl_batches(path: Path, handle: Any, report: IngestReport, idents: _Idents) -> Iterator[_Batch]:
    decode = msgspec.json.Decoder(EventLine).decode
    malformed, invalid = msgspec.DecodeError, msgspec.ValidationError
    batch = _Batch()
    events, feedback = batch.events, batch.feedback
    append = events.append
    ident_of = idents.ids.get
    number = 0
    while True:
        chunk = handle.readlines(8_000_000)
        if not chunk:
            break
        for raw in chunk:
            if len(events) + len(feedback) >= BATCH:  # exactly BATCH events per transaction
                yield batch
                batch = _Batch()
                events, feedback = batch.events, batch.feedback
                append = events.append
            number += 1
            try:
                e = decode(raw)
            except invalid as err:
                report.lines += 1
                report.problem(f"{path}:{number}: {validation_message(err)}, skipped")
                continue
            except (malformed, RecursionError) as err:
                if not raw.strip():
                    continue
                report.lines += 1
                if isinstance(err, RecursionError):
                    what = "nested too deeply"
                elif not raw.endswith(b"\n"):
                    what = "torn last line (a write was cut off)"
                else:
                    what = f"not JSON ({str(err)[:120]})"
                report.problem(f"{path}:{number}: {what}, skipped")
                continue
            report.lines += 1
            name, ts, error, fb = e.name, e.ts, e.error, e.feedback
            if e.type is not None:
                if e.type == "feedback":
                    try:
                        feedback.append((e.call_id, ts, feedback_text(fb), e.score))
                    except BadField as bad:
                        report.problem(f"{path}:{number}: {bad}, skipped")
                else:
                    report.problem(f"{path}:{number}: unknown event type {e.type[:40]!r}, skipped")
                continue
            if not name or ts is None:
                report.problem(f"{path}:{number}: {'name: needs a non-empty string' if not name else 'ts: needs a number (unix seconds)'}, skipped")
                continue
            if error is not None and type(error) is not str:
                error = error_text(error)
            elif error == "":
                error = None
            if fb is not None and type(fb) is not str:
                fb = feedback_text(fb)
            key = (name, e.version or UNKNOWN_VERSION, e.commit or "", e.env or "", e.arm or "")
            ident = ident_of(key) or idents.new(key, batch)
            tokens_in, tokens_out = e.input_tokens, e.output_tokens
            if type(tokens_in) is float or type(tokens_out) is float:
                try:
                    tokens_in, tokens_out = whole(tokens_in, "input_tokens"), whole(tokens_out, "output_tokens")
                except BadField as bad:
                    report.problem(f"{path}:{number}: {bad}, skipped")
                    continue
            append((e.call_id, ts, ident, e.latency_ms, tokens_in, tokens_out, e.cost, error, e.score, fb))
    if events or feedback:
        yield batch


def _batched(path: Path, events: Iterator[tuple[str, dict[str, Any]]], report: IngestReport, idents: _Idents) -> Iterator[_Batch]:
    batch = _Batch()
    for where, event in events:
        try:
            call_id, ts, key, *rest = convert_event(event)
        except BadField as err:
            report.problem(f"{path}:{where}: {err}, skipped")
            continue
        ident = idents.ids.get(key) or idents.new(key, batch)
        batch.events.append((call_id, ts, ident, *rest))
        if len(batch.events) >= BATCH:
            yield batch
            batch = _Batch()
    if batch.events:
        yield batch


