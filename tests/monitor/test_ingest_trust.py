"""Ingest under wrong-typed and hostile lines; storage and rollup always agree; feedback counts."""

from __future__ import annotations

import json
import sqlite3
import tracemalloc
from pathlib import Path

import pytest

from workbench.cli.common import run_app
from workbench.monitor.event_lines import IngestReport
from workbench.monitor.metrics import version_metrics
from workbench.monitor.recorder import Recorder
from workbench.monitor.store import MonitorStore


def _event(i: int, **extra: object) -> dict[str, object]:
    event: dict[str, object] = {
        "call_id": f"c{i}", "ts": 1_700_000_000 + i, "name": "p", "version": "p@v1", "env": "prod", "arm": None,
        "latency_ms": 100.0 + i, "input_tokens": 10, "output_tokens": 5, "cost": 0.001, "error": None, "score": 0.5, "feedback": None,
    }
    event.update(extra)
    return event


def _lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _consistent(store: MonitorStore) -> tuple[int, int]:
    """(events stored, calls counted by the rollup) for the whole store."""
    stored = store.count()
    counted = store.db.execute("SELECT coalesce(sum(calls), 0) FROM rollup").fetchone()[0]
    return stored, counted


def _with(i: int, **extra: object) -> str:
    return json.dumps(_event(i, **extra))


# (raw line, a word the problem must name; None: any reason will do)
BAD_LINES: list[tuple[str, str | None]] = [
    (_with(100, ts="abc"), "ts"),
    (_with(101).replace('"ts": 1700000101', '"ts": NaN'), None),
    (_with(102, ts=None), "ts"),
    (_with(103, score="high"), "score"),
    (_with(104, version={}), "version"),
    (_with(105, version={"a": 1}), "version"),
    (_with(106, input_tokens=10**30), "input_tokens"),
    (_with(107).replace('"latency_ms": 207.0', '"latency_ms": 1' + "0" * 400), None),
    (_with(108, latency_ms=True), "latency_ms"),
    (_with(109, name=["x"]), "name"),
    (_with(110, call_id={"a": 1}), "call_id"),
    (_with(111, env=3), "env"),
    (_with(112, output_tokens=-4), "output_tokens"),
    ("[" * 5000 + "]" * 5000, None),
    ('{"call_id": "deep", "name": "p", "ts": 1, "error": ' + "[" * 3000 + "]" * 3000 + "}", None),
]


def test_wrong_typed_fields_are_reported_by_file_and_line_and_skipped(tmp_path: Path) -> None:
    good = [_with(i) for i in range(5)]
    first = _lines(tmp_path / "a.jsonl", good[:3] + [line for line, _ in BAD_LINES])
    second = _lines(tmp_path / "b.jsonl", good[3:])
    store = MonitorStore(tmp_path / "m.sqlite")
    report = store.ingest([first, second])
    assert report.added == 5
    for index, (_, word) in enumerate(BAD_LINES):
        prefix = f"{first}:{4 + index}:"
        assert any(p.startswith(prefix) and (word is None or word in p) for p in report.problems), (prefix, word, report.problems)
    assert len(report.problems) == len(BAD_LINES)
    assert _consistent(store) == (5, 5)
    (row,) = version_metrics(store.db, "p")
    assert row.calls == 5


def test_cli_ingest_reports_bad_lines_and_keeps_going(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    first = _lines(tmp_path / "a.jsonl", [json.dumps(_event(1)), json.dumps(_event(2, ts="abc")), json.dumps(_event(3))])
    second = _lines(tmp_path / "b.jsonl", [json.dumps(_event(4, score="high")), json.dumps(_event(5))])
    assert run_app(["-C", str(root), "monitor", "ingest", str(first), str(second)]) == 0
    out = capsys.readouterr().out
    assert f"{first}:2:" in out and f"{second}:1:" in out
    assert "3 new event(s)" in out
    store = MonitorStore(root / ".workbench" / "monitor.sqlite")
    assert _consistent(store) == (3, 3)


def test_otlp_attribute_without_key_is_reported_and_other_spans_kept(tmp_path: Path) -> None:
    def span(i: int, attributes: list[object]) -> dict[str, object]:
        return {"spanId": f"s{i}", "startTimeUnixNano": str(10**18), "endTimeUnixNano": str(10**18 + 10**8), "attributes": attributes}

    ok = [{"key": "prompt.name", "value": {"stringValue": "p"}}, {"key": "prompt.version", "value": {"stringValue": "p@v1"}}]
    spans = [span(1, ok), span(2, [*ok, {"value": {"stringValue": "x"}}]), span(3, [*ok, "junk"]),
             span(4, [*ok, {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "many"}}]), span(5, ok)]
    path = tmp_path / "traces.json"
    path.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}))
    store = MonitorStore(tmp_path / "m.sqlite")
    report = store.ingest([path])
    assert report.added == 2
    assert sum("s2" in p or "s3" in p or "s4" in p for p in report.problems) == 3
    assert _consistent(store) == (2, 2)


