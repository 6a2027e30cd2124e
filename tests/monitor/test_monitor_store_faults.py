"""monitor.sqlite under kill -9 mid-ingest, corrupt pages, locks; after each the next command works."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from monitor_helpers import stored_counts

from workbench.cli.common import run_app
from workbench.monitor.metrics import version_metrics
from workbench.monitor.store import BATCH, MonitorStore

LINE = '{{"call_id":"{prefix}{i}","ts":{ts},"name":"p","version":"p@v1","commit":"abc","env":"prod","arm":null,"latency_ms":{lat},"input_tokens":10,"output_tokens":5,"cost":0.001,"error":{err},"score":0.5,"feedback":null}}\n'


def _log(path: Path, n: int, prefix: str = "c") -> Path:
    with path.open("w") as handle:
        handle.writelines(
            LINE.format(prefix=prefix, i=i, ts=1_700_000_000 + i, lat=100 + i % 50, err='"timeout"' if i % 20 == 0 else "null") for i in range(n)
        )
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def _ingest_process(root: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "workbench", "-C", str(root), "monitor", "ingest", str(log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _committed(store_path: Path) -> int:
    """Events committed so far, read while the ingest runs (WAL: readers never wait)."""
    try:
        db = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True, timeout=0.1)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'rolled_rowid'").fetchone()
            return int(row[0]) if row else 0
        finally:
            db.close()
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("moment", ["as it starts writing", "after its first batch is committed"])
def test_kill_9_mid_ingest_leaves_every_batch_counted_or_absent(root: Path, tmp_path: Path, moment: str) -> None:
    store_path = root / ".workbench" / "monitor.sqlite"
    assert run_app(["-C", str(root), "monitor", "ingest", str(_log(tmp_path / "before.jsonl", 500, "old"))]) == 0
    log = _log(tmp_path / "big.jsonl", 3 * BATCH)
    process = _ingest_process(root, log)
    wal = store_path.with_name("monitor.sqlite-wal")
    start_size = wal.stat().st_size if wal.exists() else 0
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if moment.startswith("as") and wal.exists() and wal.stat().st_size > start_size:
            break
        if moment.startswith("after") and _committed(store_path) > 500:
            break
        time.sleep(0.002)
    assert process.poll() is None, "the ingest ended before the kill"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    stored, counted = stored_counts(store_path)
    assert stored == counted  # stored and rolled up together, or neither
    assert (stored - 500) % BATCH == 0 and stored >= 500  # whole batches only; nothing stored before was lost
    if moment.startswith("after"):
        assert stored > 500
    assert run_app(["-C", str(root), "monitor", "ingest", str(log)]) == 0  # the next command works and fills the gap
    assert stored_counts(store_path) == (500 + 3 * BATCH, 500 + 3 * BATCH)
    store = MonitorStore(store_path)
    (row,) = version_metrics(store.db, "p", "prod")
    assert row.calls == 500 + 3 * BATCH and row.errors == 25 + 3 * BATCH // 20
    assert row.latency_p50 is not None  # the latency index is back
    store.close()


def test_a_corrupt_monitor_store_is_moved_aside_and_the_readable_events_kept(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_path = root / ".workbench" / "monitor.sqlite"
    assert run_app(["-C", str(root), "monitor", "ingest", str(_log(tmp_path / "a.jsonl", 20_000))]) == 0
    db = sqlite3.connect(store_path)
    pages, size = db.execute("PRAGMA page_count").fetchone()[0], db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    with store_path.open("r+b") as handle:
        handle.seek((pages // 2) * size)
        handle.write(b"\x5a" * size)
    capsys.readouterr()
    assert run_app(["-C", str(root), "monitor", "ingest", str(_log(tmp_path / "b.jsonl", 100, "new"))]) == 0
    captured = capsys.readouterr()
    assert "monitor.sqlite.corrupt-" in captured.err and str(store_path) in captured.err
    stored, counted = stored_counts(store_path)
    assert stored == counted and stored >= 100 + 20_000 // 2  # the new events and at least the readable half of the old
    assert run_app(["-C", str(root), "monitor", "ingest", str(tmp_path / "a.jsonl")]) == 0  # re-ingest restores the rest
    assert stored_counts(store_path) == (20_100, 20_100)
    assert "corrupt" not in capsys.readouterr().err


def test_a_monitor_store_that_is_not_a_database_names_the_file(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_path = root / ".workbench" / "monitor.sqlite"
    store_path.parent.mkdir(parents=True)
    store_path.write_bytes(b"definitely not sqlite" * 500)
    code = run_app(["-C", str(root), "monitor", "p"])
    err = capsys.readouterr().err
    assert code == 2 and "unexpected error" not in err  # 2: `p` is no prompt of this empty repository
    assert str(store_path) in err and "moved to monitor.sqlite.corrupt-" in err


def test_a_locked_monitor_store_is_waited_for_and_a_long_lock_is_a_clear_error(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_path = root / ".workbench" / "monitor.sqlite"
    assert run_app(["-C", str(root), "monitor", "ingest", str(_log(tmp_path / "a.jsonl", 100))]) == 0
    holder_code = (
        "import sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.readline()\n"
        "db.execute('COMMIT')\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", holder_code, str(store_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    try:
        waiting = subprocess.Popen([sys.executable, "-m", "workbench", "-C", str(root), "monitor", "ingest", str(_log(tmp_path / "b.jsonl", 50, "b"))],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        assert waiting.poll() is None  # it waits for the lock...
        store = MonitorStore.__new__(MonitorStore)
        store.path, store.busy_timeout, store.warnings = store_path, 0.2, []
        with pytest.raises(Exception) as raised:
            store.db = store.guard(store._open, reopen=False)
            store.guard(lambda: store._ingest([tmp_path / "b.jsonl"]))
        assert "locked by another process" in str(raised.value) and str(store_path) in str(raised.value)
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(30)
    _, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err  # ...and goes on once it is released
    assert not list(store_path.parent.glob("monitor.sqlite.corrupt-*"))
    assert stored_counts(store_path) == (150, 150)


def test_two_ingests_at_once_agree_on_identities(tmp_path: Path) -> None:
    """A second ingest that started earlier and meets new identities after the first one
    stored its own keeps every event under its own (prompt, version, env, arm)."""
    from workbench.monitor.ingest_batches import Idents, jsonl_batches
    from workbench.monitor.store import IngestReport, _IngestState

    path = tmp_path / "m.sqlite"
    first, second = MonitorStore(path), MonitorStore(path)
    late = tmp_path / "late.jsonl"
    late.write_text(LINE.format(prefix="late", i=0, ts=1_700_000_000, lat=100, err="null").replace('"p@v1"', '"p@v2"'))
    idents = Idents({})  # the second ingest read the (empty) identities before the first one wrote
    report = IngestReport()
    with late.open("rb") as handle:
        batches = list(jsonl_batches(late, handle, report, idents))
    assert first.ingest([_log(tmp_path / "early.jsonl", 10)]).added == 10  # takes identity id 1 for p@v1
    second._store_batch(second.db, batches[0], report, _IngestState(bulk=False))
    versions = {row.version: row.calls for row in version_metrics(second.db, "p", "prod")}
    assert versions == {"p@v1": 10, "p@v2": 1}
    assert stored_counts(path) == (11, 11)
