"""A read-only session writes nothing into the repository: no verdict under `.git/workbench`, no
commit-graph, no `.git/index` refresh, no SQLite file (or `-wal`/`-shm`) under `.workbench`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from repo_state import changes, tree_state

from workbench.errors import RepoError
from workbench.evals.runner import CaseResult
from workbench.services import monitor, parse_cache, test_results, upkeep
from workbench.services.session import READ_ONLY_ENV, RepoSession

NAMES = ("support/summarize", "rag/answer_with_citations")


def _commit_all(root: Path, message: str) -> None:
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), "commit", "-q", "-m", message], check=True)


@pytest.fixture
def configured_repo(prompt_repo: Path) -> Path:
    """The sample prompts with a `workbench.yaml` (its verdict is written by a session's opening),
    a stored test run and a monitor store with events."""
    (prompt_repo / "workbench.yaml").write_text("environments: [dev, prod]\nmain_branch: main\n")
    _commit_all(prompt_repo, "Settings")
    with RepoSession.open(prompt_repo) as session:
        store = test_results.open_store(session)
        try:
            store.record(
                prompt=NAMES[0], revision="HEAD", commit=None, blob=None, provider="echo", model=None, parameters={},
                results=[CaseResult("c1", "case 1", 0, True, 1.0, output="ok")], started=1.0,
            )
        finally:
            store.close()
    events = prompt_repo / "events.jsonl"
    events.write_text("".join(json.dumps({"call_id": f"c{i}", "name": NAMES[0], "ts": 1_700_000_000 + i, "env": "prod", "latency_ms": 100}) + "\n" for i in range(5)))
    monitor.ingest(prompt_repo, [events])
    events.unlink()
    for verdicts in (prompt_repo / ".git" / "workbench").glob("*"):  # a fresh clone: no verdict yet
        subprocess.run(["rm", "-rf", str(verdicts)], check=True)
    (prompt_repo / "prompts" / "support" / "summarize.yaml").touch()  # stat data `git status` would refresh
    return prompt_repo


def _browse(session: RepoSession) -> None:
    for name in NAMES:
        assert parse_cache.check_at(session, name, "HEAD").ok
        assert parse_cache.load_checked_at(session, name).ok
    head = session.store.resolve("HEAD")
    assert test_results.history_marks(session, NAMES[1], [head]) == {}
    report = monitor.report(session, NAMES[0], "prod")
    assert sum(v.calls for v in report.versions) == 5  # what was ingested, read without writing
    store = test_results.open_store(session)
    try:
        assert [run.prompt for run in store.runs()] == [NAMES[0]]
    finally:
        store.close()
    assert [change.path for change in session.store.status()] == []  # `git status`: no index refresh written
    assert upkeep.speed_up_history_later(session) is None


def test_a_read_only_session_writes_nothing_into_the_repository(configured_repo: Path) -> None:
    before = tree_state(configured_repo)
    with RepoSession.open(configured_repo, read_only=True) as session:
        assert session.read_only
        _browse(session)
    written = changes(before, tree_state(configured_repo))
    assert not written, "\n".join(written)
    # The same session, writable: the verdicts are written (what the read-only one left out)
    with RepoSession.open(configured_repo) as session:
        _browse(session)
    assert changes(before, tree_state(configured_repo))


def test_a_process_started_read_only_opens_read_only_sessions(configured_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(READ_ONLY_ENV, "1")
    before = tree_state(configured_repo)
    with RepoSession.open(configured_repo) as session:  # the config's verdict: neither written nor touched
        assert session.read_only
    assert changes(before, tree_state(configured_repo)) == []
    with RepoSession.open(configured_repo, read_only=False) as session:
        assert not session.read_only


def test_no_store_is_created_by_a_read_only_session(prompt_repo: Path) -> None:
    before = tree_state(prompt_repo)
    with RepoSession.open(prompt_repo, read_only=True) as session:
        assert test_results.history_marks(session, NAMES[0], [session.store.resolve("HEAD")]) == {}
        assert monitor.report(session, NAMES[0], "prod").versions == []
        store = test_results.open_store(session)
        try:
            assert store.runs() == []
        finally:
            store.close()
    assert changes(before, tree_state(prompt_repo)) == []
    assert not (prompt_repo / ".workbench").exists()


def _many_commits(root: Path, count: int) -> None:
    """`count` commits on main in one `git fast-import` stream (seconds, not minutes)."""
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    lines = []
    for i in range(count):
        body = f"line {i}\n"
        lines.append(
            f"commit refs/heads/main\ncommitter Test <t@example.com> {1_700_000_000 + i} +0000\ndata 7\ncommit\n"
            + (f"from {head}\n" if i == 0 else "")
            + f"M 100644 inline notes.txt\ndata {len(body)}\n{body}\n"
        )
    subprocess.run(["git", "-C", str(root), "fast-import", "--quiet"], input="".join(lines), text=True, check=True)
    subprocess.run(["git", "-C", str(root), "reset", "-q", "--hard", "main"], check=True)


def test_a_read_only_session_never_writes_the_commit_graph(prompt_repo: Path) -> None:
    _many_commits(prompt_repo, 2000)
    graph = prompt_repo / ".git" / "objects" / "info"
    before = tree_state(prompt_repo)
    with RepoSession.open(prompt_repo, read_only=True) as session:
        assert session.store.changed_path_filters_needed()  # big enough, and no filters yet
        assert upkeep.speed_up_history_later(session) is None
        with pytest.raises(RepoError, match="read-only"):
            session.store.write_changed_path_filters_later()  # the Git layer refuses it too
    assert changes(before, tree_state(prompt_repo)) == []
    with RepoSession.open(prompt_repo) as session:  # a writable session does write it
        job = upkeep.speed_up_history_later(session)
        assert job is not None
        job.result()
    assert list(graph.glob("commit-graph*"))


@pytest.mark.parametrize("state", ["being created", "empty file", "not a database"])
def test_a_monitor_store_another_process_is_writing_reads_as_empty(prompt_repo: Path, state: str) -> None:
    """A read-only session opens the monitor store `immutable`: it cannot see what a running
    `workbench monitor ingest` has not checkpointed yet (a new store: its tables are still in the
    `-wal`), nor repair a damaged one. That reads as no traffic yet, with a warning, like the
    results store; not as an error that blames the disk."""
    path = prompt_repo / monitor.STORE
    writer = None
    if state == "being created":
        writer = monitor.open_store(prompt_repo)  # another process's ingest, still running
    else:
        path.parent.mkdir()
        path.write_bytes(b"" if state == "empty file" else b"not sqlite " * 500)
    try:
        before = tree_state(prompt_repo)
        with RepoSession.open(prompt_repo, read_only=True) as session:
            report = monitor.report(session, NAMES[0], "prod")
        assert report.versions == []
        assert any("monitor store" in warning and "workbench monitor ingest" in warning for warning in report.warnings), report.warnings
        assert changes(before, tree_state(prompt_repo)) == []
    finally:
        if writer is not None:
            writer.close()
