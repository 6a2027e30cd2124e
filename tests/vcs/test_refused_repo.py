"""A repository Git refuses to open (owned by another user: "detected dubious ownership")
gives Git's own error on every command, never a wrong answer ("no history", "no commits yet",
"unknown revision").

Git (>= 2.35.2) treats every repository as another user's when GIT_TEST_ASSUME_DIFFERENT_OWNER
is set: the real check, on a real repository, without changing owners (which needs root).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from vcs_helpers import run_git

from workbench.cli import run_app
from workbench.errors import RepoError
from workbench.services import history
from workbench.services.session import RepoSession
from workbench.vcs.store import GitStore

REFUSED = "detected dubious ownership in repository"


@pytest.fixture
def refused(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`repo`, which Git now refuses as another user's (checked with git itself)."""
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
    found = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    assert found.returncode == 128 and REFUSED in found.stderr, "this git does not honour GIT_TEST_ASSUME_DIFFERENT_OWNER"
    return repo


def cli(capsys: pytest.CaptureFixture[str], repo: Path, *args: str) -> tuple[int, str, str]:
    code = run_app(["-C", str(repo), *args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code: int, out: str, err: str, repo: Path) -> None:
    assert code == 2, (out, err)
    assert REFUSED in err
    assert f"git config --global --add safe.directory {repo}" in err  # git's own hint, kept


@pytest.mark.parametrize(
    "args",
    [
        ["log", "support/summarize"],
        ["log", "support/summarize", "--json"],
        ["diff", "support/summarize"],
        ["diff", "support/summarize", "HEAD~2", "HEAD"],
        ["tag", "support/summarize"],
        ["compare", "support/summarize", "HEAD~2", "HEAD"],
        ["status"],
        ["branch"],
    ],
    ids=lambda args: " ".join(args),
)
def test_every_command_shows_gits_refusal(refused: Path, capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = cli(capsys, refused, *args)
    assert_refused(code, out, err, refused)
    assert "no history" not in out + err and "no commits yet" not in err and "unknown revision" not in err


def test_nothing_was_tagged(refused: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(capsys, refused, "tag", "support/summarize")[0] == 2
    monkeypatch.delenv("GIT_TEST_ASSUME_DIFFERENT_OWNER")
    assert run_git(refused, "tag", "--list") == ""


def test_store_reads_raise_instead_of_answering_missing(refused: Path) -> None:
    with GitStore.open(refused) as store:
        for read in (
            store.has_commits,
            lambda: store.try_resolve("HEAD~2"),
            lambda: store.resolve("HEAD~2"),
            lambda: store.read_text("HEAD", "prompts/greeting.yaml"),
            lambda: store.blob_sha("HEAD", "prompts/greeting.yaml"),
            lambda: store.tag_exists("greeting@v1"),
            lambda: store.ref_exists("refs/heads/main"),
            lambda: store.current_branch(),
            lambda: store.merge_base("HEAD", "HEAD~1"),
            lambda: store.last_commit_touching("HEAD", ["prompts"]),
            lambda: store.first_parent_line("HEAD"),
            lambda: store.log_path("prompts/greeting.yaml"),
            lambda: store.list_prompt_files("HEAD"),
            lambda: store.tag_targets("refs/tags/"),
            lambda: store.remote_url("origin"),
            lambda: store.commit_count(),
        ):
            with pytest.raises(RepoError, match=REFUSED):
                read()


def test_history_service_raises(refused: Path) -> None:
    with RepoSession.open(refused) as session, pytest.raises(RepoError, match=REFUSED):
        history.history(session, "support/summarize")


def test_missing_things_are_still_answers(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The other side: what git says is not there stays "not there", not an error."""
    with GitStore.open(repo) as store:
        assert store.try_resolve("HEAD~9") is None and store.try_resolve("no-such-branch") is None
        assert store.read_text("HEAD", "prompts/none.yaml") is None and store.blob_sha("HEAD~9", "x") is None
        assert not store.tag_exists("greeting@v1") and not store.ref_exists("refs/heads/nope")
        assert store.last_commit_touching("HEAD", ["prompts/none.yaml"]) is None
        assert store.first_parent_line("no-such-branch") == [] and store.remote_url("origin") is None
        assert store.has_commits() and store.read_text("HEAD", "prompts/greeting.yaml")
    code, _out, err = cli(capsys, repo, "compare", "support/summarize", "HEAD~9", "HEAD")
    assert code == 2 and "unknown revision 'HEAD~9'" in err


def test_an_empty_repository_still_has_no_commits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "greeting.yaml").write_text("messages:\n  - role: user\n    content: hi\n")
    with GitStore.open(tmp_path) as store:
        assert not store.has_commits() and store.log_path("prompts/greeting.yaml") == []
    code, _out, err = cli(capsys, tmp_path, "diff", "greeting", "HEAD", "WORKTREE")
    assert code == 2 and "no commits yet" in err
