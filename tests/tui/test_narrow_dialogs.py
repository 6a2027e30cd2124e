"""At 80x24 (the smallest size the app supports) the dialogs' lines of keys, the timeline's title
and the help's actions are read whole: nothing wraps mid-sentence, nothing is cut mid-word."""

from __future__ import annotations

from pathlib import Path

from rich.cells import cell_len
from textual.widget import Widget
from tui_helpers import clock, settle

from workbench.tui.app import make_app


def one_whole_line(widget: Widget) -> str:
    text = str(widget.render())
    assert widget.size.height == 1 and "\n" not in text and cell_len(text) <= widget.size.width, (widget.size, text)
    return text


async def test_the_commit_dialogs_keys_fit_one_line_at_80x24(app_repo: Path) -> None:
    """"type the message · shift+tab: the files, space toggles one · enter commits · esc cancels"
    broke across two lines above the file list."""
    path = app_repo / "prompts" / "support" / "summarize.yaml"
    path.write_text(path.read_text() + "# changed\n")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        keys = one_whole_line(app.screen.query_one("#commit-keys"))
        assert "shift+tab" in keys and "enter commits" in keys and "esc cancels" in keys
    async with make_app(app_repo, clock=clock).run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert one_whole_line(pilot.app.screen.query_one("#commit-keys")).startswith("type the message · ")


async def test_the_timeline_title_fits_one_line_at_80x24(branched_repo: Path) -> None:
    """"… 6 of 6 events, newest" / "first": the title wrapped, and its last word took a line."""
    app = make_app(branched_repo, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        title = one_whole_line(app.screen.query_one("#timeline-title"))
        assert "environment: all (e)" in title and "prompt: all (/)" in title and "events" in title
    async with make_app(branched_repo, clock=clock).run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        assert one_whole_line(pilot.app.screen.query_one("#timeline-title")).endswith("events, newest first")


async def test_help_shows_every_action_whole_at_80x24(app_repo: Path) -> None:
    """"Timeline: every release and deployment, al": the table was wider than the dialog and cut
    the action column mid-word (its end reachable only by scrolling sideways)."""
    from workbench.tui.actions import ACTIONS

    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        table = app.screen.query_one("#help-table")
        assert table.virtual_size.width <= table.scrollable_content_region.width
        timeline = next(a.description for a in ACTIONS if a.description.startswith("Timeline:"))
        cells = [table.get_row_at(i)[2] for i in range(table.row_count)]
        assert timeline in [cell.plain for cell in cells]
        one_whole_line(app.screen.query_one("#help-keys"))
