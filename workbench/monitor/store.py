"""The local store of production events (`.workbench/monitor.sqlite`) and ingest into it.

Ingest reads JSONL event logs (what `record()` writes) and OTLP JSON trace exports. A bad
line is reported as `file:line: reason` and skipped; everything else is kept. Events are
keyed by call id, so re-ingesting the same file adds nothing twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
  call_id TEXT PRIMARY KEY, ts REAL NOT NULL, prompt TEXT NOT NULL, version TEXT, commit_sha TEXT,
  env TEXT, arm TEXT, latency_ms REAL, input_tokens INTEGER, output_tokens INTEGER, cost REAL,
  error TEXT, score REAL, feedback TEXT
);
CREATE INDEX IF NOT EXISTS events_latency ON events (prompt, env, version, arm, latency_ms);
CREATE TABLE IF NOT EXISTS rollup (
  prompt TEXT NOT NULL, env TEXT NOT NULL, version TEXT NOT NULL, arm TEXT NOT NULL, hour INTEGER NOT NULL,
  calls INTEGER, errors INTEGER, lat_sum REAL, lat_sq REAL, lat_n INTEGER, tokens INTEGER, cost REAL,
  score_sum REAL, score_sq REAL, score_n INTEGER, feedback INTEGER, first_ts REAL, last_ts REAL,
  PRIMARY KEY (prompt, env, version, arm, hour)
);
CREATE TABLE IF NOT EXISTS feedback (call_id TEXT PRIMARY KEY, ts REAL, feedback TEXT, score REAL);
"""

BATCH = 20_000
LATENCY_INDEX = "CREATE INDEX IF NOT EXISTS events_latency ON events (prompt, env, version, arm, latency_ms)"
BULK_BYTES = 20_000_000  # above this much input, rebuilding the latency index once beats updating it per row


@dataclass
class IngestReport:
    files: int = 0
    lines: int = 0
    added: int = 0
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "lines": self.lines, "added": self.added, "duplicates": self.duplicates, "problems": self.problems}


def _row(event: dict[str, Any]) -> tuple[Any, ...]:
    # Hot path of ingest (a million calls): conversions inline, no helper calls.
    get = event.get
    latency, tokens_in, tokens_out, cost, score = get("latency_ms"), get("input_tokens"), get("output_tokens"), get("cost"), get("score")
    error, feedback = get("error"), get("feedback")
    return (
        str(event["call_id"]),
        float(event["ts"]),
        str(event["name"]),
        get("version") or "(unknown)",
        get("commit"),
        get("env"),
        get("arm"),
        None if latency is None else float(latency),
        None if tokens_in is None else int(tokens_in),
        None if tokens_out is None else int(tokens_out),
        None if cost is None else float(cost),
        None if error is None or error == "" else str(error),
        None if score is None else float(score),
        None if feedback is None else str(feedback),
    )


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


class MonitorStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=10)
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM events").fetchone()[0])

    def ingest(self, paths: list[Path]) -> IngestReport:
        """Load JSONL or OTLP JSON files; bad lines are reported and skipped."""
        report = IngestReport()
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")
        before = self.count()
        last_rowid = self.db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
        bulk = sum(p.stat().st_size for p in paths if p.is_file()) > BULK_BYTES
        if bulk:
            self.db.execute("DROP INDEX IF EXISTS events_latency")
        for path in paths:
            report.files += 1
            rows: list[tuple[Any, ...]] = []
            feedback: list[tuple[Any, ...]] = []
            for event in self._events(path, report):
                if event.get("type") == "feedback":
                    feedback.append((str(event["call_id"]), float(event.get("ts") or 0), None if event.get("feedback") is None else str(event["feedback"]), _num(event.get("score"))))
                    continue
                try:
                    rows.append(_row(event))
                except (KeyError, TypeError, ValueError) as err:
                    report.problems.append(f"{path}:{event.get('_line', '?')}: missing or bad field ({err})")
                    continue
                if len(rows) >= BATCH:
                    self._insert(rows)
                    rows = []
            self._insert(rows)
            if feedback:
                with self.db:
                    self.db.executemany("INSERT OR REPLACE INTO feedback VALUES (?,?,?,?)", feedback)
        if bulk:
            self.db.execute(LATENCY_INDEX)
        self._roll_up(last_rowid)
        self.db.execute("PRAGMA synchronous=FULL")
        report.added = self.count() - before
        report.duplicates = max(0, report.lines - report.added - len(report.problems))
        return report

    def _roll_up(self, after_rowid: int) -> None:
        """Hourly aggregates of the events just added: reports read these, not a million rows."""
        with self.db:
            self.db.execute(
                """INSERT INTO rollup
                   SELECT prompt, coalesce(env, ''), version, coalesce(arm, ''), cast(ts / 3600 AS INTEGER),
                          count(*), sum(error IS NOT NULL), sum(latency_ms), sum(latency_ms * latency_ms), count(latency_ms),
                          sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)), sum(coalesce(cost, 0)),
                          sum(score), sum(score * score), count(score), count(feedback), min(ts), max(ts)
                   FROM events WHERE rowid > ? GROUP BY 1, 2, 3, 4, 5
                   ON CONFLICT (prompt, env, version, arm, hour) DO UPDATE SET
                     calls = calls + excluded.calls, errors = errors + excluded.errors,
                     lat_sum = coalesce(lat_sum, 0) + coalesce(excluded.lat_sum, 0), lat_sq = coalesce(lat_sq, 0) + coalesce(excluded.lat_sq, 0),
                     lat_n = lat_n + excluded.lat_n, tokens = tokens + excluded.tokens, cost = cost + excluded.cost,
                     score_sum = coalesce(score_sum, 0) + coalesce(excluded.score_sum, 0), score_sq = coalesce(score_sq, 0) + coalesce(excluded.score_sq, 0),
                     score_n = score_n + excluded.score_n, feedback = feedback + excluded.feedback,
                     first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts)""",
                (after_rowid,),
            )

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            with self.db:
                self.db.executemany("INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)

    def _events(self, path: Path, report: IngestReport) -> Iterator[dict[str, Any]]:
        try:
            handle = path.open("rb")
        except OSError as err:
            report.problems.append(f"{path}: cannot read ({err.strerror or err})")
            return
        with handle:
            head = handle.read(1)
            handle.seek(0)
            if head == b"{" and _looks_like_otlp(path):
                yield from _otlp_events(path, report)
                return
            for index, raw in enumerate(handle):
                line = raw.strip()
                if not line:
                    continue
                report.lines += 1
                try:
                    event = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    torn = not raw.endswith(b"\n")
                    what = "torn last line (a write was cut off), skipped" if torn else "not JSON, skipped"
                    report.problems.append(f"{path}:{index + 1}: {what}")
                    continue
                if not isinstance(event, dict) or "call_id" not in event or ("name" not in event and event.get("type") != "feedback"):
                    report.problems.append(f"{path}:{index + 1}: not a workbench event (needs call_id and name), skipped")
                    continue
                event["_line"] = index + 1
                yield event


def _looks_like_otlp(path: Path) -> bool:
    with path.open("rb") as handle:
        start = handle.read(200)
    return b"resourceSpans" in start


def _otlp_value(value: dict[str, Any]) -> Any:
    for key in ("stringValue", "doubleValue", "boolValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])
    return None


def _otlp_events(path: Path, report: IngestReport) -> Iterator[dict[str, Any]]:
    """Spans of an OTLP JSON export that carry `prompt.name` become events."""
    try:
        documents = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except json.JSONDecodeError as err:
        try:
            documents = [json.loads(path.read_text(encoding="utf-8"))]
        except json.JSONDecodeError:
            report.problems.append(f"{path}:{err.lineno}: OTLP export is not valid JSON, skipped")
            return
    for document in documents:
        for resource in document.get("resourceSpans", []):
            for scope in resource.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    report.lines += 1
                    attributes = {a["key"]: _otlp_value(a.get("value", {})) for a in span.get("attributes", [])}
                    if "prompt.name" not in attributes:
                        report.problems.append(f"{path}: span {span.get('spanId', '?')} has no prompt.name, skipped")
                        continue
                    start, end = int(span.get("startTimeUnixNano", 0)), int(span.get("endTimeUnixNano", 0))
                    yield {
                        "call_id": attributes.get("workbench.call_id") or span.get("spanId"),
                        "ts": end / 1e9,
                        "name": attributes["prompt.name"],
                        "version": attributes.get("prompt.version"),
                        "commit": attributes.get("prompt.commit"),
                        "env": attributes.get("prompt.env"),
                        "arm": attributes.get("prompt.arm"),
                        "latency_ms": (end - start) / 1e6 if end and start else None,
                        "input_tokens": attributes.get("gen_ai.usage.input_tokens"),
                        "output_tokens": attributes.get("gen_ai.usage.output_tokens"),
                        "cost": attributes.get("workbench.cost"),
                        "error": attributes.get("error.type"),
                        "score": attributes.get("workbench.score"),
                    }
