"""Fixtures for the Git layer: small real repositories with prompts in several states."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from vcs_helpers import GREETING, SUMMARIZE, commit_all, run_git, write

from tests.conftest import RepoTemplates
from workbench.services.session import RepoSession


@pytest.fixture
def repo(repo_templates: RepoTemplates, tmp_path: Path) -> Path:
    """A repo on `main` with two prompts: support/summarize (3 commits) and greeting (built once
    per test process, copied for each test: its commits are as old as the test process)."""
    return repo_templates.copy("vcs", build_repo, tmp_path / "repo")


def build_repo(root: Path) -> None:
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


@pytest.fixture
def ws(repo: Path) -> Iterator[RepoSession]:
    workspace = RepoSession.open(repo)
    yield workspace
    workspace.close()

