"""`switch --stash` never loses work, and says where it is when a switch fails.

The changes are stashed, then `git switch` runs. When it fails, they are put back only where
they came from (HEAD did not move); a stash entry that does not apply is reported, never
ignored. Before, a failed pop was silent: after a switch that failed once HEAD had moved (a
`post-checkout` hook that exits 1), the changes were popped onto the other branch, conflicted
with it, and the user saw only "git switch failed", with conflict markers in the file and the
rest of the work left in the stash unannounced.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from vcs_helpers import SUMMARIZE, commit_all, run_git, write

from workbench.cli import run_app
from workbench.errors import RepoError
from workbench.services import branches
from workbench.services.session import RepoSession

PROMPT = "prompts/support/summarize.yaml"
MINE = SUMMARIZE.replace("neutral", "my unsaved")
THEIRS = SUMMARIZE.replace("neutral", "their")


@pytest.fixture
def diverged(repo: Path) -> Path:
    """`repo` with branch `other` that changed summarize, and uncommitted edits on main that
    conflict with it (plus an untracked file)."""
    run_git(repo, "switch", "-qc", "other")
    write(repo, PROMPT, THEIRS)
    commit_all(repo, "Their tone")
    run_git(repo, "switch", "-q", "main")
    write(repo, PROMPT, MINE)
    write(repo, "prompts/new.yaml", "messages: [{role: user, content: new}]\n")
    return repo


def failing_hook(root: Path) -> None:
    """A post-checkout hook that fails: git has switched, then exits with the hook's status."""
    hook = root / ".git" / "hooks" / "post-checkout"
    hook.write_text("#!/bin/sh\necho 'hook: not today' >&2\nexit 1\n")
    hook.chmod(0o755)


def stash_entries(root: Path) -> list[str]:
    return run_git(root, "stash", "list", "--format=%H").split()


def assert_kept(root: Path, message: str) -> None:
    """The error names the stash, the working copy holds no half-applied conflict, and the
    changes come back whole from the stash on the branch they were made on."""
    (entry,) = stash_entries(root)
    assert "git stash list" in message and entry[:10] in message, message
    assert "<<<<<<<" not in (root / PROMPT).read_text()
    assert run_git(root, "status", "--porcelain") == ""
    (root / ".git" / "hooks" / "post-checkout").unlink()
    run_git(root, "switch", "-q", "main")
    run_git(root, "stash", "pop", "--index")
    assert (root / PROMPT).read_text() == MINE and (root / "prompts/new.yaml").is_file()


def test_a_switch_that_failed_after_moving_head_keeps_the_changes_in_the_stash(diverged: Path) -> None:
    failing_hook(diverged)
    with RepoSession.open(diverged) as ws, pytest.raises(RepoError) as caught:
        branches.switch_branch(ws, "other", stash=True)
    message = str(caught.value)
    assert "switching to other failed" in message and "HEAD is now on other" in message
    assert "git switch main" in message and "git stash pop" in message
    assert_kept(diverged, message)


def test_the_cli_exits_2_and_says_where_the_changes_are(diverged: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failing_hook(diverged)
    code = run_app(["-C", str(diverged), "switch", "other", "--stash"])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert_kept(diverged, err)


def test_a_switch_that_failed_in_place_puts_the_changes_back(diverged: Path) -> None:
    """Git refuses a tree with a `.git/x` entry before touching anything: HEAD stays, the
    changes are put back, and the switch's own error is reported."""
    evil = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=diverged, input="evil\n", capture_output=True, text=True, check=True).stdout.strip()
    sub = subprocess.run(["git", "mktree"], cwd=diverged, input=f"100644 blob {evil}\tx\n", capture_output=True, text=True, check=True).stdout.strip()
    head_tree = run_git(diverged, "ls-tree", "HEAD")
    tree = subprocess.run(["git", "mktree"], cwd=diverged, input=head_tree + f"040000 tree {sub}\t.git\n", capture_output=True, text=True, check=True).stdout.strip()
    commit = run_git(diverged, "commit-tree", tree, "-p", "HEAD", "-m", "evil").strip()
    run_git(diverged, "branch", "evil", commit)
    with RepoSession.open(diverged) as ws, pytest.raises(RepoError, match="invalid path"):
        branches.switch_branch(ws, "evil", stash=True)
    assert run_git(diverged, "branch", "--show-current").strip() == "main"
    assert (diverged / PROMPT).read_text() == MINE and (diverged / "prompts/new.yaml").is_file()
    assert stash_entries(diverged) == []


def test_a_stash_entry_that_does_not_apply_is_an_error_and_is_kept(diverged: Path) -> None:
    """A real conflict: the entry made on main, popped on `other`."""
    with RepoSession.open(diverged) as ws:
        entry = ws.store.stash_push("mine")
        run_git(diverged, "switch", "-q", "other")
        with pytest.raises(RepoError, match=r"Merge conflict in prompts/support/summarize\.yaml") as caught:
            ws.store.stash_pop(entry)
    assert "kept" in str(caught.value) and "git stash list" in str(caught.value)
    assert stash_entries(diverged) == [entry]
    # What was half-applied (conflict markers, the untracked file) can go: the entry has it all.
    run_git(diverged, "reset", "-q", "--hard")
    run_git(diverged, "clean", "-qfd", "prompts")
    run_git(diverged, "switch", "-q", "main")
    run_git(diverged, "stash", "pop", "--index")
    assert (diverged / PROMPT).read_text() == MINE


def test_popping_checks_it_is_our_entry(diverged: Path) -> None:
    with RepoSession.open(diverged) as ws:
        entry = ws.store.stash_push("mine")
        write(diverged, "prompts/greeting.yaml", "messages: [{role: user, content: other work}]\n")
        run_git(diverged, "stash", "push", "-q", "-m", "someone else's")
        with pytest.raises(RepoError, match="not the newest"):
            ws.store.stash_pop(entry)
    assert len(stash_entries(diverged)) == 2


def test_the_stores_never_count_as_changes_in_a_repository_workbench_did_not_make(prompt_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A repository made with `git init` has no `.workbench/` line in its `.gitignore` (only
    `workbench init` writes one): after a test run its stores blocked `switch` as uncommitted
    changes ("commit them"), and `switch --stash` put the results and the cache in the stash."""
    (prompt_repo / ".gitignore").unlink()
    (prompt_repo / "workbench.yaml").write_text("model: {provider: echo}\n")
    run_git(prompt_repo, "add", "-A")
    run_git(prompt_repo, "commit", "-q", "-m", "echo")
    assert run_app(["-C", str(prompt_repo), "test", "support/summarize"]) in (0, 1)
    assert run_git(prompt_repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert run_app(["-C", str(prompt_repo), "branch", "feat"]) == 0
    assert run_app(["-C", str(prompt_repo), "switch", "feat"]) == 0, capsys.readouterr().err
    assert (prompt_repo / ".workbench" / "results.sqlite").is_file()
