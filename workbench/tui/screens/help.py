"""`?`: every key, the focused pane's first; scrolls from the keyboard and filters by typing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from workbench.tui.actions import ACTIONS, MOVE_BINDINGS, TABLE_MOVE_BINDINGS, Act, key_label
from workbench.tui.screens.dialogs import KeysLine

MIN_ACTION_WIDTH = 20  # narrower still: the table scrolls sideways rather than wrap word by word
HELP_KEYS = (
    "j/k ↑↓ PgDn/PgUp g/G: move · /: filter · esc: close · ctrl+p: command palette",
    "j/k ↑↓ g/G: move · /: filter · esc: close · ctrl+p: command palette",  # fits 80 columns
    "j/k g/G: move · /: filter · esc: close",
)


class HelpTable(DataTable[Text]):
    BINDINGS = TABLE_MOVE_BINDINGS

    @dataclass
    class Resized(Message):
        width: int  # for the cells: the vertical scrollbar's gutter left out

    def on_resize(self) -> None:
        self.post_message(self.Resized(max(0, self.size.width - self.styles.scrollbar_size_vertical)))


class HelpScreen(ModalScreen[None]):
    """j/k, arrows, PgDn/PgUp, g/G move through the keys; `/` filters; esc closes."""

    BINDINGS: ClassVar = [
        Binding("escape", "close", "Close"),
        Binding("q,question_mark", "close", "Close", show=False),
        Binding("slash", "filter", "Filter", show=False),
    ]

    def __init__(self, pane: str, *, screen: str | None = None, screen_keys: Sequence[Binding] = ()) -> None:
        """`screen`, `screen_keys`: the screen `?` was pressed on (the timeline, a case...), whose
        own keys come first; the main screen's panes and keys follow, for after it closes."""
        super().__init__()
        self.pane = pane
        self.screen_name = screen
        self.screen_keys = tuple(screen_keys)
        self.table_width = 0  # the table's, once laid out

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            first = f"the {self.screen_name} first" if self.screen_name else f"{self.pane} pane first"
            yield Static(Text(f"Keys — {first}", style="bold"), classes="dialog-title")
            yield Input(placeholder="filter keys… (enter: back to the list, esc: clear)", id="help-filter", classes="hidden", disabled=True)
            yield HelpTable(id="help-table", cursor_type="row", zebra_stripes=True)
            yield KeysLine(*HELP_KEYS, id="help-keys")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(HelpTable).focus()

    @on(HelpTable.Resized)
    def _resized(self, event: HelpTable.Resized) -> None:
        if event.width != self.table_width:
            self.table_width = event.width
            table = self.query_one(HelpTable)
            row = table.cursor_row
            self._fill(self.query_one(Input).value)
            table.move_cursor(row=row, animate=False)

    def _rows(self) -> list[tuple[str, str, str]]:
        ordered: list[Act] = [a for a in ACTIONS if a.scope == self.pane]
        ordered += [a for a in ACTIONS if a.scope == "app"]
        ordered += [a for a in ACTIONS if a.scope not in ("app", self.pane)]
        rows = [(key_label(str(b.key)), b.description, self.screen_name or "") for b in self.screen_keys]
        rows += [(a.key_label, a.description, "anywhere" if a.scope == "app" else f"{a.scope} pane") for a in ordered]
        rows += [(str(b.key), b.description, "lists") for b in MOVE_BINDINGS if isinstance(b, Binding)]
        return rows

    def _fill(self, needle: str) -> None:
        """The keys whose text contains `needle`; an action longer than the room the table has
        (80 columns) wraps onto more lines of its row rather than being cut mid-word."""
        table = self.query_one(HelpTable)
        wanted = needle.casefold()
        rows = [row for row in self._rows() if not wanted or wanted in f"{row[0]} {row[1]} {row[2]}".casefold()]
        key_width = max([3, *(cell_len(key) for key, _, _ in rows)])
        where_width = max([5, *(cell_len(where) for _, _, where in rows)])
        room = self.table_width - key_width - where_width - 6 * table.cell_padding  # each column's padding
        longest = max([6, *(cell_len(action) for _, action, _ in rows)])
        action_width = min(longest, max(room, MIN_ACTION_WIDTH)) if self.table_width else None
        table.clear(columns=True)
        table.add_column("key", key="key")
        table.add_column("where", key="where")
        table.add_column("action", key="action", width=action_width)
        for key, action, where in rows:
            height = None if action_width is not None and cell_len(action) > action_width else 1
            table.add_row(Text(key, style="bold"), Text(where, style="dim"), Text(action), height=height)

    def action_filter(self) -> None:
        field = self.query_one(Input)
        field.disabled = False
        field.remove_class("hidden")
        field.focus()

    @on(Input.Changed, "#help-filter")
    def _filtered(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#help-filter")
    def _submitted(self) -> None:
        self.query_one(HelpTable).focus()

    def action_close(self) -> None:
        field = self.query_one(Input)
        if field.has_focus and field.value:  # esc in the filter clears it first
            field.value = ""
            self.query_one(HelpTable).focus()
            return
        self.dismiss(None)
