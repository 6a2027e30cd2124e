"""Branches, switching without losing work, commits, merges and broken repository states."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from vcs_helpers import GREETING, SUMMARIZE, commit_all, run_git, write

from workbench.errors import RepoError
from workbench.services import branches, deployments, diffing, history, prompt_files, releases, test_results
from workbench.services.session import RepoSession


def test_create_list_and_switch_branches(repo: Path, ws: RepoSession) -> None:
    created = branches.create_branch(ws, "feature/tone")
    assert created.name == "feature/tone" and not created.is_current
    assert [b.name for b in branches.branches(ws)] == ["feature/tone", "main"]
    result = branches.switch_branch(ws, "feature/tone")
    assert result.previous == "main" and branches.current_branch(ws) == "feature/tone"
    with pytest.raises(RepoError, match="already exists"):
        branches.create_branch(ws, "main")
    with pytest.raises(RepoError, match="not a valid branch name"):
        branches.create_branch(ws, "bad name..x")
    with pytest.raises(RepoError, match="no branch named"):
        branches.switch_branch(ws, "missing")


def test_switch_refuses_with_changes_and_stash_keeps_them(repo: Path, ws: RepoSession) -> None:
    branches.create_branch(ws, "other")
    edited = GREETING + "# my unsaved idea\n"
    write(repo, "prompts/greeting.yaml", edited)
    write(repo, "prompts/draft.yaml", SUMMARIZE)
    with pytest.raises(RepoError, match=re.escape("uncommitted changes in prompts/draft.yaml, prompts/greeting.yaml")):
        branches.switch_branch(ws, "other")
    assert branches.current_branch(ws) == "main"
    assert (repo / "prompts/greeting.yaml").read_text() == edited
    result = branches.switch_branch(ws, "other", stash=True)
    assert result.stash and "git stash pop" in result.message
    assert branches.current_branch(ws) == "other"
    assert not (repo / "prompts/draft.yaml").exists()
    branches.switch_branch(ws, "main")
    run_git(repo, "stash", "pop")
    assert (repo / "prompts/greeting.yaml").read_text() == edited
    assert (repo / "prompts/draft.yaml").read_text() == SUMMARIZE


def test_commit_only_the_named_prompts(repo: Path, ws: RepoSession) -> None:
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "hi"))
    write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", "terse"))
    write(repo, "prompts/fresh.yaml", GREETING)
    info = branches.commit(ws, ["greeting", "prompts/fresh.yaml"], "Shorter greeting\n\nBecause users asked.")
    assert info.subject == "Shorter greeting" and info.body == "Because users asked."
    changed = run_git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert changed == ["prompts/fresh.yaml", "prompts/greeting.yaml"]
    assert run_git(repo, "status", "--porcelain").strip() == "M prompts/support/summarize.yaml"
    with pytest.raises(RepoError, match="nothing to commit"):
        branches.commit(ws, ["greeting"], "again")
    with pytest.raises(RepoError, match="needs a message"):
        branches.commit(ws, ["support/summarize"], "  ")


def test_commit_deleted_prompt(repo: Path, ws: RepoSession) -> None:
    (repo / "prompts/greeting.yaml").unlink()
    branches.commit(ws, ["prompts/greeting.yaml"], "Drop greeting")
    assert "prompts/greeting.yaml" not in run_git(repo, "ls-files")


def test_commit_without_identity_is_a_clear_error(
    repo: Path, ws: RepoSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    for var in ("EMAIL", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    write(repo, "prompts/greeting.yaml", GREETING + "# x\n")
    with pytest.raises(RepoError, match="does not know who you are") as err:
        branches.commit(ws, ["greeting"], "Edit")
    assert "git config --global user.name" in (err.value.hint or "")


def test_merge_fast_forward_and_merge_commit(repo: Path, ws: RepoSession) -> None:
    branches.create_branch(ws, "ff")
    branches.switch_branch(ws, "ff")
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "hey"))
    branches.commit(ws, ["greeting"], "Hey")
    branches.switch_branch(ws, "main")
    result = branches.merge(ws, "ff")
    assert result.status == "fast-forward"
    assert branches.merge(ws, "ff").status == "up-to-date"
    branches.create_branch(ws, "side")
    write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", "warm"))
    branches.commit(ws, ["support/summarize"], "Warm on main")
    branches.switch_branch(ws, "side")
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "howdy"))
    branches.commit(ws, ["greeting"], "Howdy on side")
    branches.switch_branch(ws, "main")
    merged = branches.merge(ws, "side")
    assert merged.status == "merged"
    assert len(history.commit_info(ws, "HEAD").parents) == 2


def test_merge_conflict_is_reported_and_left_for_the_user(repo: Path, ws: RepoSession) -> None:
    branches.create_branch(ws, "rival")
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "good day"))
    branches.commit(ws, ["greeting"], "Good day")
    branches.switch_branch(ws, "rival")
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "yo"))
    branches.commit(ws, ["greeting"], "Yo")
    branches.switch_branch(ws, "main")
    result = branches.merge(ws, "rival")
    assert result.status == "conflicts"
    assert result.conflicts == ("prompts/greeting.yaml",)
    assert "mid-merge" in result.message
    assert "<<<<<<<" in (repo / "prompts/greeting.yaml").read_text()  # not resolved silently
    assert (repo / ".git/MERGE_HEAD").exists()
    from workbench.core.versions import WorkingState

    assert prompt_files.working_states(ws)["greeting"] is WorkingState.CONFLICTED
    with pytest.raises(RepoError, match=re.escape("a merge is in progress (1 conflicted: prompts/greeting.yaml)")):
        branches.switch_branch(ws, "rival")
    with pytest.raises(RepoError, match="merge is in progress"):
        branches.commit(ws, ["greeting"], "try")


def test_detached_head_and_stale_lock(repo: Path, ws: RepoSession) -> None:
    run_git(repo, "switch", "-q", "--detach", "HEAD~1")
    assert branches.current_branch(ws) is None
    write(repo, "prompts/greeting.yaml", GREETING + "# x\n")
    with pytest.raises(RepoError, match="HEAD is detached"):
        branches.commit(ws, ["greeting"], "Edit")
    with pytest.raises(RepoError, match="HEAD is detached"):
        branches.merge(ws, "main")
    run_git(repo, "checkout", "-q", "--", "prompts/greeting.yaml")
    run_git(repo, "switch", "-q", "main")
    (repo / ".git/index.lock").write_text("")
    write(repo, "prompts/greeting.yaml", GREETING + "# y\n")
    with pytest.raises(RepoError, match=re.escape("index.lock")) as err:
        branches.commit(ws, ["greeting"], "Edit")
    assert "stale" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("lock", "write_it"),
    [
        ("refs/tags/greeting@v1.lock", lambda ws: releases.tag_release(ws, "greeting")),
        ("refs/heads/main.lock", lambda ws: branches.commit(ws, ["greeting"], "Edit")),
        ("refs/notes/workbench.lock", lambda ws: test_results.record_note(ws, "HEAD", "workbench: greeting ✓ 1/1 echo 2026-01-01T00:00:00Z")),
    ],
)
def test_a_stale_ref_lock_is_named_with_what_to_do(repo: Path, ws: RepoSession, lock: str, write_it: Callable[[RepoSession], object]) -> None:
    """A git killed while it wrote a ref (`kill -9` of the whole job: a CI cancel, the OOM killer)
    leaves `<ref>.lock`. The error was git's text cut at six lines, before its "remove the file
    manually to continue", and said neither which file nor that it may be stale."""
    write(repo, "prompts/greeting.yaml", GREETING + "# y\n")
    path = repo / ".git" / lock
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    with pytest.raises(RepoError) as err:
        write_it(ws)
    assert err.value.message == f"another Git process holds {path}"
    assert err.value.hint == f"wait for it to finish; if no git command is running, the lock is stale: delete {path}"
    path.unlink()
    write_it(ws)  # and the same write then works


