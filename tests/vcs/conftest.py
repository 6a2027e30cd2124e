"""Fixtures for the Git layer: small real repositories with prompts in several states."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from vcs_helpers import GREETING, SUMMARIZE, commit_all, run_git, write

from workbench.services.session import RepoSession


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repo on `main` with two prompts: support/summarize (3 commits) and greeting."""
    root = tmp_path / "repo"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")
    write(root, ".gitignore", ".workbench/\n")
    write(root, "prompts/support/summarize.yaml", SUMMARIZE)
    write(root, "prompts/greeting.yaml", GREETING)
    commit_all(root, "Add prompts")
    write(root, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", "friendly"))
    commit_all(root, "Friendlier summaries")
    write(root, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", "calm"))
    commit_all(root, "Calm summaries")
    return root


@pytest.fixture
def ws(repo: Path) -> Iterator[RepoSession]:
    workspace = RepoSession.open(repo)
    yield workspace
    workspace.close()

