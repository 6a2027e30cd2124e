"""`c`: choose the changed prompts to commit, see the diff, write the message."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, SelectionList, Static
from textual.widgets.selection_list import Selection

from workbench.core.safe_text import clean
from workbench.tui.render.preview import diff_preview
from workbench.tui.screens.dialogs import KeysLine

COMMIT_KEYS = (
    "type the message · shift+tab: the files, space toggles one · enter commits · esc cancels",
    "shift+tab: files, space toggles one · enter commits · esc cancels",  # fits 80 columns
    "shift+tab: files · enter: commit · esc: cancel",
)


class CommitScreen(ModalScreen[tuple[list[str], str] | None]):
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        changed: list[str],
        states: dict[str, str],
        diff: Any,
        selected: str | None,
        *,
        refused: Collection[str] = (),
        message: str = "",
    ) -> None:
        """`refused`: the changed prompts a commit cannot take (listed, not tickable; the tree
        shows why);
        `message`: the message typed for a commit not made yet."""
        super().__init__()
        self.changed = changed
        self.states = states
        self.diff = diff
        self.selected = selected
        self.refused = refused
        self.draft = message  # the message as typed when the dialog closed

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="commit-dialog"):
            yield Static(Text("Commit prompts", style="bold"), classes="dialog-title")
            # The message has focus: the keys are said from there (it said "tab to the message").
            yield KeysLine(*COMMIT_KEYS, id="commit-keys")
            yield SelectionList[str](*[self._file(name) for name in self.changed], id="commit-files")
            # Back from the files, the message is kept as typed: selected on focus, the next key replaced it.
            yield Input(self.draft, placeholder="commit message (what changed and why)", id="commit-message", select_on_focus=False)
            yield Static("", id="commit-status")
            if self.diff is not None:
                with VerticalScroll(id="commit-diff"):
                    yield Static(diff_preview(self.diff, 100, 30))

    def _file(self, name: str) -> Selection[str]:
        label = Text(f"{self.states[name]:<9} {clean(name)}")
        if name in self.refused:
            label.append(" — invalid name: rename the file to commit it", style="italic")
            return Selection(label, name, False, disabled=True)
        return Selection(label, name, True)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        files = list(self.query_one(SelectionList).selected)
        message = event.value.strip()
        status = self.query_one("#commit-status", Static)
        if not files:
            status.update(Text("select at least one file", style="bold red"))
            return
        if not message:
            status.update(Text("write a commit message", style="bold red"))
            return
        self.dismiss((files, message))

    def action_cancel(self) -> None:
        self.draft = self.query_one(Input).value
        self.dismiss(None)

