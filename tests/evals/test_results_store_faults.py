"""The results store and the response cache under corrupt pages, locks and killed writers."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.evals.cache import ResponseCache
from workbench.evals.providers import Completion
from workbench.evals.runner import CaseResult
from workbench.evals.store import ResultsStore

LOCK_HOLDER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
if sys.argv[2] == "stdin":
    sys.stdin.readline()
else:
    time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


def _results(n: int, prefix: str = "c") -> list[CaseResult]:
    return [CaseResult(f"{prefix}{i}", f"case {i}", 0, i % 3 != 0, 1.0 if i % 3 else 0.0, output="x" * 400) for i in range(n)]


def _fill(store: ResultsStore, runs: int, cases: int = 20) -> None:
    for run in range(runs):
        store.record(prompt="p", revision=f"r{run}", commit=f"c{run}", blob=f"b{run}", provider="echo", model=None, parameters={},
                     results=_results(cases), started=float(run))


def _damage(path: Path, page: int) -> None:
    db = sqlite3.connect(path)
    size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    with path.open("r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(b"\xa5" * size)


def _root_page(path: Path, table: str) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0])
    finally:
        db.close()


def _pages(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA page_count").fetchone()[0])
    finally:
        db.close()


def _hold_lock(path: Path, seconds: str) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(path), seconds], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_a_corrupt_page_on_the_write_path_keeps_the_new_run_and_the_readable_history(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    store = ResultsStore(path)
    _fill(store, 10)
    store.close()
    _damage(path, _root_page(path, "cases"))  # passes the check at open; every write of cases fails
    store = ResultsStore(path)
    run_id = store.record(prompt="p", revision="new", commit="cn", blob="bn", provider="echo", model=None, parameters={}, results=_results(5, "n"), started=99.0)
    assert any("corrupt" in w and "results.sqlite.corrupt-" in w for w in store.warnings), store.warnings
    assert [r.revision for r in store.runs("p")][:1] == ["new"]
    assert len(store.runs("p")) == 11  # the ten earlier runs were readable and were copied
    assert [c.case_id for c in store.cases(run_id)] == [f"n{i}" for i in range(5)]
    store.close()
    assert len([p for p in tmp_path.glob("results.sqlite.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]) == 1
    again = ResultsStore(path)  # the next command works, without a warning
    assert again.warnings == [] and len(again.runs("p")) == 11


def test_a_corrupt_page_found_on_read_is_recovered_without_losing_other_runs(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    store = ResultsStore(path)
    _fill(store, 30)
    store.close()
    _damage(path, _pages(path) // 2)  # somewhere in the middle of the case data
    store = ResultsStore(path)
    for run in store.runs("p", limit=100):
        store.cases(run.id)  # reaching the damaged page recovers the store; no exception
    assert any("corrupt" in w for w in store.warnings)
    assert len(store.runs("p", limit=100)) >= 29
    store.record(prompt="p", revision="new", commit="cn", blob="bn", provider="echo", model=None, parameters={}, results=_results(3), started=99.0)
    assert store.runs("p")[0].revision == "new"


def test_a_store_held_locked_for_longer_than_five_seconds_is_waited_for_not_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    legacy = sqlite3.connect(path)  # a store written before WAL: a lock blocks readers too
    legacy.close()
    store = ResultsStore(path)
    _fill(store, 3)
    store.close()
    sqlite3.connect(path).execute("PRAGMA journal_mode=DELETE").fetchone()
    holder = _hold_lock(path, "6.5")
    try:
        store = ResultsStore(path)
        _fill(store, 1)
        store.close()
    finally:
        holder.wait(30)
    assert not list(tmp_path.glob("results.sqlite.corrupt-*"))
    assert len(ResultsStore(path).runs("p")) == 4


def test_a_lock_that_outlasts_the_wait_keeps_the_run_aside_and_adds_it_next_time(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    store = ResultsStore(path)
    _fill(store, 2)
    store.close()
    holder = _hold_lock(path, "stdin")
    try:
        store = ResultsStore(path, busy_timeout=0.5)
        store.record(prompt="p", revision="late", commit="cl", blob="bl", provider="echo", model=None, parameters={}, results=_results(4), started=50.0)
        assert any("locked" in w and "results.pending" in w for w in store.warnings), store.warnings
        store.close()
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(30)
    assert not list(tmp_path.glob("results.sqlite.corrupt-*"))
    store = ResultsStore(path)
    runs = store.runs("p")
    assert runs[0].revision == "late" and len(runs) == 3
    assert len(store.cases(runs[0].id)) == 4
    assert not list((tmp_path / "results.pending").glob("*.json"))
    assert len(ResultsStore(path).runs("p")) == 3  # imported once


def test_a_killed_results_writer_leaves_only_whole_runs(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    store = ResultsStore(path)
    _fill(store, 2)
    store.close()
    writer = """
