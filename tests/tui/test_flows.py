"""Every flow from the keyboard, asserting the repository afterwards."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from tui_helpers import clock, dialog, editor_refused, open_review, select, settle, shown_errors

from workbench.services import deployment_events, deployments
from workbench.services.session import RepoSession
from workbench.tui.app import make_app


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def summarize_path(root: Path) -> Path:
    return root / "prompts" / "support" / "summarize.yaml"


async def test_commit_flow_creates_the_commit(app_repo: Path) -> None:
    path = summarize_path(app_repo)
    path.write_text(path.read_text().replace("two short sentences", "two sentences"))
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("c")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "CommitScreen"
        await pilot.press(*"Trim the summary rule", "enter")
        await settle(pilot)
    assert git(app_repo, "log", "-1", "--format=%s").strip() == "Trim the summary rule"
    assert "two sentences" in git(app_repo, "show", "HEAD:prompts/support/summarize.yaml")
    assert git(app_repo, "status", "--porcelain").strip() == ""


async def test_the_commit_dialog_keys_do_what_its_help_line_says(app_repo: Path) -> None:
    """It said "tab to the message" while the message had focus, and tab took focus away from it."""
    from textual.widgets import Input, SelectionList

    edit_path = summarize_path(app_repo)
    edit_path.write_text(edit_path.read_text().replace("two short sentences", "two sentences"))
    other = app_repo / "prompts" / "support" / "classify_intent.yaml"
    other.write_text(other.read_text() + "# edited\n")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("c")
        await settle(pilot)
        help_line = str(app.screen.query_one("#commit-keys").render())  # its form that fits 80 columns
        assert help_line == "shift+tab: files, space toggles one · enter commits · esc cancels"
        await pilot.press(*"Trim")  # the message first
        assert app.screen.query_one(Input).value == "Trim"
        await pilot.press("shift+tab")  # the files, space toggles one
        assert isinstance(app.focused, SelectionList)
        await pilot.press("space")
        await pilot.press("tab")  # back to the message
        assert isinstance(app.focused, Input)
        await pilot.press(*" the rule", "enter")
        await settle(pilot)
    assert git(app_repo, "log", "-1", "--format=%s").strip() == "Trim the rule"
    assert git(app_repo, "status", "--porcelain").strip().count("\n") == 0  # one of the two files was left out


async def test_release_tag_flow(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("r")
        await dialog(pilot, "TextPromptScreen")
        await pilot.press(*"first cut", "enter")
        await settle(pilot)
    assert "support/summarize@v1" in git(app_repo, "tag", "--list")
    assert "first cut" in git(app_repo, "tag", "-n5", "--list", "support/summarize@v1")


async def test_promote_then_rollback_in_four_keys_plus_reason(app_repo: Path) -> None:
    first = git(app_repo, "rev-list", "--max-count=1", "HEAD~2").strip()
    head = git(app_repo, "rev-parse", "HEAD").strip()
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        # Promote the first version to prod, then the current one.
        for rev in (first, head):
            app.selected_rev = rev
            await pilot.press("p")
            await dialog(pilot, "ChoiceScreen")
            await pilot.press("3")  # prod is the third environment
            await settle(pilot)
            await pilot.press(*"ship it", "enter")
            await pilot.pause()
            await pilot.press("y")
            await settle(pilot)
        events = git(app_repo, "tag", "--list", "deploy/prod/support/summarize/*").split()
        assert len(events) == 2
        # The on-call path: R, enter (prod is the default), reason, enter, y.
        await pilot.press("R")
        await dialog(pilot, "ChoiceScreen")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "TextPromptScreen"
        await pilot.press("enter")  # an empty reason is refused
        await pilot.pause()
        assert app.screen.__class__.__name__ == "TextPromptScreen"
        await pilot.press(*"summaries too short", "enter")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
    events = sorted(git(app_repo, "tag", "--list", "deploy/prod/support/summarize/*").split())
    assert len(events) == 3
    latest = events[-1]
    message = git(app_repo, "tag", "-l", "--format=%(contents)", latest)
    assert "rollback" in message and "summaries too short" in message
    assert git(app_repo, "rev-parse", f"{latest}^{{commit}}").strip() == first


async def test_cancelled_branch_switch_keeps_uncommitted_edits(app_repo: Path) -> None:
    git(app_repo, "branch", "other")
    path = summarize_path(app_repo)
    edited = path.read_text() + "# my unsaved idea\n"
    path.write_text(edited)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        await pilot.press(*"other", "enter")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "ChoiceScreen"
        await pilot.press("2")  # cancel
        await settle(pilot)
    assert git(app_repo, "branch", "--show-current").strip() == "main"
    assert path.read_text() == edited


async def test_branch_switch_with_stash_and_create(app_repo: Path) -> None:
    git(app_repo, "branch", "other")
    path = summarize_path(app_repo)
    path.write_text(path.read_text() + "# idea\n")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        await pilot.press(*"other", "enter")
        await settle(pilot)
        await pilot.press("1")  # stash, then switch
        await settle(pilot)
        assert git(app_repo, "branch", "--show-current").strip() == "other"
        assert "idea" in git(app_repo, "stash", "show", "-p")
        await pilot.press("b")
        await settle(pilot)
        await pilot.press(*"feature/new-tone", "enter")
        await settle(pilot)
    assert git(app_repo, "branch", "--show-current").strip() == "feature/new-tone"


async def test_the_branch_dialog_refuses_a_name_revisions_read_otherwise(app_repo: Path) -> None:
    """`b`, then `prod`: the app made a branch that every revision `prod` ignored (the
    environment), because it creates branches through the same service as the CLI."""
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        await pilot.press(*"prod", "enter")
        await settle(pilot)
        errors = shown_errors(app)
        assert "cannot create branch 'prod'" in errors and "environment" in errors and "prod-work" in errors, errors
    assert git(app_repo, "branch", "--format=%(refname:short)").split() == ["main"]
    assert git(app_repo, "branch", "--show-current").strip() == "main"


async def test_a_failed_switch_shows_where_the_stashed_changes_are(app_repo: Path) -> None:
    """Git switched, then failed (a post-checkout hook): the app says the changes are in the
    stash and how to get them back; nothing is popped onto the other branch."""
    path = summarize_path(app_repo)
    git(app_repo, "switch", "-qc", "other")
    path.write_text(path.read_text().replace("two short sentences", "their sentences"))
    git(app_repo, "commit", "-qam", "Theirs")
    git(app_repo, "switch", "-q", "main")
    path.write_text(path.read_text().replace("two short sentences", "my sentences"))
    hook = app_repo / ".git" / "hooks" / "post-checkout"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        await pilot.press(*"other", "enter")
        await settle(pilot)
        await pilot.press("1")  # stash, then switch
        await settle(pilot)
        errors = shown_errors(app)
        assert "kept in the stash" in errors and "git stash list" in errors and "git switch main" in errors, errors
        assert app.branch_info[0] == "other"  # reloaded: the screen shows where HEAD is now
    assert "my sentences" in git(app_repo, "stash", "show", "-p")
    assert git(app_repo, "status", "--porcelain") == "" and "<<<<<<<" not in path.read_text()


async def open_editor(pilot) -> Any:  # type: ignore[no-untyped-def]
    """`E` on support/summarize: the in-app editor."""
    await settle(pilot)
    await select(pilot, "support/summarize")
    await pilot.press("E")
    await dialog(pilot, "EditorScreen")  # after the file is read, off the UI thread
    return pilot.app.screen


async def save_asked_twice(pilot, editor: Any, text: str, path: Path, kept: str) -> str:  # type: ignore[no-untyped-def]
    """Save `text`: the editor asks; `n` leaves `kept` on disk; saving again and `y` writes
    `text`. Returns the question asked."""
    editor.query_one("TextArea").text = text
    await pilot.press("ctrl+s")
    await dialog(pilot, "ConfirmScreen")  # after the check, off the UI thread
    question = pilot.app.screen
    await pilot.press("n")
    await settle(pilot)
    assert path.read_text() == kept and pilot.app.screen is editor
    await pilot.press("ctrl+s")
    await dialog(pilot, "ConfirmScreen")
    await pilot.press("y")
    await settle(pilot)
    assert path.read_text() == text
    await pilot.press("escape")
    await settle(pilot)
    return str(question._title)


async def test_inline_editor_refuses_invalid_yaml_unless_confirmed(app_repo: Path) -> None:
    path = summarize_path(app_repo)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        editor = await open_editor(pilot)
        assert await save_asked_twice(pilot, editor, "messages: [\n", path, kept=path.read_text()) == "Save an invalid prompt?"


async def test_inline_editor_never_saves_over_a_change_made_on_disk_without_asking(app_repo: Path) -> None:
    """A teammate's (or another terminal's) change to the file while `E` was open was silently
    overwritten on save ("saved — valid")."""
    path = summarize_path(app_repo)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        editor = await open_editor(pilot)
        outside = path.read_text() + "# EXTERNAL CHANGE\n"
        path.write_text(outside)
        mine = editor.query_one("TextArea").text + "# mine\n"
        assert "changed on disk" in await save_asked_twice(pilot, editor, mine, path, kept=outside)


async def test_inline_editor_on_a_file_that_is_not_utf8_says_so_and_writes_nothing(app_repo: Path) -> None:
    """`E` on a Latin-1 file read it as UTF-8 and raised: the flow died with the decoder's words.
    The editor would have to replace its bytes to show it; it says why it does not open instead."""
    path = summarize_path(app_repo)
    data = path.read_bytes() + "# caf\u00e9\n".encode("latin-1")
    path.write_bytes(data)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        shown = await editor_refused(pilot)
        assert "not UTF-8 text (byte 0xe9 cannot be read as UTF-8)" in shown and "UnicodeDecodeError" not in shown, shown
        await pilot.press("j")  # alive
    assert path.read_bytes() == data


async def test_environments_view_promotes_staging_to_prod(app_repo: Path) -> None:
    with RepoSession.open(app_repo) as ws:
        deployments.promote(ws, "support/summarize", "staging", rev="HEAD~2", reason="old")
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD~2", reason="old")
        deployments.promote(ws, "support/summarize", "staging", rev="HEAD", reason="new")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        screen = app.screen
        assert screen.__class__.__name__ == "EnvironmentsScreen"
        table = screen.query_one("DataTable")
        row = [r.name for r in screen.status.rows].index("support/summarize")  # type: ignore[attr-defined]
        table.move_cursor(row=row)  # type: ignore[attr-defined]
        await pilot.press("p")
        await settle(pilot)
        await pilot.press(*"staging is good", "enter")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
    with RepoSession.open(app_repo) as ws:
        event = deployment_events.current_event(ws, "support/summarize", "prod")
        assert event is not None and event.commit == git(app_repo, "rev-parse", "HEAD").strip()
        assert event.reason == "staging is good"


@pytest.mark.parametrize("key", ["P", "f"])
async def test_push_and_fetch_without_a_remote_explain_themselves(app_repo: Path, key: str) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await pilot.pause()
        if key == "P":
            await pilot.press("y")
        await settle(pilot)
        assert app.is_running


async def test_review_screen_lists_branch_changes(app_repo: Path) -> None:
    git(app_repo, "switch", "-qc", "feature/x")
    path = summarize_path(app_repo)
    path.write_text(path.read_text().replace("two short", "three short"))
    git(app_repo, "commit", "-qam", "Back to three")
    git(app_repo, "switch", "-q", "main")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_review(pilot)
        assert [i.name for i in app.screen.review.items] == ["support/summarize"]  # type: ignore[attr-defined]
        await pilot.press("M")
        await dialog(pilot, "ConfirmScreen")  # after Git names the current branch
        await pilot.press("y")
        await settle(pilot)
    assert "three short" in summarize_path(app_repo).read_text()
