"""The main screen's panes: which one has the focus, the zoom, and the size of each.

`PaneArranger` asks the panes what they would like (`wanted_height`, `wanted_width`), lets
`tui/layout.py` decide, and applies the result as inline sizes and the `-off` class. It runs
again when the terminal is resized, the focus moves, the zoom changes or a pane's content
changes its wanted size (`PaneContentChanged`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import Static

from workbench.tui.layout import LEFT, PANES, Arrangement, arrange, next_mode
from workbench.tui.panes.diff import DiffPane
from workbench.tui.panes.history import HistoryPane
from workbench.tui.panes.prompts import PromptsPane
from workbench.tui.panes.tests import TestsPane

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp

KINDS: dict[str, type[Widget]] = {"prompts": PromptsPane, "history": HistoryPane, "diff": DiffPane, "tests": TestsPane}


class PaneArranger:
    def __init__(self, app: WorkbenchApp) -> None:
        self.app = app
        self.current = "prompts"
        self.mode = "normal"
        self.arrangement: Arrangement | None = None

    def container(self, pane: str) -> Widget:
        return self.app.query_one(KINDS[pane])

    def focus_target(self, pane: str) -> Widget:
        """The widget that takes the keys of a pane."""
        if pane == "prompts":
            return self.app.query_one(PromptsPane).prompt_tree
        if pane == "tests":
            return self.app.query_one(TestsPane).table
        return self.container(pane)

    def focus(self, pane: str) -> None:
        self.current = pane
        self.focus_target(pane).focus()
        self.apply()

    def cycle(self, step: int) -> None:
        index = PANES.index(self.current) if self.current in PANES else 0
        self.focus(PANES[(index + step) % len(PANES)])

    def focused(self, widget: Widget) -> None:
        """A widget took the focus (a key, a click): its pane becomes the current one."""
        for pane in PANES:
            if self.container(pane) in widget.ancestors_with_self:
                if pane != self.current:
                    self.current = pane
                    self.apply()
                return

    def zoom(self, step: int) -> None:
        """`+` / `_`: normal → half → full screen for the focused pane, and back."""
        self.mode = next_mode(self.mode, step)
        self.apply()
        self.focus_target(self.current).focus()

    def apply(self) -> None:
        """Size and show the panes for the terminal's size, the focus, the zoom and their content."""
        app = self.app
        try:
            prompts, history, tests = app.query_one(PromptsPane), app.query_one(HistoryPane), app.query_one(TestsPane)
            wants = {"prompts": prompts.wanted_height(), "history": history.wanted_height(), "tests": tests.wanted_height()}
        except NoMatches:  # the panes or their widgets not composed yet, or being removed (the app ending)
            return
        width, height = app.size.width, app.size.height
        rows = height - 2  # the footer and the status bar
        arrangement = arrange(width, rows, self.current, self.mode, wants, history.wanted_width())
        self.arrangement = arrangement
        app.screen.set_class(arrangement.narrow, "-narrow")
        app.screen.set_class(self.mode != "normal", "-zoomed")
        for pane in PANES:
            container = self.container(pane)
            container.set_class(pane not in arrangement.visible, "-off")
            container.set_class(pane == self.current and self.mode != "normal", "-zoom")
            container.styles.height = arrangement.heights.get(pane, "1fr")
        left, right = app.query_one("#left"), app.query_one("#right")
        left_on = bool(arrangement.visible & set(LEFT))
        left.set_class(not left_on, "-off")
        right.set_class(not arrangement.right_visible, "-off")
        left.styles.width = arrangement.left_width if arrangement.right_visible else "1fr"
        app.query_one("#pane-tabs").set_class(not arrangement.show_tabs, "-off")
        app.query_one("#status-bar").set_class(not arrangement.show_status, "-off")
        tabs = Text()
        for index, pane in enumerate(PANES, 1):
            tabs.append(f" {index} {pane.capitalize()} ", style="reverse bold" if pane == self.current else "")
            tabs.append("▸" if pane == self.current else " ")
        if self.mode != "normal":
            tabs.append(f"  zoom: {self.mode} (+ / _)", style="bold")
        app.query_one("#pane-tabs", Static).update(tabs)