import sys
from workbench.evals.runner import CaseResult
from workbench.evals.store import ResultsStore
store = ResultsStore(__import__("pathlib").Path(sys.argv[1]))
results = [CaseResult(f"k{i}", "", 0, True, 1.0, output="y" * 2000) for i in range(300)]
n = 0
while True:
    store.record(prompt="p", revision=f"k{n}", commit=None, blob=None, provider="echo", model=None, parameters={}, results=results, started=1.0)
    n += 1
    if n == 3:
        print("writing", flush=True)
"""
    process = subprocess.Popen([sys.executable, "-c", writer, str(path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "writing"
    process.kill()  # SIGKILL, in the middle of some run's transaction or between two
    process.wait(10)
    store = ResultsStore(path)
    runs = store.runs("p", limit=10_000)
    assert len(runs) >= 5 and store.warnings == []
    for run in runs:
        assert len(store.cases(run.id)) == run.summary.total
    assert {"r0", "r1"} <= {r.revision for r in runs}


def test_corrupt_cache_page_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    cache = ResponseCache(path)
    for i in range(300):
        cache.put(f"k{i}", Completion("z" * 500, 1, 1, 1.0, None))
    cache.close()
    _damage(path, _root_page(path, "responses"))
    cache = ResponseCache(path)
    assert cache.get("k1") is None  # a miss, not an error
    cache.put("fresh", Completion("ok", 1, 1, 1.0, None))
    assert cache.get("fresh") is not None
    assert any("cache.sqlite.corrupt-" in w for w in cache.warnings)
    cache.close()
    assert ResponseCache(path).get("fresh") is not None


def test_locked_cache_is_never_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    cache = ResponseCache(path)
    cache.put("k", Completion("v", 1, 1, 1.0, None))
    cache.close()
    sqlite3.connect(path).execute("PRAGMA journal_mode=DELETE").fetchone()
    holder = _hold_lock(path, "3")
    try:
        cache = ResponseCache(path)
        cache.get("k")
        cache.put("k2", Completion("v2", 1, 1, 1.0, None))
        cache.close()
    finally:
        holder.wait(30)
    assert not list(tmp_path.glob("cache.sqlite.corrupt-*"))
    assert ResponseCache(path).get("k") is not None


@pytest.mark.parametrize("name", ["results.sqlite", "cache.sqlite"])
def test_a_file_that_is_not_a_database_names_itself(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"garbage" * 1000)
    opened = ResultsStore(path) if name == "results.sqlite" else ResponseCache(path)
    assert any(str(path) in w for w in opened.warnings)
    assert json.dumps(opened.warnings)


def test_cli_test_on_a_corrupt_store_keeps_its_results_and_says_so(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from fake_openai import FakeOpenAI

    from workbench.cli.common import run_app

    monkeypatch.setenv("FAKE_KEY", "sk-test")
    (prompt_repo / "prompts" / "q.yaml").write_text(
        "model: {provider: openai, name: m, api_key_env: FAKE_KEY}\ninputs:\n  q: {type: string, required: true}\n"
        "messages:\n  - {role: user, content: '{{ q }}'}\n"
        "tests:\n" + "".join(f"  - {{description: c{i}, vars: {{q: q{i}}}, assert: [{{type: icontains, value: q{i}}}]}}\n" for i in range(40))
    )
    path = prompt_repo / ".workbench" / "results.sqlite"
    with FakeOpenAI() as server:
        assert run_app(["-C", str(prompt_repo), "test", "q", "--base-url", server.base_url, "--no-cache"]) == 0
        _damage(path, _root_page(path, "cases"))
        capsys.readouterr()
        assert run_app(["-C", str(prompt_repo), "test", "q", "--base-url", server.base_url, "--no-cache"]) == 0
        captured = capsys.readouterr()
        assert "results.sqlite.corrupt-" in captured.err + captured.out and "unexpected error" not in captured.err
        assert run_app(["-C", str(prompt_repo), "test", "q", "--base-url", server.base_url, "--no-cache"]) == 0
        assert "corrupt" not in capsys.readouterr().err
    runs = ResultsStore(path).runs("q")
    assert len(runs) == 3 and all(r.summary.total == 40 for r in runs)


def test_two_connections_to_a_corrupt_store_recover_it_once(tmp_path: Path) -> None:
    """A/B runs record from one process through two connections: the second one must not move
    the fresh store (holding the first one's run) aside as if it were corrupt."""
    path = tmp_path / "results.sqlite"
    store = ResultsStore(path)
    _fill(store, 5)
    store.close()
    _damage(path, _root_page(path, "cases"))
    a, b = ResultsStore(path), ResultsStore(path)
    a.record(prompt="p", revision="A", commit=None, blob=None, provider="echo", model=None, parameters={}, results=_results(3), started=1.0)
    b.record(prompt="p", revision="B", commit=None, blob=None, provider="echo", model=None, parameters={}, results=_results(3), started=2.0)
    assert len([p for p in tmp_path.glob("results.sqlite.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]) == 1
    revisions = [r.revision for r in ResultsStore(path).runs("p")]
    assert revisions[:2] == ["B", "A"] and len(revisions) == 7
