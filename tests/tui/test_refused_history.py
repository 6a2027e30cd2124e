"""A repository Git stops accepting while the app is open (its owner changed: "detected dubious
ownership"): the app shows Git's error, never an empty or another prompt's History."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tui_helpers import clock, diff_text, select, settle, shown_errors

from workbench.tui.app import make_app
from workbench.tui.panes.history import HistoryPane

REFUSED = "detected dubious ownership in repository"


async def test_history_shows_gits_refusal(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        history = app.query_one(HistoryPane)
        assert [r.subject for r in history.entries][-1] == "Initial prompts"
        # Git refuses the repository from now on (GIT_TEST_ASSUME_DIFFERENT_OWNER: Git's own
        # check, as for a checkout chown'ed to another user), and the session's long-lived
        # `cat-file` helpers, started before, are started again (as after they ended).
        monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
        refused = subprocess.run(["git", "status"], cwd=app_repo, capture_output=True, text=True)
        assert REFUSED in refused.stderr, "this git does not honour GIT_TEST_ASSUME_DIFFERENT_OWNER"
        assert app.session is not None
        app.session.store._git.clear_cache()
        await select(pilot, "support/triage_ticket")
        errors = shown_errors(app)
        assert REFUSED in errors and "safe.directory" in errors, errors
        # History holds no rows (not another prompt's, not an empty "no history" list loaded for triage_ticket)
        assert app.browse.entries_of != "support/triage_ticket"
        assert history.entries == []
        assert "the history of support/triage_ticket could not be read" in diff_text(app) and REFUSED in diff_text(app)


async def test_a_timeline_event_shows_gits_refusal(branched_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, the versions of the event read as "none": "support/summarize has no such version"."""
    from textual.widgets import DataTable

    from workbench.tui.screens.timeline import TimelineScreen

    app = make_app(branched_repo, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
        assert app.session is not None
        app.session.store._git.clear_cache()
        screen.query_one(DataTable).move_cursor(row=next(i for i, e in enumerate(screen.shown) if e.kind == "rollback"))
        await pilot.press("enter")
        await settle(pilot)
        errors = shown_errors(app)
        assert REFUSED in errors and "no such version" not in errors, errors
