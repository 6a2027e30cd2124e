"""Writing flows that ask for text (the commit message, a rollback's reason): the text is never
asked for a write Git would refuse, and never lost when a write fails."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from textual.widgets import Input, SelectionList
from tui_helpers import clock, dialog, select, settle, shown_errors

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


async def test_a_failed_commit_keeps_the_message_for_the_next_attempt(app_repo: Path) -> None:
    """A commit that fails (here another git's `index.lock`) threw the typed message away: `c`
    again opened an empty field. It is kept, across a cancel too, until a commit succeeds."""
    modify(app_repo)
    lock = app_repo / ".git" / "index.lock"
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        lock.write_text("")
        await pilot.press("c")
        await settle(pilot)
        await pilot.press(*"Explain the summary rule", "enter")
        await settle(pilot)
        assert commit_dialog(app) is None and "index.lock" in shown_errors(app)
        await close_error(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert app.screen.query_one(Input).value == "Explain the summary rule"
        await pilot.press("escape")  # a cancel keeps it as well
        await settle(pilot)
        lock.unlink()
        await pilot.press("c")
        await settle(pilot)
        await pilot.press(*" better", "enter")
        await settle(pilot)
        assert git(app_repo, "log", "-1", "--format=%s").strip() == "Explain the summary rule better"
        modify(app_repo, "prompts/support/classify_intent.yaml")
        await pilot.press("c")  # committed: the next commit starts from an empty message
        await settle(pilot)
        assert app.screen.query_one(Input).value == ""


async def test_a_file_that_cannot_be_committed_is_listed_but_not_ticked(app_repo: Path) -> None:
    """An untracked file whose name is no prompt name was ticked; Enter failed with "invalid
    prompt name" (and lost the message). It is shown, unticked and not tickable, with why."""
    modify(app_repo)
    odd = app_repo / ODD
    odd.parent.mkdir(parents=True)
    odd.write_text((app_repo / SUMMARIZE).read_text())
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        files = app.screen.query_one(SelectionList)
        assert files.selected == ["support/summarize"]
        odd_option = next(files.get_option_at_index(i) for i in range(files.option_count) if "esc" in str(files.get_option_at_index(i).prompt))
        assert odd_option.disabled and "invalid name" in str(odd_option.prompt)
        assert "\x1b" not in str(odd_option.prompt)
        await pilot.press(*"Explain the summary rule", "enter")
        await settle(pilot)
        assert commit_dialog(app) is None, shown_errors(app)
    assert git(app_repo, "log", "-1", "--format=%s").strip() == "Explain the summary rule"
    assert git(app_repo, "show", "--name-only", "--format=", "HEAD").split() == [SUMMARIZE]
    assert odd.exists() and git(app_repo, "status", "--porcelain").startswith("??")


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


async def test_a_failed_rollback_keeps_its_reason_for_the_next_attempt(app_repo: Path) -> None:
    """The reason typed at night, lost with the write that failed (here another git's lock)."""
    from tui_helpers import NOW

    from workbench.services import deployments
    from workbench.services.session import RepoSession
    from workbench.tui.screens.dialogs import TextPromptScreen

    with RepoSession.open(app_repo) as session:
        session.clock = lambda: NOW
        deployments.promote(session, "support/summarize", "prod", rev="HEAD~2", reason="first")
        deployments.promote(session, "support/summarize", "prod", rev="HEAD~1", reason="second")
    lock = app_repo / ".git" / "index.lock"
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("R")
        await dialog(pilot, "ChoiceScreen")
        await pilot.press("enter")  # prod
        await settle(pilot)
        await pilot.press(*"summaries too short", "enter")
        await pilot.pause()
        lock.write_text("")
        await pilot.press("y")
        await settle(pilot)
        assert "index.lock" in shown_errors(app)
        await close_error(pilot)
        lock.unlink()
        await pilot.press("R")
        await dialog(pilot, "ChoiceScreen")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TextPromptScreen)
        assert app.screen.query_one(Input).value == "summaries too short"
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
    events = sorted(git(app_repo, "tag", "--list", "deploy/prod/support/summarize/*").split())
    assert len(events) == 3 and "summaries too short" in git(app_repo, "tag", "-l", "--format=%(contents)", events[-1])


async def test_a_failed_release_keeps_its_note_for_the_next_attempt(app_repo: Path) -> None:
    """Only the commit message and a deployment's reason were kept; a release note typed for a
    tag that could not be written (here another git's lock) was lost."""
    from workbench.tui.screens.dialogs import TextPromptScreen

    lock = app_repo / ".git" / "index.lock"
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, TextPromptScreen)
        await pilot.press(*"calmer tone")
        lock.write_text("")
        await pilot.press("enter")
        await settle(pilot)
        assert "index.lock" in shown_errors(app)
        await close_error(pilot)
        lock.unlink()
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, TextPromptScreen)
        assert app.screen.query_one(Input).value == "calmer tone"
