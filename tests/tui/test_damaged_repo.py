"""A damaged repository (a loose object deleted, as a failed disk or a careless `rm` would) in
the app: History shows Git's error and names `git fsck`, never a shorter history or a version
without its deployments; the app stays alive and every prompt the damage does not touch still
reads."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tui_helpers import clock, commit, diff_text, git, select, settle, shown_errors

from workbench.tui.app import make_app
from workbench.tui.panes.history import HistoryPane


def _delete_object(root: Path, spec: str) -> str:
    sha = git(root, "rev-parse", spec)
    (root / ".git" / "objects" / sha[:2] / sha[2:]).unlink()
    return sha


async def test_history_across_a_rename_whose_old_folder_is_gone(app_repo: Path) -> None:
    """Before, History of the renamed prompt held one row (the rename read as its creation)."""
    git(app_repo, "mv", "prompts/support/summarize.yaml", "prompts/ticket_summary.yaml")
    commit(app_repo, "Move the summaries up", "2026-01-12T10:00:00Z")
    sha = _delete_object(app_repo, "HEAD~1:prompts/support")  # what the rename's parent had there
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "ticket_summary")
        history = app.query_one(HistoryPane)
        errors = shown_errors(app)
        assert "Git cannot read the repository" in errors and sha in errors and "git fsck" in errors, errors
        assert history.entries == []
        assert "the history of ticket_summary could not be read" in diff_text(app) and sha in diff_text(app)
        # Alive, and what the damage does not touch still reads.
        await select(pilot, "rag/answer_with_citations")
        assert [r.subject for r in history.entries] == ["Initial prompts"]


async def test_history_of_a_version_whose_deployment_tag_object_is_gone(released_repo: Path) -> None:
    """Before, the version prod runs showed no prod badge: the event read as never made."""
    tag = git(released_repo, "for-each-ref", "--format=%(refname)", "refs/tags/deploy/prod/")
    sha = _delete_object(released_repo, tag)
    assert subprocess.run(["git", "cat-file", "-e", tag], cwd=released_repo).returncode != 0
    app = make_app(released_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        assert app.query_one(HistoryPane).entries == []
        assert "the history of support/summarize could not be read" in diff_text(app) and sha in diff_text(
            app
        )
        errors = shown_errors(app)  # also from the status of every prompt, read when the app opens
        assert "Git cannot read the repository" in errors and sha in errors and "git fsck" in errors, errors
        await pilot.press("w")  # the environments: Git's error again, no table
        await settle(pilot)
        from workbench.tui.screens.environments import EnvironmentsScreen

        assert not isinstance(app.screen, EnvironmentsScreen)
        await select(pilot, "rag/answer_with_citations")
        assert [r.subject for r in app.query_one(HistoryPane).entries] == ["Initial prompts"]
