"""Ingest in batches: the quick path for common lines agrees with the field rules, identities
handed out while parsing follow the stored ids, and a failing read or write keeps whole batches."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from monitor_helpers import stored_counts

from workbench.monitor import ingest_batches
from workbench.monitor import store as store_module
from workbench.monitor.event_lines import IngestReport, convert_event
from workbench.monitor.ingest_batches import Idents, jsonl_batches
from workbench.monitor.metrics import version_metrics
from workbench.monitor.store import _ROLLUP_NEW, MonitorStore, _IngestState, bind_none_directly

WAIT_S = 5  # a bound on waiting for the other thread (it fails instead of hanging), never a speed assertion


def _event(i: int, version: str = "p@v1", **extra: object) -> str:
    event = {"call_id": f"c{i}", "ts": 1_700_000_000 + i, "name": "p", "version": version, "env": "prod", "latency_ms": 100.0 + i, "error": None}
    event.update(extra)
    return json.dumps(event) + "\n"


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(ingest_batches, "BATCH", 3)
    return 3


def test_identities_handed_out_for_batches_parsed_ahead_follow_the_stored_id(tmp_path: Path, small_batches: int) -> None:
    """Both batches of the second ingest were parsed (p@v2 took provisional id 1) before the
    first ingest stored p@v1 as id 1: every p@v2 event, in either batch, stays p@v2 (the parser
    never learns stored ids, so it may run ahead of the writer)."""
    path = tmp_path / "m.sqlite"
    first, second = MonitorStore(path), MonitorStore(path)
    late = tmp_path / "late.jsonl"
    late.write_text("".join(_event(100 + i, "p@v2") for i in range(5)))
    report = IngestReport()
    with late.open("rb") as handle:
        batches = list(jsonl_batches(late, handle, report, Idents({})))
    assert len(batches) == 2
    early = tmp_path / "early.jsonl"
    early.write_text("".join(_event(i) for i in range(10)))
    assert first.ingest([early]).added == 10  # stores p@v1 as identity id 1
    state = _IngestState(bulk=False)
    for batch in batches:
        second._store_batch(second.db, batch, report, state)
    assert {row.version: row.calls for row in version_metrics(second.db, "p", "prod")} == {"p@v1": 10, "p@v2": 5}


@pytest.mark.parametrize("step", ["_write_batch", "_finish_batch"])
def test_a_failing_write_or_commit_keeps_whole_batches(tmp_path: Path, small_batches: int, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    """The second batch fails while inserting (this thread) or while rolling up and committing
    (the helper thread): it is rolled back, the first stays, the next ingest adds the rest."""
    log = tmp_path / "e.jsonl"
    log.write_text("".join(_event(i) for i in range(10)))
    store = MonitorStore(tmp_path / "m.sqlite")
    real = getattr(MonitorStore, step)
    calls = []

    def failing(self: MonitorStore, *args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            if step == "_finish_batch":
                self.db.execute(_ROLLUP_NEW, (args[4][0],))  # half way through the commit
            raise sqlite3.OperationalError("disk I/O error")
        return real(self, *args)

    monkeypatch.setattr(MonitorStore, step, failing)
    with pytest.raises(Exception, match="disk I/O error"):
        store.ingest([log])
    assert not store.db.in_transaction
    assert stored_counts(tmp_path / "m.sqlite") == (small_batches, small_batches)
    monkeypatch.setattr(MonitorStore, step, real)
    assert store.ingest([log]).added == 10 - small_batches
    assert stored_counts(tmp_path / "m.sqlite") == (10, 10)


def test_the_next_batch_is_parsed_while_the_last_one_commits(tmp_path: Path, small_batches: int, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "e.jsonl"
    log.write_text("".join(_event(i) for i in range(2 * small_batches)))
    real_batches, real_finish = store_module.file_batches, MonitorStore._finish_batch
    parsing_second = threading.Event()
    seen = []

    def batches(*args: Any) -> Iterator[ingest_batches.Batch]:
        source = real_batches(*args)
        yield next(source)
        parsing_second.set()  # resumed for the second batch
        yield from source

    def finish(self: MonitorStore, *args: Any) -> None:
        seen.append((threading.current_thread().name, parsing_second.wait(WAIT_S)))
        real_finish(self, *args)

    monkeypatch.setattr(store_module, "file_batches", batches)
    monkeypatch.setattr(MonitorStore, "_finish_batch", finish)
    store = MonitorStore(tmp_path / "m.sqlite")
    assert store.ingest([log]).added == 2 * small_batches
    assert seen[0][1], "the first batch was committed before the second was parsed"
    assert all(name.startswith("ingest-commit") for name, _ in seen)
    assert stored_counts(tmp_path / "m.sqlite") == (2 * small_batches, 2 * small_batches)


def test_a_failing_read_keeps_whole_batches(tmp_path: Path, small_batches: int, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "e.jsonl"
    log.write_text("".join(_event(i) for i in range(10)))
    real = store_module.file_batches

    def failing(*args: object) -> Iterator[ingest_batches.Batch]:
        batches = real(*args)  # type: ignore[arg-type]
        yield next(batches)
        raise OSError("read error")

    monkeypatch.setattr(store_module, "file_batches", failing)
    store = MonitorStore(tmp_path / "m.sqlite")
    with pytest.raises(OSError, match="read error"):
        store.ingest([log])
    assert not store.db.in_transaction
    assert stored_counts(tmp_path / "m.sqlite") == (small_batches, small_batches)


SHAPES = [
    {}, {"error": ""}, {"error": False}, {"error": "timeout"}, {"error": {"code": 500}}, {"error": 3}, {"feedback": "up"}, {"feedback": 1},
    {"feedback": True}, {"input_tokens": 12.0, "output_tokens": 3}, {"input_tokens": 7, "output_tokens": 2.0}, {"version": ""}, {"version": None},
    {"arm": ""}, {"arm": "canary"}, {"commit": None}, {"commit": "abc"}, {"env": None}, {"score": 1}, {"cost": 0}, {"ts": 1_700_000_000},
    {"latency_ms": 0}, {"latency_ms": None},
]


def test_every_shape_of_a_valid_line_is_stored_as_the_field_rules_say(tmp_path: Path) -> None:
    """The quick path for common lines and the general one agree with `convert_event`, the
    field rules written once for OTLP spans."""
    events = []
    for i, shape in enumerate(SHAPES):
        event = json.loads(_event(i))
        event.update(shape)
        events.append(event)
    log = tmp_path / "e.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    store = MonitorStore(tmp_path / "m.sqlite")
    assert store.ingest([log]).added == len(events)
    stored = {
        row[0]: row
        for row in store.db.execute(
            """SELECT e.call_id, e.ts, i.prompt, i.version, i.commit_sha, i.env, i.arm, e.latency_ms, e.input_tokens, e.output_tokens,
                      e.cost, e.error, e.score, e.feedback FROM events e JOIN idents i ON i.id = e.ident"""
        )
    }
    for event in events:
        call_id, ts, key, *rest = convert_event(event)
        assert stored[call_id] == (call_id, ts, *key, *rest), event
        assert [type(v) for v in stored[call_id]] == [type(v) for v in (call_id, ts, *key, *rest)], event
    assert len(store.db.execute("SELECT * FROM idents").fetchall()) == 5  # "" and null spell the same identity


def test_none_binds_as_null_through_the_registered_adapter() -> None:
    key: tuple[type[Any], type[Any]] = (type(None), sqlite3.PrepareProtocol)
    before = sqlite3.adapters.pop(key, None)  # `adapters` is the module's own registry
    try:
        bind_none_directly()
        assert key in sqlite3.adapters
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE t (a, b)")
        db.executemany("INSERT INTO t VALUES (?, ?)", [(None, 1), (2, None)])
        assert db.execute("SELECT typeof(a), typeof(b) FROM t").fetchall() == [("null", "integer"), ("integer", "null")]
        db.close()

        def mine(value: None) -> None:
            return None

        sqlite3.register_adapter(type(None), mine)
        bind_none_directly()  # an adapter the application registered stays
        assert sqlite3.adapters[key] is mine
    finally:
        sqlite3.adapters.pop(key, None)
        if before is not None:
            sqlite3.adapters[key] = before
