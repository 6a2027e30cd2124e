"""Revisions of every form Git takes, resolved as Git resolves them, in the persistent helper.

`:/Triage` (the newest commit whose message matches) failed with "':/Triage' names a commit, not
a commit": `^{commit}` was appended to every revision, and for `:/text` it became part of the
text searched for.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from vcs_helpers import run_git

from workbench import PromptRepo
from workbench.cli import run_app
from workbench.errors import NotFound
from workbench.services.session import RepoSession


def commit_of(repo: Path, subject: str) -> str:
    return run_git(repo, "log", "-1", "--format=%H", f"--grep=^{subject}").strip()


@pytest.mark.parametrize("rev", [":/Friendlier", ":/Friendlier summ", "HEAD^{/Friendlier}", "main^{/^Friendlier}", ":/!-Calm"])
def test_a_commit_found_by_its_message(repo: Path, ws: RepoSession, rev: str) -> None:
    expected = run_git(repo, "rev-parse", "--verify", f"{rev}^0" if not rev.startswith(":") else rev).strip()
    assert len(expected) == 40
    assert ws.store.resolve(rev) == expected
    assert ws.store.try_resolve(rev) == expected


def test_message_search_finds_what_git_finds(repo: Path, ws: RepoSession) -> None:
    assert ws.store.resolve(":/Friendlier") == commit_of(repo, "Friendlier summaries")
    assert ws.store.resolve(":/Calm") == commit_of(repo, "Calm summaries")


def test_no_commit_matching_is_unknown(ws: RepoSession) -> None:
    with pytest.raises(NotFound, match="unknown revision ':/no such words'"):
        ws.store.resolve(":/no such words")
    assert ws.store.try_resolve(":/no such words") is None


def test_the_message_names_what_a_revision_is_when_not_a_commit(repo: Path, ws: RepoSession) -> None:
    run_git(repo, "tag", "-a", "-m", "a tree", "tree-tag", "HEAD^{tree}")
    run_git(repo, "tag", "blob-tag", "HEAD:prompts/greeting.yaml")
    expected = {
        "HEAD^{tree}": "a tree",
        "HEAD:prompts": "a tree",
        "HEAD:prompts/greeting.yaml": "a blob",
        ":prompts/greeting.yaml": "a blob",  # the index's copy
        "tree-tag": "a tag of a tree",
        "blob-tag": "a blob",
    }
    for rev, what in expected.items():
        with pytest.raises(NotFound) as caught:
            ws.store.resolve(rev)
        assert caught.value.message == f"{rev!r} names {what}, not a commit", rev
        assert ws.store.try_resolve(rev) is None, rev


def test_ordinary_revisions_and_message_search_start_no_process(repo: Path, ws: RepoSession, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ws.store
    store.resolve("HEAD")  # the helper starts
    started: list[tuple[str, ...]] = []
    for runner in ("_run_full", "_start"):
        real = getattr(store, runner)

        def counted(*args: str, _real: Any = real, **kwargs: Any) -> Any:
            started.append(args)
            return _real(*args, **kwargs)

        monkeypatch.setattr(store, runner, counted)
    for rev in ("HEAD", "HEAD~1", "main", "HEAD^{/Friendlier}", ":/Friendlier", "main:prompts/greeting.yaml"):
        with contextlib.suppress(NotFound):
            store.resolve(rev)
    assert store.try_resolve(":/Calm") is not None
    assert started == []


def test_the_cli_and_the_runtime_take_message_search(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_app(["-C", str(repo), "diff", "support/summarize", ":/Friendlier", ":/Calm", "--unified"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "-    content: You summarise support tickets in a friendly tone." in out
    assert "+    content: You summarise support tickets in a calm tone." in out
    with PromptRepo(repo) as prompts:
        assert prompts.get("support/summarize", rev=":/Friendlier").commit == commit_of(repo, "Friendlier summaries")
