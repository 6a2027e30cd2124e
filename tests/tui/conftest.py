"""Fixtures for the app: a small repository with history, and a fixed clock."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def commit(root: Path, message: str, date: str, author: str = "Ana Lopez <ana@example.com>") -> None:
    env = dict(os.environ, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "--author", author, "-m", message], cwd=root, check=True, env=env)


@pytest.fixture
def app_repo(prompt_repo: Path) -> Path:
    """The sample prompts plus a second version of support/summarize, released and deployed."""
    path = prompt_repo / "prompts" / "support" / "summarize.yaml"
    path.write_text(path.read_text().replace("Write at most three short sentences.", "Write at most two short sentences."))
    commit(prompt_repo, "Shorter summaries [bold]now[/]", "2026-01-10T10:00:00Z", "Ben Okafor <ben@example.com>")
    (prompt_repo / "workbench.yaml").write_text("model: {provider: echo}\n")
    commit(prompt_repo, "Use echo for runs", "2026-01-11T10:00:00Z")
    return prompt_repo


def clock() -> datetime:
    return NOW