def test_a_store_left_with_events_but_no_rollup_is_repaired(tmp_path: Path) -> None:
    """The old ingest stored a file's events, then died before rolling them up; re-ingest said
    "already known". Opening the store now rolls up whatever was never counted."""
    path = tmp_path / "m.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        """CREATE TABLE events (call_id TEXT PRIMARY KEY, ts REAL NOT NULL, prompt TEXT NOT NULL, version TEXT, commit_sha TEXT,
             env TEXT, arm TEXT, latency_ms REAL, input_tokens INTEGER, output_tokens INTEGER, cost REAL, error TEXT, score REAL, feedback TEXT);
           CREATE TABLE rollup (prompt TEXT NOT NULL, env TEXT NOT NULL, version TEXT NOT NULL, arm TEXT NOT NULL, hour INTEGER NOT NULL,
             calls INTEGER, errors INTEGER, lat_sum REAL, lat_sq REAL, lat_n INTEGER, tokens INTEGER, cost REAL,
             score_sum REAL, score_sq REAL, score_n INTEGER, feedback INTEGER, first_ts REAL, last_ts REAL,
             PRIMARY KEY (prompt, env, version, arm, hour));
           CREATE TABLE feedback (call_id TEXT PRIMARY KEY, ts REAL, feedback TEXT, score REAL);"""
    )
    db.executemany(
        "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(f"c{i}", 1_700_000_000 + i, "p", "p@v1", None, "prod", None, 100.0, 1, 1, 0.0, None, 0.5, None) for i in range(40)],
    )
    db.commit()
    db.close()
    store = MonitorStore(path)
    assert _consistent(store) == (40, 40)
    again = store.ingest([_lines(tmp_path / "e.jsonl", [json.dumps(_event(i)) for i in range(40)])])
    assert again.added == 0
    (row,) = version_metrics(store.db, "p", "prod")
    assert row.calls == 40


def test_feedback_is_counted_whenever_it_arrives(tmp_path: Path) -> None:
    prompt = {"name": "p", "version": "p@v1", "commit": "abc", "env": "prod", "arm": None}
    early = Recorder(tmp_path / "early.jsonl", otel=False)
    early.record_feedback("late-call", feedback="up")  # feedback logged before its call reaches the store
    early.flush()
    recorder = Recorder(tmp_path / "calls.jsonl", otel=False)
    calls = [recorder.record(prompt, latency_ms=10.0) for _ in range(10)]
    recorder.record(prompt, latency_ms=10.0, call_id="late-call")
    recorder.record_feedback(calls[0], feedback="up")
    recorder.record_feedback(calls[1], feedback="down", score=0.0)
    recorder.flush()
    later = Recorder(tmp_path / "later.jsonl", otel=False)
    later.record_feedback(calls[2], feedback="up")
    later.flush()
    store = MonitorStore(tmp_path / "m.sqlite")
    store.ingest([tmp_path / "early.jsonl", tmp_path / "calls.jsonl"])
    store.ingest([tmp_path / "later.jsonl"])
    (row,) = version_metrics(store.db, "p", "prod")
    assert row.calls == 11 and row.feedback == 4
    assert row.feedback_rate == pytest.approx(4 / 11)
    assert row.score_n == 1 and row.score_mean == 0.0
    store.ingest([tmp_path / "early.jsonl", tmp_path / "calls.jsonl", tmp_path / "later.jsonl"])  # idempotent
    (row,) = version_metrics(store.db, "p", "prod")
    assert row.calls == 11 and row.feedback == 4


def test_bad_feedback_lines_are_reported(tmp_path: Path) -> None:
    log = _lines(tmp_path / "e.jsonl", [json.dumps(_event(1)), json.dumps({"type": "feedback", "call_id": "c1", "ts": "abc", "feedback": "up"}),
                                        json.dumps({"type": "feedback", "call_id": "c1", "ts": 1, "score": "high"})])
    store = MonitorStore(tmp_path / "m.sqlite")
    report = store.ingest([log])
    assert report.added == 1
    assert any(p.startswith(f"{log}:2:") and "ts" in p for p in report.problems)
    assert any(p.startswith(f"{log}:3:") and "score" in p for p in report.problems)


def test_whole_floats_count_as_token_counts_and_fractions_do_not(tmp_path: Path) -> None:
    log = _lines(tmp_path / "e.jsonl", [_with(1, input_tokens=12.0, output_tokens=3), _with(2, output_tokens=2.5)])
    store = MonitorStore(tmp_path / "m.sqlite")
    report = store.ingest([log])
    assert report.added == 1
    assert report.problems == [f"{log}:2: output_tokens: needs a whole number, skipped"]
    (row,) = version_metrics(store.db, "p")
    assert row.tokens == 15


def _ingest_with_peak(store: MonitorStore, path: Path) -> tuple[IngestReport, int]:
    """The ingest's report and the most memory Python held during it."""
    tracemalloc.start()
    try:
        return store.ingest([path]), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_line_over_the_length_limit_is_reported_and_never_held_whole(tmp_path: Path) -> None:
    """A 150 MB line took ~1 GB and a MemoryError lost the whole file: now it is read in
    blocks, reported as too long, and the lines around it are kept."""
    from workbench.monitor.limits import MAX_LINE_BYTES

    huge = json.dumps(_event(2, error="x" * (40 * MAX_LINE_BYTES)))
    just_over = json.dumps(_event(4, error="y" * MAX_LINE_BYTES))
    path = _lines(tmp_path / "big.jsonl", [_with(1), huge, _with(3), just_over, _with(5)])
    with path.open("a") as handle:
        handle.write(huge)  # a too-long last line without its newline
    store = MonitorStore(tmp_path / "m.sqlite")
    report, peak = _ingest_with_peak(store, path)
    assert report.added == 3
    assert report.problems == [f"{path}:{n}: too long, skipped" for n in (2, 4, 6)]
    assert peak < 8 * MAX_LINE_BYTES  # the 40 MiB line was never held
    assert _consistent(store) == (3, 3)


