"""`?`: the keys of the focused pane first, then every key of the app."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from workbench.tui.actions import ACTIONS, MOVE_BINDINGS, Act


def _table(title: str, acts: list[Act]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for act in acts:
        table.add_row(Text(act.key_label), Text(act.description))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, pane: str) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        pane_acts = [a for a in ACTIONS if a.scope == self.pane]
        moves = Text(
            "move: " + "  ".join(f"{b.key} {b.description.lower()}" for b in MOVE_BINDINGS if isinstance(b, Binding)) + "  arrows",
            style="dim",
        )
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static(Text(f"Keys — {self.pane} pane", style="bold"), classes="dialog-title")
            with VerticalScroll():
                if pane_acts:
                    yield Static(_table(f"{self.pane} pane", pane_acts))
                yield Static(_table("everywhere", [a for a in ACTIONS if a.scope == "app"]))
                others = [a for a in ACTIONS if a.scope not in ("app", self.pane)]
                yield Static(_table("other panes", others))
                yield Static(moves)
            yield Static(Text("esc to close · ctrl+p / : for the command palette", style="dim"))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
