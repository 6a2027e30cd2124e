"""Diff pane: base vs selected, side by side or unified, with field-aware section headers.

The pane draws only the rows on screen (Textual's line API): the whole diff was one `Static`, so
every re-layout (a focus border, a pane growing) rendered all of it again, 11-27 s per key for a
prompt with 5000 cases.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip
from textual.visual import Visual, visualize

from workbench.core.diff import PromptDiff
from workbench.core.model import Problem
from workbench.tui.actions import MOVE_BINDINGS, bindings
from workbench.tui.render.diff import render_diff, render_problems

DRAWN_LINES = 2000  # lines kept drawn: a few screens, not a 50,000-line diff
SPLIT_MIN_WIDTH = 60  # below this, side-by-side halves are too narrow to read: unified until `u`
TITLE = "3 Diff"


class DiffPane(ScrollView):
    BINDINGS = [*MOVE_BINDINGS, *bindings("diff")]

    def __init__(self) -> None:
        super().__init__(id="diff-pane")
        self.border_title = TITLE
        self.can_focus = True
        self.layout_choice: bool | None = None  # `u` chooses: True unified, False split; None: by width
        self._diff: PromptDiff | None = None
        self._problems: tuple[str, Sequence[Problem]] | None = None
        self._message: Text | None = None
        self._changes: list[int] = []  # the screen row of each change, for n / N
        self._change_index = -1
        self._lines: list[Text] = []  # what is shown; a line wider than the pane wraps onto more rows
        self._rows: list[tuple[int, int]] = []  # per screen row: (index in _lines, row within that line)
        self._drawn: LRUCache[int, list[Strip]] = LRUCache(DRAWN_LINES)  # the rows of a line, by its index
        self._wrap_width = 0

    @property
    def text(self) -> str:
        """What is shown, as plain text, unwrapped (for tests and scripts)."""
        return "\n".join(line.plain for line in self._lines)

    def show_pending(self) -> None:
        """A new diff is being made: what is shown is the previous answer until one of the `show_*` calls
        (a diff of thousands of cases takes seconds, and the last prompt's diff looked like the answer)."""
        self.border_title = f"{TITLE} · making the diff…"

    def show_diff(self, diff: PromptDiff) -> None:
        self._change_index = -1
        self._show(diff, None, None)

    def show_problems(self, title: str, problems: Sequence[Problem]) -> None:
        self._show(None, (title, problems), None)

    def show_message(self, message: str | Text) -> None:
        self._show(None, None, message if isinstance(message, Text) else Text(message))

    def _show(self, diff: PromptDiff | None, problems: tuple[str, Sequence[Problem]] | None, message: Text | None) -> None:
        self._diff, self._problems, self._message = diff, problems, message
        self.border_title = TITLE  # the answer arrived: no longer "making the diff…"
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
        # Only a new width changes what is drawn: a height change (a pane shown or hidden) re-draws nothing.
        if self.scrollable_content_region.width != self._wrap_width:
            self._redraw()

    def _redraw(self) -> None:
        # The gutter for the vertical scrollbar is always reserved (app.tcss), so lines never re-wrap.
        width = self._width()
        changes: list[int] = []
        if self._diff is not None:
            lines, changes = render_diff(self._diff, width, self.unified)
            self.border_subtitle = f"{'unified' if self.unified else 'split'} · {len(changes)} changes · u n N"
        elif self._problems is not None:
            lines = render_problems(*self._problems)
            self.border_subtitle = "invalid"
        else:
            lines = [self._message or Text("")]
            self.border_subtitle = ""
        self._wrap_width = self.scrollable_content_region.width
        self._lines, self._rows, first_rows = [], [], []
        self._drawn.clear()
        for line in lines:
            first_rows.append(len(self._rows))
            # One `Text` per line of the text (a message may hold several): a line's own style becomes a
            # span, as `Text.join` made it when one `Static` showed the whole diff.
            for part in Text("\n").join([line]).split("\n", allow_blank=True):
                index = len(self._lines)
                self._lines.append(part)
                rows = 1 if part.cell_len <= self._wrap_width else len(self._draw(index))  # diff rows fit
                self._rows.extend((index, row) for row in range(max(1, rows)))
        self._changes = [first_rows[line] for line in changes]
        self.virtual_size = Size(self._wrap_width, len(self._rows))
        self.refresh()

    def _draw(self, index: int) -> list[Strip]:
        """The rows of line `index`, drawn as the `Static` that showed the whole diff drew them (wrapped at
        the pane's width), with the mouse selection."""
        strips = self._drawn.get(index)
        if strips is None:
            line = self._lines[index]
            selection = self.text_selection
            span = selection.get_span(index) if selection is not None else None
            if span is not None:
                start, end = span  # end -1: to the end of the line
                line = line.copy()
                line.stylize(self.screen.get_component_rich_style("screen--selection"), start, len(line) if end < 0 else end)
            visual = visualize(self, line, markup=False)
            drawn = Visual.to_strips(self, visual, self._wrap_width, None, self.visual_style, apply_selection=False)
            strips = self._drawn[index] = [_on_line(strip, index) for strip in drawn]
        return strips

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract(self.text), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self._drawn.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn.clear()  # drawn with the old theme

    def render_line(self, y: int) -> Strip:
        """Row `y` of the pane: only the rows on screen are drawn (the line API), each once until the
        diff, the width or the theme changes."""
        scroll_x, scroll_y = self.scroll_offset
        if not 0 <= scroll_y + y < len(self._rows):
            return Strip([])  # padded with the pane's background, as below a short diff
        index, part = self._rows[scroll_y + y]
        strips = self._draw(index)
        strip = strips[part] if part < len(strips) else Strip([])
        return strip.crop(scroll_x, scroll_x + self.scrollable_content_region.width)

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


def _on_line(strip: Strip, y: int) -> Strip:
    """`strip` with the mouse offsets of line `y` of the pane's text: a line drawn alone says line 0, and
    the mouse selection finds a cell's place in the text from them."""
    segments = []
    for text, style, control in strip:
        if style is not None and style._meta and (offset := style.meta.get("offset")) is not None:
            style = style + RichStyle.from_meta({"offset": (offset[0], y)})
        segments.append(Segment(text, style, control))
    return Strip(segments, strip.cell_length)