def test_text_error_and_feedback_are_capped_like_other_errors(tmp_path: Path) -> None:
    from workbench.monitor.limits import MAX_TEXT_CHARS

    path = _lines(tmp_path / "long.jsonl", [
        _with(1, error="e" * 5000), _with(2, error={"detail": "d" * 5000}), _with(3, feedback="f" * 5000),
        _with(4, error="e" * 5000, input_tokens=3.0),  # the slow path
        json.dumps({"type": "feedback", "call_id": "c1", "feedback": "g" * 5000}),
    ])
    store = MonitorStore(tmp_path / "m.sqlite")
    assert store.ingest([path]).added == 4
    rows = dict(store.db.execute("SELECT call_id, length(coalesce(error, feedback)) FROM events"))
    assert rows == {"c1": MAX_TEXT_CHARS, "c2": MAX_TEXT_CHARS, "c3": MAX_TEXT_CHARS, "c4": MAX_TEXT_CHARS}
    assert [len(f) for (f,) in store.db.execute("SELECT feedback FROM feedback")] == [MAX_TEXT_CHARS]


def _otlp_export(*span_ids: str) -> dict[str, object]:
    spans = [
        {"spanId": s, "startTimeUnixNano": str(10**18), "endTimeUnixNano": str(10**18 + 10**8),
         "attributes": [{"key": "prompt.name", "value": {"stringValue": "p"}}, {"key": "workbench.call_id", "value": {"stringValue": s}}]}
        for s in span_ids
    ]
    return {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}


def test_a_jsonl_log_mentioning_resource_spans_is_read_as_jsonl(tmp_path: Path) -> None:
    """The format was guessed from a leading `{` and the text `resourceSpans` in the first 200
    bytes: all five events of this log were dropped with no problem reported."""
    path = _lines(tmp_path / "e.jsonl", [_with(1, error="resourceSpans missing in payload"), *(_with(i) for i in range(2, 6))])
    report = MonitorStore(tmp_path / "m.sqlite").ingest([path])
    assert (report.added, report.problems) == (5, [])


