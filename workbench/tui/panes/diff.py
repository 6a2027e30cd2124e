"""Diff pane: base vs selected, side by side or unified, with field-aware section headers."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from workbench.core.diff import PromptDiff
from workbench.core.model import Problem
from workbench.tui.actions import MOVE_BINDINGS, bindings
from workbench.tui.render.diff import render_diff, render_problems

SPLIT_MIN_WIDTH = 60  # below this, side-by-side halves are too narrow to read: unified until `u`


class DiffPane(VerticalScroll):
    BINDINGS = [*MOVE_BINDINGS, *bindings("diff")]

    def __init__(self) -> None:
        super().__init__(id="diff-pane")
        self.border_title = "3 Diff"
        self.can_focus = True
        self.layout_choice: bool | None = None  # `u` chooses: True unified, False split; None: by width
        self._diff: PromptDiff | None = None
        self._problems: tuple[str, Sequence[Problem]] | None = None
        self._message: Text | None = None
        self._changes: list[int] = []
        self._change_index = -1
        self._body = Static("", id="diff-body", markup=False)

    def compose(self):  # type: ignore[no-untyped-def]
        yield self._body

    def show_diff(self, diff: PromptDiff) -> None:
        self._diff, self._problems, self._message = diff, None, None
        self._change_index = -1
        self._redraw()

    def show_problems(self, title: str, problems: Sequence[Problem]) -> None:
        self._diff, self._problems, self._message = None, (title, problems), None
        self._redraw()

    def show_message(self, message: str | Text) -> None:
        self._diff, self._problems = None, None
        self._message = message if isinstance(message, Text) else Text(message)
        self._redraw()

    @property
    def diff(self) -> PromptDiff | None:
        return self._diff

    @property
    def unified(self) -> bool:
        """Unified when the user chose it, or (until they choose) when split halves would be too narrow."""
        if self.layout_choice is not None:
            return self.layout_choice
        return self._width() < SPLIT_MIN_WIDTH

    def _width(self) -> int:
        return max(20, (self.scrollable_content_region.width or 80) - 1)

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        # The gutter for the vertical scrollbar is always reserved (app.tcss), so lines never re-wrap.
        width = self._width()
        self._changes = []
        if self._diff is not None:
            lines, self._changes = render_diff(self._diff, width, self.unified)
            self.border_subtitle = f"{'unified' if self.unified else 'split'} · {len(self._changes)} changes · u n N"
        elif self._problems is not None:
            lines = render_problems(*self._problems)
            self.border_subtitle = "invalid"
        else:
            lines = [self._message or Text("")]
            self.border_subtitle = ""
        self._body.update(Text("\n").join(lines))

    def action_toggle_layout(self) -> None:
        self.layout_choice = not self.unified
        self._redraw()

    def _jump(self, step: int) -> None:
        if not self._changes:
            self.app.bell()
            return
        self._change_index = (self._change_index + step) % len(self._changes)
        self.scroll_to(y=self._changes[self._change_index], animate=False)

    def action_next_change(self) -> None:
        self._jump(1)

    def action_previous_change(self) -> None:
        self._jump(-1)

    def action_cursor_down(self) -> None:
        self.scroll_down(animate=False)

    def action_cursor_up(self) -> None:
        self.scroll_up(animate=False)
