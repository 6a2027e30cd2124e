"""`record()` never dies on bad input and never grows without bound."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from workbench.monitor.recorder import Recorder
from workbench.monitor.store import MonitorStore

PROMPT = SimpleNamespace(name="p", version="p@v1", commit="abc", env="prod", arm=None)


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")

    __repr__ = __str__


def test_bad_field_values_are_coerced_and_the_writer_keeps_going(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "e.jsonl", otel=False)
    circular: dict[str, object] = {}
    circular["self"] = circular
    recorder.record(PROMPT, error={(1, 2): "tuple key"})  # json.dumps refuses non-string keys
    recorder.record(PROMPT, error=circular)
    recorder.record(PROMPT, error=Unprintable(), latency_ms="fast", input_tokens="12", output_tokens=3.0, score=float("nan"), cost=Unprintable())
    recorder.record(PROMPT, latency_ms=12.5, feedback={"nested": [1]})
    recorder.record_feedback("x", feedback=Unprintable(), score="high")  # type: ignore[arg-type]
    last = recorder.record(PROMPT, latency_ms=10.0, error="timeout")
    recorder.flush()
    assert recorder._thread is not None and recorder._thread.is_alive()
    events = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert len(events) == 6 and events[-1]["call_id"] == last
    assert all(isinstance(e.get("error"), str | None) for e in events)
    third = events[2]
    assert third["latency_ms"] is None and third["input_tokens"] == 12 and third["output_tokens"] == 3 and third["score"] is None and third["cost"] is None
    assert recorder.stats()["coerced"] >= 6
    store = MonitorStore(tmp_path / "m.sqlite")  # every line the recorder writes ingests cleanly
    report = store.ingest([tmp_path / "e.jsonl"])
    assert report.problem_count == 0 and report.added == 5


class StalledRecorder(Recorder):
    """A recorder whose disk stalls until released."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.release = threading.Event()
        self.writing = threading.Event()

    def _write(self, lines: str) -> None:
        self.writing.set()
        self.release.wait(10)
        super()._write(lines)


def test_the_queue_is_bounded_and_drops_are_counted(tmp_path: Path) -> None:
    recorder = StalledRecorder(tmp_path / "e.jsonl", otel=False, max_queue=100)
    recorder.record(PROMPT, latency_ms=1.0)
    assert recorder.writing.wait(5)  # the writer holds the first event and is stuck on the disk
    for _ in range(1000):
        recorder.record(PROMPT, latency_ms=1.0)
    stats = recorder.stats()
    assert stats["queued"] == 100  # the one being written and 99 waiting
    assert stats["dropped_queue_full"] == 901  # the newest ones
    recorder.release.set()
    recorder.flush()
    lines = (tmp_path / "e.jsonl").read_text().splitlines()
    assert len(lines) == 100
    assert recorder.stats()["written"] == 100 and recorder.stats()["queued"] == 0


def test_a_dead_writer_is_restarted(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "e.jsonl", otel=False)
    recorder.record(PROMPT, latency_ms=1.0)
    recorder.flush()
    recorder._queue.put(None)  # stops the writer, as if it had died
    assert recorder._thread is not None
    recorder._thread.join(5)
    recorder.record(PROMPT, latency_ms=2.0)
    recorder.flush()
    assert len((tmp_path / "e.jsonl").read_text().splitlines()) == 2


def test_text_is_written_as_ingest_accepts_it(tmp_path: Path) -> None:
    """A lone surrogate (str(exc) of a surrogate-escaped file name) was written as \\ud800, which
    ingest refuses: the error call vanished from the error rate though counted as written."""
    from workbench.monitor.limits import MAX_TEXT_CHARS

    recorder = Recorder(tmp_path / "e.jsonl", otel=False)
    recorder.record(PROMPT, latency_ms=3.0, error="boom \ud800 x")
    recorder.record(PROMPT, latency_ms=3.0, feedback="\udcff", call_id="id-\udc80")
    recorder.record(SimpleNamespace(name="p\ud800", version="p@v1", commit=None, env="prod", arm=None), error=OSError("f\udcffile"))
    recorder.record(PROMPT, error="e" * (2 * MAX_TEXT_CHARS), feedback="é" * (2 * MAX_TEXT_CHARS))
    recorder.record_feedback("id-\udc80", feedback="fine \ud800")
    recorder.flush()
    assert recorder.stats()["written"] == 5 and recorder.stats()["coerced"] >= 6
    store = MonitorStore(tmp_path / "m.sqlite")
    report = store.ingest([tmp_path / "e.jsonl"])
    assert (report.added, report.feedback, report.problems) == (4, 1, [])
    errors = sorted(e for (e,) in store.db.execute("SELECT error FROM events WHERE error IS NOT NULL"))
    assert errors == ["boom ? x", "e" * MAX_TEXT_CHARS, "f?ile"]
    assert store.db.execute("SELECT feedback FROM events WHERE call_id = 'id-?'").fetchone() == ("fine ?",)


def test_events_follow_the_path_after_rotation_or_deletion(tmp_path: Path) -> None:
    """The handle stayed open: after a rename (log rotation) or a delete, events went to the old
    or unlinked file, counted as written, and the path was never created again."""
    import os

    path = tmp_path / "events.jsonl"
    recorder = Recorder(path, otel=False)

    def record(n: int) -> None:
        for _ in range(n):
            recorder.record(PROMPT, latency_ms=1.0)
        recorder.flush()

    record(3)
    os.rename(path, tmp_path / "events.jsonl.1")
    record(5)
    assert len(path.read_text().splitlines()) == 5
    assert len((tmp_path / "events.jsonl.1").read_text().splitlines()) == 3
    path.unlink()
    record(4)
    assert len(path.read_text().splitlines()) == 4
    assert recorder.stats()["written"] == 12 and recorder.stats()["write_errors"] == 0


def ingest(tmp_path: Path, log: Path) -> tuple[MonitorStore, Any]:
    store = MonitorStore(tmp_path / "m.sqlite")
    return store, store.ingest([log])


def test_a_torn_last_line_is_ended_before_the_next_event(tmp_path: Path) -> None:
    """A crash leaves a torn last line; the next process appended straight onto it, so its first
    event was glued to the fragment and ingest lost both."""
    path = tmp_path / "events.jsonl"
    first = Recorder(path, otel=False)
    for i in range(3):
        first.record(PROMPT, latency_ms=1.0, call_id=f"first-{i}")
    first.flush()
    first._close()
    with open(path, "rb+") as log:
        log.truncate(path.stat().st_size - 40)  # the crash: the last line torn
    after = Recorder(path, otel=False)
    for i in range(3):
        after.record(PROMPT, latency_ms=1.0, call_id=f"after-{i}")
    after.flush()
    store, report = ingest(tmp_path, path)
    assert report.problem_count == 1 and "events.jsonl:3:" in report.problems[0]  # only the torn one
    assert [c for (c,) in store.db.execute("SELECT call_id FROM events ORDER BY call_id")] == ["after-0", "after-1", "after-2", "first-0", "first-1"]
