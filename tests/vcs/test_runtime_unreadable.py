"""`PromptRepo` whose repository went away (or became unreadable) after it was opened says the
repository cannot be read, never that a prompt does not exist.

Before, the `cat-file` helper started while `.git` was there answered "missing" for every
object it had not read yet, and `get()` raised "support/summarize does not exist at 1a2b3c4d5e".
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
from vcs_helpers import run_git

from workbench.errors import NotFound, PromptError, RepoUnreadable
from workbench.runtime import PromptRepo
from workbench.services import deployments
from workbench.services.session import RepoSession

UNREADABLE = "Git cannot read the repository at"


@pytest.fixture
def deployed(repo: Path) -> Path:
    with RepoSession.open(repo) as ws:
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="launch")
        deployments.promote(ws, "support/summarize", "staging", rev="HEAD", reason="next")
        deployments.promote(ws, "greeting", "prod", reason="launch")
    return repo


def damage(root: Path, how: str, tmp_path: Path) -> None:
    dot_git = root / ".git"
    if how == "moved away":
        shutil.move(dot_git, tmp_path / "elsewhere.git")
    elif how == "replaced by a damaged file":
        shutil.rmtree(dot_git)
        dot_git.write_text("gitdir: nowhere\n")
    else:
        dot_git.chmod(0)


HOWS = [
    "moved away",
    "replaced by a damaged file",
    pytest.param("unreadable", marks=pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")),
]


@pytest.mark.parametrize("how", HOWS)
def test_a_repository_gone_after_open_is_an_error_about_the_repository(deployed: Path, tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture) -> None:
    head = run_git(deployed, "rev-parse", "HEAD~2").strip()
    prompts = PromptRepo(deployed)
    try:
        assert prompts.get("support/summarize", env="prod").version == "support/summarize@v1"  # served once
        damage(deployed, how, tmp_path)
        for ask in (
            lambda: prompts.get("support/summarize", env="staging"),  # deployed, never served
            lambda: prompts.get("greeting", env="prod"),
            lambda: prompts.get("greeting"),
            lambda: prompts.get("support/summarize", rev=head),
            lambda: prompts.get("support/summarize", version=1),
        ):
            with pytest.raises(RepoUnreadable, match=UNREADABLE) as caught:
                ask()
            assert str(deployed) in str(caught.value) and "does not exist" not in str(caught.value)
        # What was served keeps being served (the runtime's promise: it is parsed in memory).
        assert prompts.get("support/summarize", env="prod").version == "support/summarize@v1"
        # A refresh fails and says why, once, in the log.
        with caplog.at_level(logging.WARNING, logger="workbench.runtime"):
            assert prompts.refresh() is False
        assert any(UNREADABLE in r.getMessage() for r in caplog.records)
    finally:
        (deployed / ".git").chmod(0o755) if (deployed / ".git").is_dir() else None
        prompts.close()


def test_a_bare_repository_gone_after_open(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "served.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    with PromptRepo(bare) as prompts:  # (a clone's objects are packed: a helper that read them once keeps reading them)
        shutil.move(bare, tmp_path / "elsewhere.git")
        with pytest.raises(RepoUnreadable, match=f"{UNREADABLE} {bare}"):
            prompts.get("support/summarize", rev="HEAD~2")


def test_missing_things_are_still_not_found(deployed: Path) -> None:
    with PromptRepo(deployed) as prompts:
        with pytest.raises(PromptError, match="does not exist at"):
            prompts.get("no/such-prompt")
        with pytest.raises(NotFound, match="no release support/summarize@v9"):
            prompts.get("support/summarize", version=9)
        with pytest.raises(NotFound, match="not deployed to dev"):
            prompts.get("support/summarize", env="dev")


def test_a_repository_inside_another_never_reads_the_outer_one(repo: Path, tmp_path: Path) -> None:
    """A prompt repository cloned inside the application's own repository: with its `.git`
    gone, git would look in the folders above and answer from the outer repository."""
    run_git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "greeting.yaml").write_text("messages: [{role: user, content: OUTER}]\n")
    run_git(tmp_path, "add", "prompts")
    run_git(tmp_path, "commit", "-qm", "outer")
    with PromptRepo(repo) as prompts:
        assert "OUTER" not in prompts.get("greeting").prompt.source
        shutil.move(repo / ".git", tmp_path / "elsewhere.git")
        prompts._store._git.clear_cache()  # its helpers end too (as when killed): they start again
        with pytest.raises(RepoUnreadable, match=UNREADABLE):
            prompts.get("greeting", rev="HEAD")


@pytest.mark.parametrize("bare", [True, False])
def test_a_repository_replaced_at_its_path_is_read_anew(deployed: Path, tmp_path: Path, bare: bool) -> None:
    """Re-cloned at the same path (rm -rf, git clone): the running `cat-file` helpers kept
    reading the deleted repository's objects, so healthy prompts were "does not exist" or
    "damaged" for good, refresh() or not; the helpers now restart when the objects folder is
    another one."""
    run_git(deployed, "gc", "-q")  # packed, as a clone is: the old helper holds the old pack
    source = tmp_path / "source.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(deployed), str(source))
    served = tmp_path / ("served.git" if bare else "served")
    run_git(tmp_path, "clone", "-q", *(["--bare"] if bare else []), str(source), str(served))
    with PromptRepo(served) as prompts:
        assert prompts.get("support/summarize", env="prod").version == "support/summarize@v1"
        assert prompts.get("support/summarize").commit
        # Upstream moves on (a new commit and deployment); the served clone is replaced by a fresh one.
        with RepoSession.open(deployed) as ws:
            (deployed / "prompts/greeting.yaml").write_text((deployed / "prompts/greeting.yaml").read_text() + "# v2\n")
            run_git(deployed, "commit", "-qam", "greeting v2")
            deployments.promote(ws, "greeting", "prod", reason="v2")
        run_git(source, "fetch", "-q", str(deployed), "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
        shutil.rmtree(served)
        run_git(tmp_path, "clone", "-q", *(["--bare"] if bare else []), str(source), str(served))
        run_git(served, "gc", "-q", "--prune=now")
        assert prompts.get("greeting").commit == run_git(deployed, "rev-parse", "HEAD").strip()
        assert prompts.get("support/summarize", env="staging").commit == run_git(deployed, "rev-parse", "HEAD~1").strip()
        assert prompts.refresh()
        assert prompts.get("greeting", env="prod").commit == run_git(deployed, "rev-parse", "HEAD").strip()
