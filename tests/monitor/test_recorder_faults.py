"""`record()` never dies on bad input and never grows without bound."""

from __future__ import annotations

import atexit
import contextlib
import errno
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from workbench.monitor.recorder import Recorder
from workbench.monitor.store import MonitorStore

PROMPT = SimpleNamespace(name="p", version="p@v1", commit="abc", env="prod", arm=None)


@pytest.fixture(autouse=True)
def writers_stopped(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each writer a test started is stopped after it: one left on a disk that stays full would
    retry (and warn) for the rest of the run. Its exit-time flush goes too: with events it could
    not write and no writer left, each one waited its 5 s when the test process ended (pytest
    waited for that process: ~10 s more at the end of a run, until it was killed)."""
    started: dict[int, Recorder] = {}
    start = Recorder._start

    def tracked(recorder: Recorder) -> None:
        started[id(recorder)] = recorder
        start(recorder)

    monkeypatch.setattr(Recorder, "_start", tracked)
    yield
    for recorder in started.values():
        recorder._queue.put(None)  # the writer stops after its next attempt
    for recorder in started.values():
        if recorder._thread is not None:
            recorder._thread.join(5)
        atexit.unregister(recorder.flush)


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


class FillingDisk:
    """A disk with `room` bytes left (None: no limit): a write past it writes what fits, then
    raises ENOSPC, as write(2) does on a full file system."""

    def __init__(self) -> None:
        self.room: int | None = None


class FileOnDisk:
    def __init__(self, real: Any, disk: FillingDisk) -> None:
        self.real, self.disk = real, disk

    def write(self, data: bytes) -> int:
        if self.disk.room is None:
            return int(self.real.write(data))
        if self.disk.room == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        wrote = int(self.real.write(bytes(data[: self.disk.room])))
        self.disk.room -= wrote
        return wrote

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class FullDiskRecorder(Recorder):
    retry_s = 0.05

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.disk = FillingDisk()

    def _open(self) -> Any:
        return FileOnDisk(super()._open(), self.disk)  # type: ignore[misc]


def whole_lines(path: Path) -> list[dict[str, Any]]:
    events = []
    for line in path.read_bytes().split(b"\n")[:-1]:
        with contextlib.suppress(ValueError):
            events.append(json.loads(line))
    return events


def wait_until_written(recorder: Recorder) -> None:
    deadline = time.monotonic() + 10
    while recorder.stats()["queued"] and time.monotonic() < deadline:
        recorder.flush()


def test_a_full_disk_loses_nothing_that_was_queued_and_counts_what_reached_it(tmp_path: Path) -> None:
    """A write that failed part-way left a torn line in the middle of the log, counted the events
    that did reach the disk as write errors, and threw away every event queued while the disk
    was full (the docstring said they would still be written)."""
    path = tmp_path / "events.jsonl"
    recorder = FullDiskRecorder(path, otel=False)
    recorder.record(PROMPT, latency_ms=1.0, call_id="before-0")
    recorder.flush()
    line = path.stat().st_size
    recorder.disk.room = 2 * line + line // 2  # two more lines fit, and half of a third
    for i in range(5):
        recorder.record(PROMPT, latency_ms=1.0, call_id=f"full-{i}")
    started = time.monotonic()
    recorder.flush()  # returns at the failed write: the disk will not be freed by waiting
    assert time.monotonic() - started < 3
    on_disk = [e["call_id"] for e in whole_lines(path)]
    assert on_disk == ["before-0", "full-0", "full-1"]
    stats = recorder.stats()
    assert (stats["written"], stats["queued"]) == (3, 3) and stats["write_errors"] >= 1
    for i in range(2):
        recorder.record(PROMPT, latency_ms=1.0, call_id=f"during-{i}")  # kept, not thrown away
    time.sleep(0.2)  # a few more attempts on the full disk
    assert recorder.stats()["queued"] == 5 and len(whole_lines(path)) == 3
    recorder.disk.room = None  # space freed
    wait_until_written(recorder)
    stats = recorder.stats()
    assert (stats["written"], stats["queued"], stats["dropped_queue_full"]) == (8, 0, 0)
    store, report = ingest(tmp_path, path)
    assert report.added == 8 and report.problem_count == 1  # the torn fragment, on a line of its own
    assert sorted(c for (c,) in store.db.execute("SELECT call_id FROM events")) == ["before-0", "during-0", "during-1", *(f"full-{i}" for i in range(5))]


def test_events_kept_after_a_failed_write_count_against_the_queue_bound(tmp_path: Path) -> None:
    recorder = FullDiskRecorder(tmp_path / "events.jsonl", otel=False, max_queue=10)
    recorder.disk.room = 0
    for _ in range(30):
        recorder.record(PROMPT, latency_ms=1.0)
    recorder.flush()
    assert (recorder.stats()["queued"], recorder.stats()["dropped_queue_full"], recorder.stats()["written"]) == (10, 20, 0)
    recorder.disk.room = None
    wait_until_written(recorder)
    assert recorder.stats()["written"] == 10 and len(whole_lines(tmp_path / "events.jsonl")) == 10


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "workbench.monitor" and r.levelno == logging.WARNING]


def record_for(recorder: Recorder, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        recorder.record(PROMPT, latency_ms=1.0)
        time.sleep(0.002)
    recorder.flush()


def test_a_folder_that_cannot_be_written_warns_once_and_names_the_cause(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """One warning per batch (~300/s at 300 calls/s), saying `[Errno 17] File exists` when the
    folder's place holds a file."""
    (tmp_path / "not-a-dir").write_text("")
    recorder = Recorder(tmp_path / "not-a-dir" / "events.jsonl", otel=False)
    recorder.retry_s = 0.001
    with caplog.at_level(logging.WARNING, logger="workbench.monitor"):
        record_for(recorder, 1.0)
    assert recorder.stats()["write_errors"] >= 20
    warnings = warnings_of(caplog)
    assert len(warnings) == 1, warnings
    assert f"{tmp_path / 'not-a-dir'} is a file, not a folder" in warnings[0] and "File exists" not in warnings[0]


def test_while_writes_keep_failing_a_warning_says_how_many_failed_since(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    recorder = FullDiskRecorder(tmp_path / "events.jsonl", otel=False)
    recorder.retry_s, recorder.warn_every_s = 0.001, 0.25
    recorder.disk.room = 0
    with caplog.at_level(logging.WARNING, logger="workbench.monitor"):
        record_for(recorder, 1.0)
        recorder.disk.room = None
        wait_until_written(recorder)
    warnings = warnings_of(caplog)
    failed = recorder.stats()["write_errors"]
    assert failed >= 20 and 3 <= len(warnings) <= 8, warnings
    assert warnings[0].startswith(f"workbench monitor: cannot write {tmp_path / 'events.jsonl'}: no space left on the disk;")
    still = [int(w.split("; ")[1].split()[0]) for w in warnings[1:-1]]
    assert all(w.startswith("workbench monitor: still cannot write") for w in warnings[1:-1]) and all(n > 1 for n in still)
    assert sum(still) <= failed - 1
    assert warnings[-1].startswith("workbench monitor: writing") and f"after {failed} failed write(s)" in warnings[-1]
    assert recorder.stats()["queued"] == 0 and len(whole_lines(tmp_path / "events.jsonl")) == recorder.stats()["written"]


class RefusingRecorder(Recorder):
    retry_s = 0.01

    def __init__(self, code: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.code = code

    def _open(self) -> Any:
        raise OSError(self.code, os.strerror(self.code), str(self.path))


@pytest.mark.parametrize(
    ("code", "cause"),
    [(errno.EROFS, "the file system is read-only"), (errno.ENOSPC, "no space left on the disk"), (errno.EACCES, "no permission to write in {tmp}")],
)
def test_the_warning_names_why_the_log_cannot_be_written(tmp_path: Path, caplog: pytest.LogCaptureFixture, code: int, cause: str) -> None:
    recorder = RefusingRecorder(code, tmp_path / "events.jsonl", otel=False)
    with caplog.at_level(logging.WARNING, logger="workbench.monitor"):
        recorder.record(PROMPT, latency_ms=1.0)
        recorder.flush()
    assert warnings_of(caplog) == [f"workbench monitor: cannot write {tmp_path / 'events.jsonl'}: {cause.format(tmp=tmp_path)}; 1 event(s) kept, written again every 0.01 s"]


def test_a_log_path_that_is_a_folder_or_under_a_file_is_named_as_such(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "file").write_text("")
    (tmp_path / "folder.jsonl").mkdir()
    with caplog.at_level(logging.WARNING, logger="workbench.monitor"):
        for path in (tmp_path / "folder.jsonl", tmp_path / "file" / "a" / "b" / "events.jsonl"):
            recorder = Recorder(path, otel=False)
            recorder.retry_s = 0.05
            recorder.record(PROMPT, latency_ms=1.0)
            recorder.flush()
    first, second = warnings_of(caplog)
    assert f": {tmp_path / 'folder.jsonl'} is a folder, not a file;" in first
    assert f": {tmp_path / 'file'} is a file, not a folder;" in second and "Not a directory" not in second


def test_a_store_folder_whose_place_holds_a_file_says_so(tmp_path: Path) -> None:
    """`workbench monitor ingest` said `FileExistsError: [Errno 17] File exists` (make_store_folder)."""
    from workbench.core.state_folder import FolderError

    (tmp_path / ".workbench").write_text("")
    with pytest.raises(FolderError) as caught:
        MonitorStore(tmp_path / ".workbench" / "monitor.sqlite")
    folder = tmp_path / ".workbench"
    assert str(caught.value) == f"cannot create the folder {folder}: {folder} is a file, not a folder" and isinstance(caught.value, OSError)


def test_values_ingest_would_refuse_are_coerced_so_the_call_is_kept(tmp_path: Path) -> None:
    """An int token count above 2**53 skipped coercion, an uncut call id or identity field pushed
    the line past ingest's 1 MiB, a NaN feedback was written as the text "nan": ingest refused the
    first two lines (the call was lost) and stored the third as feedback "nan"."""
    from workbench.monitor.limits import MAX_TEXT_CHARS

    path = tmp_path / "e.jsonl"
    recorder = Recorder(path, otel=False)
    recorder.record(PROMPT, latency_ms=5.0, call_id="int-tokens", input_tokens=2**60, output_tokens=2**53)
    long_id = "long-id-" + "x" * 1_100_000
    first = recorder.record(PROMPT, latency_ms=5.0, call_id=long_id)
    second = recorder.record(PROMPT, latency_ms=5.0, call_id=long_id + "y")  # the same first characters
    huge = SimpleNamespace(name="n" * 1_100_000, version="v" * 1_100_000, commit="c" * 1_100_000, env="😀" * 1_100_000, arm="a" * 1_100_000)
    recorder.record(huge, latency_ms=5.0, call_id="long-identity", error="😀" * 9000, feedback="😀" * 9000)  # 12 bytes a character in JSON
    recorder.record(PROMPT, latency_ms=5.0, call_id="nan-feedback", feedback=float("nan"))
    recorder.record(PROMPT, latency_ms=5.0, call_id="inf-feedback", feedback=float("-inf"))
    recorder.record_feedback(long_id, feedback="up")  # cut the same way: lands on `first`
    recorder.record_feedback("int-tokens", feedback=float("inf"), score=1.0)
    recorder.flush()
    assert recorder.stats()["written"] == 8 and recorder.stats()["coerced"] >= 9
    assert len(first) == len(second) == MAX_TEXT_CHARS and first != second and first.startswith("long-id-xxx")
    store, report = ingest(tmp_path, path)
    assert (report.added, report.feedback, report.problems) == (6, 2, [])
    rows = {r[0]: r[1:] for r in store.db.execute("SELECT call_id, input_tokens, output_tokens, feedback, score FROM events")}
    assert rows["int-tokens"][:2] == (None, 2**53) and rows["int-tokens"][3] == 1.0
    assert store.db.execute("SELECT feedback FROM feedback WHERE call_id = 'int-tokens'").fetchone() == (None,)  # not "inf"
    assert rows["nan-feedback"][2] is None and rows["inf-feedback"][2] is None
    assert rows[first][2] == "up" and rows[second][2] is None
    name, version, env = store.db.execute("SELECT i.prompt, i.version, i.env FROM events e JOIN idents i ON i.id = e.ident WHERE e.call_id = 'long-identity'").fetchone()
    assert len(name) == len(version) == len(env) == MAX_TEXT_CHARS and name.startswith("nnn") and env.startswith("😀😀😀")


def test_a_call_without_a_prompt_name_is_kept_under_unknown(tmp_path: Path) -> None:
    """`record("a plain string")` (no identity) or an empty name wrote `"name": null` / `""`, which
    ingest refuses ("name: needs a non-empty string"): the call was lost."""
    path = tmp_path / "e.jsonl"
    recorder = Recorder(path, otel=False)
    recorder.record("rendered text, not the prompt", latency_ms=5.0, call_id="no-identity")
    recorder.record(SimpleNamespace(name="", version="p@v1", commit="abc", env="prod", arm=None), latency_ms=5.0, call_id="empty-name")
    recorder.flush()
    assert recorder.stats()["coerced"] == 2
    store, report = ingest(tmp_path, path)
    assert (report.added, report.problems) == (2, [])
    stored = store.db.execute("SELECT e.call_id, i.prompt, i.version FROM events e JOIN idents i ON i.id = e.ident ORDER BY e.call_id").fetchall()
    assert stored == [("empty-name", "(unknown)", "p@v1"), ("no-identity", "(unknown)", "(unknown)")]
