"""A modal for long errors (YAML problems, provider errors): plain text, scrollable."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from workbench.core.safe_text import clean


class ErrorScreen(ModalScreen[None]):
    BINDINGS: ClassVar = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self._title = title
        self._text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="error-dialog", classes="dialog"):
            yield Static(Text("✗ " + clean(self._title), style="bold"), classes="dialog-title")
            with VerticalScroll():
                yield Static(Text(clean(self._text)), markup=False)
            yield Static(Text("esc / enter to close", style="dim"))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
