"""Small reusable dialogs: confirm, ask for text, choose one of a few options.

Each one names exactly what will happen; destructive or shared-state actions go through
`ConfirmScreen` (y / n) so that a stray key never deploys anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from workbench.core.safe_text import clean


class KeysLine(Static):
    """A dialog's line of keys, in the longest of its forms that fits on one line: the full form
    broke across two lines at 80 columns, in the middle of what it said."""

    def __init__(self, *forms: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self.forms = forms  # longest first

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 1  # the form is chosen for the width it is drawn at (`height: 1` in CSS upset the dialog's auto height)

    def render(self) -> Text:
        width = self.size.width
        return Text(next((form for form in self.forms if cell_len(form) <= width), self.forms[-1]), style="dim")


class ConfirmScreen(ModalScreen[bool]):
    """`y` / `enter` confirms, `n` / `escape` cancels."""

    BINDINGS: ClassVar = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, body: Text | str, yes: str = "yes") -> None:
        super().__init__()
        self._title = title
        self._body = body if isinstance(body, Text) else Text(clean(body))
        self._yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm-dialog"):
            yield Static(Text(clean(self._title), style="bold"), classes="dialog-title")
            with VerticalScroll():
                yield Static(self._body)
            yield Static(Text(f"y: {self._yes}    n / esc: cancel", style="bold"))

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class TextPromptScreen(ModalScreen[str | None]):
    """One line of text (a message, a reason, a name). `escape` cancels."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, body: Text | str = "", placeholder: str = "", *, required: bool = True, value: str = "") -> None:
        super().__init__()
        self._title = title
        self._body = body if isinstance(body, Text) else Text(clean(body))
        self._placeholder = placeholder
        self._required = required
        self._value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="text-dialog"):
            yield Static(Text(clean(self._title), style="bold"), classes="dialog-title")
            if self._body.plain:
                with VerticalScroll():
                    yield Static(self._body)
            yield Input(value=self._value, placeholder=self._placeholder, id="text-input")
            yield Static(Text("enter: ok    esc: cancel" + ("    (required)" if self._required else ""), style="dim"), id="text-help")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if self._required and not value:
            self.query_one("#text-help", Static).update(Text("a value is required (esc cancels)", style="bold red"))
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceScreen(ModalScreen[str | None]):
    """Pick one option: arrows / j k and enter, or its number key."""

    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel"),
        Binding("j", "move(1)", show=False),
        Binding("k", "move(-1)", show=False),
        *[Binding(str(n), f"pick({n - 1})", show=False) for n in range(1, 10)],
    ]

    def __init__(self, title: str, options: Sequence[tuple[str, Text | str]], default: str | None = None, body: Text | str = "") -> None:
        super().__init__()
        self._title = title
        self._options = options
        self._default = default
        self._body = body if isinstance(body, Text) else Text(clean(body))

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="choice-dialog"):
            yield Static(Text(clean(self._title), style="bold"), classes="dialog-title")
            if self._body.plain:
                yield Static(self._body)
            items = []
            for number, (key, label) in enumerate(self._options, 1):
                prompt = Text(f"{number} " if number < 10 else "  ")
                prompt.append_text(label if isinstance(label, Text) else Text(clean(label)))
                items.append(Option(prompt, id=key))
            yield OptionList(*items, id="choice-list")
            yield Static(Text("enter or number: choose    esc: cancel", style="dim"))

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        keys = [key for key, _ in self._options]
        if self._default in keys:
            options.highlighted = keys.index(self._default)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_pick(self, index: int) -> None:
        if index < len(self._options):
            self.dismiss(self._options[index][0])

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        options.action_cursor_down() if step > 0 else options.action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)
