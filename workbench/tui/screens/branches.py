"""`b`: branches — type to filter, enter to switch; a new name creates the branch."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from workbench.core.safe_text import clean


class BranchScreen(ModalScreen[tuple[str, bool] | None]):
    """Returns (branch, create?)."""

    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
    ]

    def __init__(self, branches: list[Any], current: str | None) -> None:
        super().__init__()
        self.branches = branches
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="branch-dialog"):
            yield Static(Text("Branches", style="bold"), classes="dialog-title")
            yield Input(placeholder="filter, or a new branch name", id="branch-input")
            yield OptionList(id="branch-list")
            yield Static(Text("enter: switch (or create)  ↑↓: move  esc: cancel", style="dim"))

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, query: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        for branch in self.branches:
            if query.lower() not in branch.name.lower():
                continue
            label = Text("● " if branch.name == self.current else "  ")
            label.append(clean(branch.name), style="bold" if branch.name == self.current else "")
            if branch.ahead or branch.behind:
                label.append(f"  ↑{branch.ahead} ↓{branch.behind}", style="dim")
            label.append(f"  {clean(branch.subject)[:60]}", style="dim")
            options.add_option(Option(label, id=branch.name))
        if options.option_count:
            options.highlighted = 0

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._fill(event.value.strip())

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        typed = event.value.strip()
        names = {b.name for b in self.branches}
        if typed and typed not in names and not any(typed.lower() in n.lower() for n in names):
            self.dismiss((typed, True))
            return
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            option = options.get_option_at_index(options.highlighted)
            if option.id and option.id != self.current:
                self.dismiss((option.id, False))
                return
            if option.id == self.current:
                self.dismiss(None)
                return
        if typed and typed not in names:
            self.dismiss((typed, True))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id and event.option.id != self.current:
            self.dismiss((event.option.id, False))

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        options.action_cursor_down() if step > 0 else options.action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)
