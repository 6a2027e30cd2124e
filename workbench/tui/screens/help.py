"""`?`: every key, the focused pane's first; scrolls from the keyboard and filters by typing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from workbench.tui.actions import ACTIONS, MOVE_BINDINGS, TABLE_MOVE_BINDINGS, Act, key_label


class HelpTable(DataTable[Text]):
    BINDINGS = TABLE_MOVE_BINDINGS


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

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            first = f"the {self.screen_name} first" if self.screen_name else f"{self.pane} pane first"
            yield Static(Text(f"Keys — {first}", style="bold"), classes="dialog-title")
            yield Input(placeholder="filter keys… (enter: back to the list, esc: clear)", id="help-filter", classes="hidden", disabled=True)
            yield HelpTable(id="help-table", cursor_type="row", zebra_stripes=True)
            yield Static(Text("j/k ↑↓ PgDn/PgUp g/G: move · /: filter · esc: close · ctrl+p: command palette", style="dim"))

    def on_mount(self) -> None:
        table = self.query_one(HelpTable)
        table.add_column("key", key="key")
        table.add_column("where", key="where")  # before the action: a long action is cut at 80 columns, never where
        table.add_column("action", key="action")
        self._fill("")
        table.focus()

    def _rows(self) -> list[tuple[str, str, str]]:
        ordered: list[Act] = [a for a in ACTIONS if a.scope == self.pane]
        ordered += [a for a in ACTIONS if a.scope == "app"]
        ordered += [a for a in ACTIONS if a.scope not in ("app", self.pane)]
        rows = [(key_label(str(b.key)), b.description, self.screen_name or "") for b in self.screen_keys]
        rows += [(a.key_label, a.description, "anywhere" if a.scope == "app" else f"{a.scope} pane") for a in ordered]
        rows += [(str(b.key), b.description, "lists") for b in MOVE_BINDINGS if isinstance(b, Binding)]
        return rows

    def _fill(self, needle: str) -> None:
        table = self.query_one(HelpTable)
        table.clear()
        wanted = needle.casefold()
        for key, action, where in self._rows():
            if not wanted or wanted in f"{key} {action} {where}".casefold():
                table.add_row(Text(key, style="bold"), Text(where, style="dim"), Text(action))

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