def test_review_lists_changed_prompts_with_diffs_and_commits(repo: Path, ws: RepoSession) -> None:
    branches.create_branch(ws, "feature")
    branches.switch_branch(ws, "feature")
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "hi there"))
    branches.commit(ws, ["greeting"], "Warmer greeting")
    write(repo, "prompts/added.yaml", SUMMARIZE)
    branches.commit(ws, ["added"], "New prompt")
    branches.switch_branch(ws, "main")
    write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", "main-only"))
    commit_all(repo, "Main moves on")
    review = diffing.review(ws, "feature")
    assert [(i.name, i.change) for i in review.items] == [("added", "added"), ("greeting", "modified")]
    greeting = review.items[1]
    assert [c.subject for c in greeting.commits] == ["Warmer greeting"]
    assert [s.title for s in greeting.diff.changed_sections] == ["message 1 (user)"]
    assert [c.subject for c in review.commits] == ["New prompt", "Warmer greeting"]
    with pytest.raises(RepoError, match="you are on main"):
        diffing.review(ws)


def test_first_commit_in_an_empty_repository(tmp_path: Path) -> None:
    run_git(tmp_path, "init", "-q", "-b", "main")
    write(tmp_path, "prompts/greeting.yaml", GREETING)
    with RepoSession.open(tmp_path) as ws:
        assert branches.current_branch(ws) == "main"
        with pytest.raises(RepoError, match="no commits yet"):
            deployments.promote(ws, "greeting", "dev", reason="too early")
        with pytest.raises(RepoError, match="no commits yet"):
            branches.create_branch(ws, "feature")
        info = branches.commit(ws, ["greeting"], "First prompt")
        assert info.parents == ()
        assert [e.commit.subject for e in history.history(ws, "greeting")] == ["First prompt"]


