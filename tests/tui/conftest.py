"""Fixtures for the app: a small repository with history (helpers live in tui_helpers).

Each is built once per test process (`repo_templates`) and copied for each test, at the path
`prompt_repo` has (`tmp_path / "repo"`): a test asks for one of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import NOW, commit, edit, git

from tests.conftest import RepoTemplates, build_prompt_repo

SUMMARIZE = "prompts/support/summarize.yaml"


@pytest.fixture
def app_repo(repo_templates: RepoTemplates, tmp_path: Path) -> Path:
    """The sample prompts plus a second version of support/summarize, released and deployed."""
    return repo_templates.copy("app", build_app_repo, tmp_path / "repo")


@pytest.fixture
def released_repo(repo_templates: RepoTemplates, tmp_path: Path) -> Path:
    """support/summarize with five versions by three authors, three releases and deployments to
    dev, staging and prod (prod one release behind): the History a lead browses."""
    return repo_templates.copy("released", lambda root: build_released_repo(root, repo_templates), tmp_path / "repo")


@pytest.fixture
def long_history_repo(repo_templates: RepoTemplates, tmp_path: Path) -> Path:
    """support/summarize with 40 versions: more than a pane shows."""
    return repo_templates.copy("long-history", lambda root: build_long_history_repo(root, repo_templates), tmp_path / "repo")


@pytest.fixture
def branched_repo(repo_templates: RepoTemplates, tmp_path: Path) -> Path:
    """`released_repo` plus: `feature/tone` changed summarize and was merged into main while main
    moved on; `experiment/short` changed summarize and is not merged; prod went v2 → v3 → v2."""
    return repo_templates.copy("branched", lambda root: build_branched_repo(root, repo_templates), tmp_path / "repo")


def build_app_repo(prompt_repo: Path) -> None:
    build_prompt_repo(prompt_repo)
    path = prompt_repo / "prompts" / "support" / "summarize.yaml"
    path.write_text(
        path.read_text().replace("Write at most three short sentences.", "Write at most two short sentences.")
    )
    commit(
        prompt_repo, "Shorter summaries [bold]now[/]", "2026-01-10T10:00:00Z", "Ben Okafor <ben@example.com>"
    )
    (prompt_repo / "workbench.yaml").write_text("model: {provider: echo}\n")
    commit(prompt_repo, "Use echo for runs", "2026-01-11T10:00:00Z")


def build_released_repo(app_repo: Path, templates: RepoTemplates) -> None:
    from workbench.services import deployments, releases
    from workbench.services.session import RepoSession

    templates.copy("app", build_app_repo, app_repo)
    path = app_repo / "prompts" / "support" / "summarize.yaml"
    edits = [
        (
            "Write at most two short sentences.",
            "Write at most two short sentences. Name the order.",
            "Name the order when there is one",
            "2026-01-20T09:00:00Z",
            "Chen Wei <chen@example.com>",
        ),
        (
            "Name the order.",
            "Name the order and the product.",
            "Mention the product too, so that on-call knows which team",
            "2026-01-27T16:30:00Z",
            "Ana Lopez <ana@example.com>",
        ),
    ]
    for old, new, message, date, author in edits:
        path.write_text(path.read_text().replace(old, new))
        commit(app_repo, message, date, author)
    with RepoSession.open(app_repo) as ws:
        ws.clock = lambda: NOW
        releases.tag_release(ws, "support/summarize", "HEAD~3", note="first cut")
        releases.tag_release(ws, "support/summarize", "HEAD~1", note="orders named")
        releases.tag_release(ws, "support/summarize", "HEAD", note="products named")
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="orders named")
        deployments.promote(ws, "support/summarize", "staging", rev="HEAD", reason="try products")
        deployments.promote(ws, "support/summarize", "dev", rev="HEAD", reason="try products")


def build_long_history_repo(app_repo: Path, templates: RepoTemplates) -> None:
    templates.copy("app", build_app_repo, app_repo)
    path = app_repo / "prompts" / "support" / "summarize.yaml"
    for n in range(40):
        path.write_text(
            path.read_text().replace("short sentences.", f"short sentences. ({n})", 1)
            if n == 0
            else path.read_text().replace(f"({n - 1})", f"({n})")
        )
        commit(app_repo, f"Revision {n}", f"2026-01-{12 + n // 4:02d}T{10 + n % 4:02d}:00:00Z")


def build_branched_repo(root: Path, templates: RepoTemplates) -> None:
    from workbench.services import deployments
    from workbench.services.session import RepoSession

    templates.copy("released", lambda released: build_released_repo(released, templates), root)
    with RepoSession.open(root) as ws:
        ws.clock = lambda: NOW
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="products named")
        deployments.rollback(ws, "support/summarize", "prod", reason="orders named twice")
    git(root, "switch", "-qc", "feature/tone")
    edit(root, SUMMARIZE, "short sentences.", "short, warm sentences.")
    commit(root, "Warm tone", "2026-01-28T10:00:00Z", "Chen Wei <chen@example.com>")
    git(root, "switch", "-q", "main")
    (root / "notes.txt").write_text("unrelated\n")
    commit(root, "Unrelated note", "2026-01-28T12:00:00Z")
    git(root, "merge", "-q", "--no-ff", "feature/tone", "-m", "Merge feature/tone", date="2026-01-29T10:00:00Z")
    git(root, "switch", "-qc", "experiment/short", "HEAD~1")
    edit(root, SUMMARIZE, "Write at most two", "Write one")
    commit(root, "One sentence only", "2026-01-30T10:00:00Z", "Ben Okafor <ben@example.com>")
    git(root, "switch", "-q", "main")