@pytest.mark.parametrize(
    "text",
    [
        "\n  " + json.dumps(_otlp_export("s1", "s2")),  # leading blank space: was read as JSONL, every span refused
        json.dumps(_otlp_export("s1", "s2"), indent=2) + "\n",  # pretty-printed: one document over many lines
        json.dumps(_otlp_export("s1")) + "\n\n" + json.dumps(_otlp_export("s2")) + "\n",  # one export per line
    ],
    ids=["leading-space", "pretty", "per-line"],
)
def test_an_otlp_export_is_told_by_its_structure(tmp_path: Path, text: str) -> None:
    path = tmp_path / "traces.json"
    path.write_text(text)
    report = MonitorStore(tmp_path / "m.sqlite").ingest([path])
    assert (report.added, report.problems) == (2, [])


@pytest.mark.parametrize("otlp", [False, True], ids=["jsonl", "otlp-pretty"])
def test_a_byte_order_mark_is_not_part_of_the_first_document(tmp_path: Path, otlp: bool) -> None:
    """Windows tools write a UTF-8 BOM: the first JSONL event was "not JSON", and a pretty OTLP
    export was read as JSONL, every span lost."""
    text = json.dumps(_otlp_export("s1", "s2"), indent=2) if otlp else "\n".join([_with(1), _with(2)])
    path = tmp_path / "log.json"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode() + b"\n")
    report = MonitorStore(tmp_path / "m.sqlite").ingest([path])
    assert (report.added, report.problems) == (2, [])


def test_a_line_of_an_otlp_log_that_is_no_export_is_reported(tmp_path: Path) -> None:
    path = _lines(tmp_path / "traces.json", [json.dumps(_otlp_export("s1")), _with(2), json.dumps(_otlp_export("s3"))])
    report = MonitorStore(tmp_path / "m.sqlite").ingest([path])
    assert report.added == 2
    assert report.problems == [f"{path}:2: not an OTLP trace export (resourceSpans/scopeSpans/spans), skipped"]


@pytest.mark.parametrize("otlp", [False, True], ids=["jsonl", "otlp"])
def test_ingest_reads_a_pipe(prompt_repo: Path, otlp: bool) -> None:
    """`monitor ingest <(zcat log.gz)` or /dev/stdin failed: "UnsupportedOperation: not seekable"."""
    import gzip
    import subprocess
    import sys

    text = json.dumps(_otlp_export("s1", "s2")) if otlp else "".join(_with(i) + "\n" for i in range(2))
    compressed = gzip.compress(text.encode())
    unzip = subprocess.Popen([sys.executable, "-c", "import gzip, sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert unzip.stdout is not None and unzip.stdin is not None
    unzip.stdin.write(compressed)  # small: fits the pipe's buffer
    unzip.stdin.close()
    ingest = subprocess.run([sys.executable, "-m", "workbench", "-C", str(prompt_repo), "monitor", "ingest", "/dev/stdin"],
                            stdin=unzip.stdout, capture_output=True, text=True, timeout=120)
    unzip.stdout.close()
    unzip.wait(timeout=60)
    assert ingest.returncode == 0, ingest.stderr
    assert "2 new event(s)" in ingest.stdout and "0 problem(s)" in ingest.stdout


def test_one_big_otlp_export_is_not_built_whole_in_memory(tmp_path: Path) -> None:
    """A single-document OTLP export was decoded whole into Python objects, ~9x its size (a
    256 MiB export, which the limit allows, took ~2.3 GB). Only its spans' places are kept
    now, and each span is decoded when its turn comes."""
    noise = [{"key": f"k{i}", "value": {"stringValue": "v" * 20}} for i in range(30)]  # attributes the ingest never reads
    export = _otlp_export(*(f"s{i}" for i in range(4000)))
    for span in export["resourceSpans"][0]["scopeSpans"][0]["spans"]:  # type: ignore[index]
        span["attributes"] = [*span["attributes"], *noise]
        span["events"] = [{"name": "e", "attributes": noise}]
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(export, indent=1))
    size = path.stat().st_size
    store = MonitorStore(tmp_path / "m.sqlite")
    report, peak = _ingest_with_peak(store, path)
    assert (report.added, report.problems) == (4000, [])
    assert peak < 3 * size, f"peak {peak / size:.1f}x the export's {size} bytes"
    assert _consistent(store) == (4000, 4000)
