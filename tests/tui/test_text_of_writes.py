"""Writing flows that ask for text (the commit message, a rollback's reason): the text is never
asked for a write Git would refuse, and never lost when a write fails."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tui_helpers import clock, select, settle, shown_errors

from workbench.tui.app import make_app

SUMMARIZE = "prompts/support/summarize.yaml"
ODD = "prompts/mk/esc\x1b[31mred.yaml"  # an untracked file whose name is no prompt name


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def modify(root: Path, path: str = SUMMARIZE) -> None:
    file = root / path
    file.write_text(file.read_text() + "# changed\n")


@pytest.fixture
def no_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Git does not know who you are: no user.* anywhere, none in the environment."""
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)


async def close_error(pilot) -> None:  # type: ignore[no-untyped-def]
    from workbench.tui.screens.error import ErrorScreen

    if isinstance(pilot.app.screen, ErrorScreen):
        await pilot.press("escape")
        await pilot.pause()


def commit_dialog(app):  # type: ignore[no-untyped-def]
    from workbench.tui.screens.commit import CommitScreen

    return app.screen if isinstance(app.screen, CommitScreen) else None


async def test_without_an_identity_the_commit_dialog_says_so_before_the_message(app_repo: Path, no_identity: None) -> None:
    """The message was typed, Enter said "Git does not know who you are", and the message was gone."""
    modify(app_repo)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert [type(screen).__name__ for screen in app.screen_stack[1:]] == ["ErrorScreen"]
        assert "Git does not know who you are" in shown_errors(app)
    assert git(app_repo, "status", "--porcelain").strip() == f"M {SUMMARIZE}"


async def test_without_an_identity_rollback_says_so_before_the_environment_and_reason(released_repo: Path, no_identity: None) -> None:
    """Rollback let the on-call engineer choose prod, type the reason and confirm, then failed."""
    tags = git(released_repo, "tag", "--list")
    app = make_app(released_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("R")
        await settle(pilot)
        asked = [type(screen).__name__ for screen in app.screen_stack[1:]]
        assert asked == ["ErrorScreen"]  # the error alone: neither the environment nor the reason asked
        assert "Git does not know who you are" in shown_errors(app)
    assert git(released_repo, "tag", "--list") == tags
