"""Prompt files whose names are not valid prompt names, and folders whose names are shown
changed (`clean`): the tree keeps every other prompt, and the folders the user opened."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tui_helpers import clock, select, settle, shown_errors, walk

from workbench.tui.app import make_app
from workbench.tui.panes.prompts import PromptsPane

ODD_FOLDER = "ev\u202eil"  # a right-to-left override: shown as a visible stand-in


def add_odd_files(repo: Path) -> None:
    source = repo / "prompts" / "support" / "summarize.yaml"
    shutil.copy(source, repo / "prompts" / "draft@2.yaml")  # '@' separates a name from its version
    (repo / "prompts" / ODD_FOLDER).mkdir()
    shutil.copy(source, repo / "prompts" / ODD_FOLDER / "one.yaml")


async def test_an_untracked_file_with_an_invalid_name_leaves_the_tree_whole(app_repo: Path) -> None:
    """One such file made the whole tree fail to load: an error, and no prompt to browse."""
    add_odd_files(app_repo)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert shown_errors(app) == ""
        rows = {row.name: row.state for row in app.query_one(PromptsPane)._rows}
        assert "support/summarize" in rows and len(rows) >= 10
        assert str(rows["draft@2"]) == str(rows[f"{ODD_FOLDER}/one"]) == "invalid"
        await select(pilot, "draft@2")  # its own error, the app alive
        assert "draft@2" in shown_errors(app) and app.is_running


async def test_a_folder_shown_changed_stays_open_across_a_reload(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Open folders were remembered by their label, the name as shown: a folder whose name
    `clean` changes closed at every reload."""
    from workbench.tui.panes import prompts

    monkeypatch.setattr(prompts, "EXPAND_ALL_ROWS", 3)  # folders start closed
    (app_repo / "prompts" / ODD_FOLDER).mkdir()
    shutil.copy(app_repo / "prompts" / "support" / "summarize.yaml", app_repo / "prompts" / ODD_FOLDER / "one.yaml")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        pane = app.query_one(PromptsPane)
        odd = next(node for node in pane.prompt_tree.root.children if node.data is None and "il/" in str(node.label))
        assert str(odd.label) != ODD_FOLDER + "/" and not odd.is_expanded
        pane.prompt_tree.move_cursor(odd)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        reopened = next(node for node in pane.prompt_tree.root.children if node.data is None and "il/" in str(node.label))
        assert reopened is not odd and reopened.is_expanded
        assert [node.data for node in walk(reopened)] == [f"{ODD_FOLDER}/one"]


def test_an_event_s_fields_stay_on_the_dialog_s_now_line() -> None:
    """The deploy dialog's "now" line kept a line break of the event's `who` (a tag written by
    hand): the rest of the line read as a line of its own, as in `history` before `inline`."""
    from workbench.core.versions import DeploymentEvent
    from workbench.tui.render.preview import event_line

    event = DeploymentEvent(
        tag="deploy/prod/p/20260102030405678-00000000", prompt="p", env="prod", seq="20260102030405678-00000000",
        action="promote", version="p@v2\nback to p@v9", commit="a" * 40, previous_version=None, previous_commit=None,
        reason="r", who="Ana\nprod promote → p@v9 <a@b>", when="2026-01-02T03:04:05.678Z", tests=None, canary=None,
    )
    assert "\n" not in event_line("now", event, "✓ 1/1\n✓ 9/9").plain
