"""`E`: edit a prompt file in the app, YAML highlighted; invalid files are saved only when confirmed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar, NamedTuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from workbench.core.loader import load_prompt
from workbench.core.safe_text import clean
from workbench.errors import WorkbenchError
from workbench.tui.screens.dialogs import ConfirmScreen


class EditorFiles(NamedTuple):
    """The edited file's reads and writes, run off the UI thread by the caller (`services.editing`)."""

    on_disk: Callable[[], Awaitable[str | None]]
    """What the file holds now; None when it is gone or cannot be read."""
    save: Callable[[str], Awaitable[None]]
    """Replace it with the text (WorkbenchError when it cannot)."""


class EditorScreen(ModalScreen[bool]):
    """ctrl+s saves (validated), escape closes (asks when there are unsaved edits, as quitting
    the app does: `EditController.hold_quit`)."""

    BINDINGS: ClassVar = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "close", "Close", priority=True),
    ]

    def __init__(self, relpath: str, text: str, files: EditorFiles) -> None:
        super().__init__()
        self.files = files
        self.relpath = relpath
        self.original = text  # the file as read (its bytes checked as UTF-8 by the caller)
        self.saved = False
        self.asking = False  # the discard question is on screen

    def compose(self) -> ComposeResult:
        with Vertical(id="editor-dialog"):
            yield Static(Text(f"{clean(self.relpath)} — ctrl+s save · esc close", style="bold"), id="editor-title")
            try:
                area = TextArea.code_editor(self.original, language="yaml", id="editor-area")
            except Exception:  # YAML highlighting needs tree-sitter; plain text still edits
                area = TextArea.code_editor(self.original, id="editor-area")
            yield area
            yield Static("", id="editor-status")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    async def action_save(self) -> None:
        text = self.text
        result = load_prompt(text, self.relpath)
        if result.errors:
            body = Text("This file has problems:\n", style="bold")
            for problem in result.errors[:8]:
                body.append(clean(problem.format()) + "\n")
            body.append("\nSave it anyway? (the app and `workbench validate` will keep reporting them)")

            async def answer(yes: bool | None) -> None:
                if yes:
                    await self._write(text, f"saved with {len(result.errors)} problem(s)")

            self.app.push_screen(ConfirmScreen("Save an invalid prompt?", body, yes="save anyway"), answer)
            return
        await self._write(text, "saved — valid")

    async def _write(self, text: str, message: str) -> None:
        """Save, unless the file changed on disk since it was opened (or last saved here): then
        ask, as the change would otherwise be lost without a word."""
        on_disk = await self.files.on_disk()
        if on_disk == self.original:
            await self._save(text, message)
            return

        async def answer(overwrite: bool | None) -> None:
            if overwrite:
                await self._save(text, message)

        what = "deleted" if on_disk is None else "changed on disk"
        body = "Saving replaces what is there now with your text. No keeps both: the file as it is, your text in the editor."
        self.app.push_screen(ConfirmScreen(f"{self.relpath} was {what} since the editor opened it", body, yes="overwrite"), answer)

    async def _save(self, text: str, message: str) -> None:
        try:
            await self.files.save(text)
        except WorkbenchError as err:
            self.app.notify(str(err), severity="error", markup=False)
            return
        self.original = text
        self.saved = True
        self.query_one("#editor-status", Static).update(Text(message, style="bold"))

    @property
    def unsaved(self) -> bool:
        return self.text != self.original

    def action_close(self) -> None:
        if not self.unsaved:
            self.dismiss(self.saved)
            return
        self.ask_discard(lambda: self.dismiss(self.saved))

    def ask_discard(self, then: Callable[[], object]) -> None:
        """Ask before the unsaved edits are lost (closing, quitting the app); `then` on yes."""
        if self.asking:  # a second ctrl+q while the question is up: one question
            return
        self.asking = True

        def answer(yes: bool | None) -> None:
            self.asking = False
            if yes:
                then()

        self.app.push_screen(ConfirmScreen("Discard unsaved edits?", "Your edits since the last save will be lost.", yes="discard"), answer)
