"""The app at the sizes people use (120x36, 100x30, 80x24): what each pane shows, zoom, mouse,
Tab inside dialogs and themes, driven with Pilot on real repositories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.widgets import Input, OptionList, Static
from tui_helpers import ab_run, clock, select, settle

from workbench.tui.app import make_app
from workbench.tui.panes.diff import DiffPane
from workbench.tui.panes.history import HistoryPane
from workbench.tui.panes.prompts import PromptsPane
from workbench.tui.panes.tests import TestsPane


async def test_history_shows_its_columns_and_40_characters_of_message_at_120x36(released_repo: Path) -> None:
    app = make_app(released_repo, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        history = app.query_one(HistoryPane)
        fit = history._fit
        assert fit is not None
        assert all(fit.has(key) for key in ("commit", "when", "author", "tests", "message"))
        assert fit.widths["message"] >= 40
        first = "".join(cell.plain for cell in history.get_row_at(0))
        assert (
            "‹v3›" in first and "[dev]" in first and "[staging]" in first and "Mention the product" in first
        )
        # The tree takes the lines it needs, History the rest.
        prompts = app.query_one(PromptsPane)
        assert prompts.size.height == prompts.prompt_tree.visible_lines() + 1
        column = prompts.parent
        assert column is not None
        others = sum(w.outer_size.height for w in column.children if w not in (prompts, history))
        assert prompts.outer_size.height + history.outer_size.height + others == column.size.height


async def test_ab_run_shows_every_case_and_both_verdicts_at_120x36_and_100x30(app_repo: Path) -> None:
    for size in ((120, 36), (100, 30)):
        app = make_app(app_repo, clock=clock)
        async with app.run_test(size=size) as pilot:
            await ab_run(pilot)
            pane = app.query_one(TestsPane)
            table = pane.table
            assert [str(c.label).strip() for c in table.columns.values()][:1] == ["case"]
            assert len(table.columns) == 3  # case, A, B
            assert table.row_count == 6
            assert table.size.height >= 1 + 6  # the header and every row are on screen
            assert sum(c.get_render_width(table) for c in table.columns.values()) <= table.size.width
            header = pane.query_one("#tests-header", Static)
            assert header.size.height == 1  # the title and provider on one line


async def test_result_cells_separate_their_fields_with_units(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await ab_run(pilot)
        await pilot.press("plus")  # half screen: the Tests pane takes the whole width
        await settle(pilot)
        row = [cell.plain for cell in app.query_one(TestsPane).table.get_row_at(0)]
        assert row[1].startswith("✓ 1.00 · ") and " ms · " in row[1] and row[1].rstrip().endswith(" tok")


async def test_zoom_cycles_normal_half_full_for_the_focused_pane(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("2", "plus")
        await pilot.pause()
        history, prompts, diff = (
            app.query_one(HistoryPane),
            app.query_one(PromptsPane),
            app.query_one(DiffPane),
        )
        assert app.arranger.mode == "half"
        assert prompts.has_class("-off") and not history.has_class("-off") and diff.display
        assert history.outer_size.width >= 60 and history.outer_size.height == 34
        await pilot.press("plus")
        await pilot.pause()
        assert app.arranger.mode == "full"
        assert history.outer_size == app.size.with_height(app.size.height - 1)  # all but the footer
        assert app.query_one("#status-bar").has_class("-off")
        await pilot.press("tab")  # the zoom follows the focus
        await pilot.pause()
        assert diff.outer_size.width == 120 and history.has_class("-off")
        await pilot.press("plus")
        await pilot.pause()
        assert app.arranger.mode == "normal" and not prompts.has_class("-off")
        await pilot.press("underscore")
        await pilot.pause()
        assert app.arranger.mode == "full"


async def test_zoomed_panes_are_usable_at_80x24(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await ab_run(pilot)
        await pilot.press("4", "plus", "plus")
        await pilot.pause()
        table = app.query_one(TestsPane).table
        assert app.query_one(TestsPane).outer_size.height == 23
        assert table.row_count == 6 and table.size.height >= 7
        assert len(table.columns) == 3
        await pilot.press("2")
        await pilot.pause()
        history = app.query_one(HistoryPane)
        assert history.outer_size.width == 80 and history._fit is not None and history._fit.has("author")


async def test_help_scrolls_past_the_fold_from_the_keyboard(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        table = app.screen.query_one("HelpTable")
        assert table.row_count > table.size.height  # type: ignore[attr-defined]
        await pilot.press("pagedown")
        await pilot.pause()
        assert table.scroll_offset.y > 0
        await pilot.press("G")
        await pilot.pause()
        assert table.scroll_offset.y == table.max_scroll_y  # the last key is on screen
        await pilot.press("g", "down", "down")
        await pilot.pause()
        assert table.cursor_row == 2  # type: ignore[attr-defined]


async def test_tab_inside_a_dialog_stays_in_the_dialog(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        dialog = app.screen
        assert dialog.__class__.__name__ == "BranchScreen"
        assert isinstance(dialog.focused, Input)
        await pilot.press("tab")
        await pilot.pause()
        assert app.screen is dialog and isinstance(dialog.focused, OptionList)
        await pilot.press("shift+tab")
        await pilot.pause()
        assert isinstance(dialog.focused, Input)
        assert app.arranger.current == "prompts"  # the panes behind did not move
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("tab")
        await pilot.pause()
        assert app.arranger.current == "history"  # on the main screen tab moves between panes


async def test_click_selects_in_the_tree_history_and_results_and_focuses_the_pane(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        tree = app.query_one(PromptsPane).prompt_tree
        target = next(n for n in tree._tree_lines if n.node.data == "support/summarize").node
        await pilot.click(tree, offset=(8, target.line))
        await settle(pilot)
        assert app.selected_prompt == "support/summarize"
        assert tree.has_focus  # a click selects; enter is what moves on to History
        history = app.query_one(HistoryPane)
        second = history.entries[1].rev
        await pilot.click(history, offset=(4, 3))  # border, header, first row, second row
        await settle(pilot)
        assert history.has_focus and app.selected_rev == second
        await pilot.click(history, offset=(4, 2))
        await pilot.press("m")
        await pilot.click(history, offset=(4, 3))
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        pane = app.query_one(TestsPane)
        await pilot.click("#diff-pane", offset=(4, 3))
        await pilot.pause()
        assert app.query_one(DiffPane).has_focus and app.arranger.current == "diff"
        await pilot.click(pane.query_one("#tests-summary"))  # anywhere on the pane focuses its table
        await pilot.pause()
        assert pane.table.has_focus
        await pilot.click(pane.table, offset=(4, 3))  # header, rows 0, 1, 2
        await pilot.pause()
        assert pane.table.cursor_row == 2
        await pilot.click(pane.table, offset=(4, 3))  # a second click on the selected row opens it
        await settle(pilot)
        assert app.screen.__class__.__name__ == "CaseScreen"
        await pilot.press("escape")
        await pilot.click(PromptsPane, offset=(20, 0))  # the pane's border
        await pilot.pause()
        assert tree.has_focus and app.arranger.current == "prompts"


async def _wheel(pilot, widget) -> None:  # type: ignore[no-untyped-def]
    """A wheel turn over `widget`, posted to the app as the terminal driver does (Pilot's own
    mouse helpers hand events to the screen directly, past the app's mouse switch)."""
    x, y = widget.region.x + 5, widget.region.y + 5
    pilot.app.post_message(
        events.MouseScrollDown(None, x, y, 0, 1, 0, False, False, False, screen_x=x, screen_y=y)
    )
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


async def test_the_wheel_scrolls_and_percent_turns_the_mouse_off(long_history_repo: Path) -> None:
    app = make_app(long_history_repo, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        history = app.query_one(HistoryPane)
        assert history.row_count > history.size.height
        await _wheel(pilot, history)
        moved = history.scroll_offset.y
        assert moved > 0
        await pilot.press("percent_sign")
        await _wheel(pilot, history)
        assert history.scroll_offset.y == moved


@pytest.mark.parametrize("theme", ["textual-light", "textual-dark"])
async def test_themes_switch_and_the_focus_shows_without_colour(app_repo: Path, theme: str) -> None:
    app = make_app(app_repo, clock=clock, theme=theme)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert app.theme == theme
        assert [c.title for c in app.get_system_commands(app.screen)] == [
            "Theme"
        ]  # the palette's "Change theme"
        prompts, history = app.query_one(PromptsPane), app.query_one(HistoryPane)
        assert prompts.styles.border_top[0] == "heavy" and history.styles.border_top[0] == "round"
        app.theme = "textual-dark" if theme == "textual-light" else "textual-light"
        await pilot.press("2")
        await pilot.pause()
        assert history.styles.border_top[0] == "heavy" and prompts.styles.border_top[0] == "round"


async def test_an_unknown_theme_falls_back_with_a_warning(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock, theme="no-such-theme")
    told: list[str] = []  # every notice, kept: on a loaded machine one may expire before it is read
    shown = app.notify

    def notify(message: str, *args: Any, **kwargs: Any) -> None:
        told.append(str(message))
        shown(message, *args, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert app.theme == "textual-dark"
        assert any("no-such-theme" in message for message in told)


@pytest.mark.parametrize(("start", "end", "narrow"), [((80, 24), (150, 40), False), ((120, 36), (60, 15), True)])
async def test_a_resize_lays_the_panes_out_for_the_new_size(app_repo: Path, start: tuple[int, int], end: tuple[int, int], narrow: bool) -> None:
    """The layout was computed for the size before the resize (the app's handler ran before
    Textual's, which records the new size): wide panes clipped at 60x15, tabs at 150x40."""
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=start) as pilot:
        await settle(pilot)
        await pilot.resize_terminal(*end)
        await settle(pilot)
        assert app.arranger.arrangement.narrow is narrow
