"""A big diff on screen costs a re-layout only the rows it shows."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from test_run_streaming import many_cases
from textual.geometry import Offset
from textual.selection import Selection
from textual.strip import Strip
from tui_helpers import clock, select, settle, walk

from workbench.services import diffing
from workbench.tui.app import make_app
from workbench.tui.panes.diff import DiffPane
from workbench.tui.panes.prompts import PromptsPane


async def test_switching_panes_draws_only_the_diff_rows_on_screen(
    app_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole diff was one Static: each focus change drew all of its rows again (11-27 s a key
    at 5000 cases, the keys queued behind it)."""
    many_cases(app_repo, 1000)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "many")
        pane = app.query_one(DiffPane)
        await _diff_of(pilot, pane, "case 999")
        rows = pane.virtual_size.height
        assert rows > 5000 and pane.diff is not None
        made = 0
        strip_init = Strip.__init__

        def counted(self: Strip, *args: object, **kwargs: object) -> None:
            nonlocal made
            made += 1
            strip_init(self, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Strip, "__init__", counted)
        for key in ("3", "1", "3", "2"):
            await pilot.press(key)
            await pilot.pause(0.1)
        # Drawing all of it was more than 4 x rows strips; the rows on screen are a few hundred.
        assert made < rows, f"{made} strips drawn for 4 pane switches over a diff of {rows} rows"


async def _diff_of(pilot, pane: DiffPane, last: str) -> None:  # type: ignore[no-untyped-def]
    """Wait for the big diff (made in a worker, a few seconds)."""
    for _ in range(300):
        if pane.diff is not None and last in (pane.diff.right_text or ""):
            return
        await pilot.pause(0.1)
    raise AssertionError(f"no diff with {last!r}")


def _screen_text(pane: DiffPane) -> str:
    return "\n".join(pane.render_line(y).text for y in range(pane.scrollable_content_region.height))


async def test_a_big_diff_jumps_scrolls_rewraps_and_selects_as_before(app_repo: Path) -> None:
    """What the line API must keep from the `Static`: n to a change far down, keys scrolling, the diff
    drawn again at a new width, and the mouse selection copying the text under it."""
    many_cases(app_repo, 1000)  # its first version: each test an added section, each a change
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await select(pilot, "many")
        pane = app.query_one(DiffPane)
        await _diff_of(pilot, pane, "case 999")
        await pilot.press("3", "N")  # from the top, N goes round to the end
        assert pane.scroll_y > 5000 and 'test "case 999" · added' in _screen_text(pane)
        await pilot.press(*"NNNN")
        top = pane.scroll_y
        assert "v: val 994" in _screen_text(pane).splitlines()[1]  # the change (case 994's body) on top
        await pilot.press("ctrl+d")
        assert pane.scroll_y > top and "val 994" not in _screen_text(pane)
        await pilot.press("g")
        assert pane.scroll_y == 0 and _screen_text(pane).startswith("--- ")

        # A cell's mouse offset names its line of the text: that is how a selection finds what it covers.
        offsets = [seg.style.meta["offset"] for seg in pane.render_line(3) if seg.style and seg.style.meta]
        assert offsets and offsets[0] == (0, 3)
        app.screen.selections = {pane: Selection(Offset(0, 1), Offset(5, 2))}
        await pilot.pause()
        lines = pane.text.splitlines()
        assert app.screen.get_selected_text() == lines[1] + "\n" + lines[2][:5]
        app.screen.clear_selection()

        split_at = pane.render_line(0).text.index("│")
        await pilot.resize_terminal(160, 40)
        await settle(pilot)
        assert pane.render_line(0).text.index("│") > split_at + 20  # the halves drawn at the new width


async def test_the_pane_says_the_diff_is_being_made_until_it_arrives(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the worker made a slow diff, the previous prompt's diff stayed on screen as if it were the answer.

    The diff of `many` (its first version: the introduction) waits for a gate, a slow diff on any
    machine (3,000 cases took a few seconds here; a fast machine could finish before the title
    was looked at)."""
    many_cases(app_repo, 10)
    gate = threading.Event()

    def gated(original: Any) -> Any:
        def slow(session: Any, name: str, *args: Any, **kwargs: Any) -> Any:
            if name == "many":
                gate.wait(60)
            return original(session, name, *args, **kwargs)

        return slow

    monkeypatch.setattr(diffing, "diff", gated(diffing.diff))
    monkeypatch.setattr(diffing, "introduction", gated(diffing.introduction))
    app = make_app(app_repo, clock=clock)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            await select(pilot, "support/summarize")
            pane = app.query_one(DiffPane)
            assert str(pane.border_title) == "3 Diff" and pane.diff is not None
            prompts = app.query_one(PromptsPane)
            prompts.prompt_tree.move_cursor(next(node for node in walk(prompts.prompt_tree.root) if node.data == "many"))
            for _ in range(500):  # the diff of `many` asked for (it cannot arrive before the gate opens)
                if str(pane.border_title) != "3 Diff":
                    break
                await pilot.pause(0.02)
            assert pane.diff is not None and pane.diff.name == "support/summarize"  # not made yet
            assert str(pane.border_title) == "3 Diff · making the diff…"
            gate.set()
            await _diff_of(pilot, pane, "case 9")
            assert str(pane.border_title) == "3 Diff"
    finally:
        gate.set()
