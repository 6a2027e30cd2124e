"""Fixtures for the app: a small repository with history (helpers live in tui_helpers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import commit


@pytest.fixture
def app_repo(prompt_repo: Path) -> Path:
    """The sample prompts plus a second version of support/summarize, released and deployed."""
    path = prompt_repo / "prompts" / "support" / "summarize.yaml"
    path.write_text(path.read_text().replace("Write at most three short sentences.", "Write at most two short sentences."))
    commit(prompt_repo, "Shorter summaries [bold]now[/]", "2026-01-10T10:00:00Z", "Ben Okafor <ben@example.com>")
    (prompt_repo / "workbench.yaml").write_text("model: {provider: echo}\n")
    commit(prompt_repo, "Use echo for runs", "2026-01-11T10:00:00Z")
    return prompt_repo