def test_tests_file_changes_mark_and_travel_with_their_prompt(repo: Path, ws: RepoSession) -> None:
    from workbench.core.versions import WorkingState

    external = SUMMARIZE.split("tests:")[0] + "tests: file://summarize.tests.yaml\n"
    cases = "- description: refund request is flagged\n  vars: {ticket: I want my money back}\n"
    write(repo, "prompts/support/summarize.yaml", external)
    write(repo, "prompts/support/summarize.tests.yaml", cases)
    commit_all(repo, "Tests in a file")
    write(repo, "prompts/support/summarize.tests.yaml", cases + "- description: short\n  vars: {ticket: hi}\n")
    assert prompt_files.working_states(ws)["support/summarize"] is WorkingState.MODIFIED
    assert "support/summarize.tests" not in prompt_files.working_states(ws)
    write(repo, "prompts/support/summarize.tests.yaml", "- description: [broken\n")
    assert prompt_files.working_states(ws)["support/summarize"] is WorkingState.INVALID
    write(repo, "prompts/support/summarize.tests.yaml", cases + "- description: short\n  vars: {ticket: hi}\n")
    branches.commit(ws, ["support/summarize"], "One more case")
    assert run_git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["prompts/support/summarize.tests.yaml"]
    assert run_git(repo, "status", "--porcelain").strip() == ""


def test_diff_and_review_see_changes_to_a_referenced_tests_file(repo: Path, ws: RepoSession) -> None:
    external = SUMMARIZE.split("tests:")[0] + "tests: file://summarize.tests.yaml\n"
    cases = "- description: refund request is flagged\n  vars: {ticket: I want my money back}\n"
    write(repo, "prompts/support/summarize.yaml", external)
    write(repo, "prompts/support/summarize.tests.yaml", cases)
    commit_all(repo, "Tests in a file")
    branches.create_branch(ws, "more-tests")
    branches.switch_branch(ws, "more-tests")
    write(repo, "prompts/support/summarize.tests.yaml", cases + "- description: short\n  vars: {ticket: hi}\n")
    diff = diffing.diff(ws, "support/summarize")
    assert diff.changed
    assert {s.title: s.status for s in diff.changed_sections} == {'test "short"': "added"}
    assert "(tests file)" in diff.unified and "+- description: short" in diff.unified
    branches.commit(ws, ["support/summarize"], "Short case")
    review = diffing.review(ws)
    assert [(i.name, i.change) for i in review.items] == [("support/summarize", "modified")]
    assert [c.subject for c in review.items[0].commits] == ["Short case"]
    assert [s.title for s in review.items[0].diff.changed_sections] == ['test "short"']
