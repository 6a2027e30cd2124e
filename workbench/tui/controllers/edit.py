"""Editing the selected prompt: in `$EDITOR` (e) or in the app (E), validated afterwards.

`e` where the app cannot hand its terminal to another program (a browser through `workbench
serve`, whose web driver cannot suspend: `App.suspend` raises SuspendNotSupported) opens the
in-app editor instead, and says why.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App, SuspendNotSupported

from workbench.errors import WorkbenchError
from workbench.services import editing, prompt_files
from workbench.tui.controllers.base import Controller
from workbench.tui.messages import RepoChanged
from workbench.tui.screens.editor import EditorFiles, EditorScreen


class EditController(Controller):
    def edit_external(self) -> None:
        self.start(partial(self._edit, inline=False))

    def edit_inline(self) -> None:
        self.start(partial(self._edit, inline=True))

    async def _edit(self, *, inline: bool) -> None:
        name = self.selected_prompt()
        if name is None:
            return
        path = await self.call(prompt_files.prompt_path, name, None)
        if path is None:
            self.app.notify(f"{name} is not in the working copy", severity="warning", markup=False)
            return
        if not inline:
            try:
                await self.call(editing.editable_bytes, path)  # what `E` refuses, `e` does not hand to $EDITOR
            except WorkbenchError as err:
                self.app.notify(str(err), severity="error", markup=False)
                return
            if not (can_suspend(self.app) and self._run_editor(self.session.root / path)):
                self.app.notify(NO_EXTERNAL_EDITOR, title="In-app editor", severity="warning", markup=False, timeout=8)
                inline = True
        if inline:
            try:
                text = await self.call(editing.editable_text, path)
            except WorkbenchError as err:
                self.app.notify(str(err), severity="error", markup=False)
                return
            files = EditorFiles(lambda: self.call(editing.text_on_disk, path), lambda text: self.call(editing.save_text, path, text))
            saved = await self.ask(EditorScreen(path, text, files))
            if not saved:
                return
        result = await self.call(prompt_files.prompt_at, name, None)
        if result.ok:
            self.app.notify(f"{name}: valid", timeout=3, markup=False)
        else:
            self.app.notify(f"{name}: {len(result.errors)} problem(s) — see the diff pane", severity="warning", markup=False)
        self.app.post_message(RepoChanged())

    def hold_quit(self, quit_app: Callable[[], None]) -> bool:
        """Any quit (ctrl+q, the palette) while `E` holds unsaved text asks first, as its escape
        does; `quit_app` on yes. True when it asked."""
        editor = next((s for s in self.app.screen_stack if isinstance(s, EditorScreen) and s.unsaved), None)
        if editor is None:
            return False
        editor.ask_discard(quit_app)
        return True

    def _run_editor(self, full: Path) -> bool:
        """Run `$VISUAL`/`$EDITOR` on the file with the app suspended; False when the app
        cannot be suspended after all (SuspendNotSupported: nothing was run).

        Raises:
            WorkbenchError: the editor cannot be started (the app is back on screen).
        """
        argv = editor_command()
        failure: OSError | None = None
        try:
            with self.app.suspend():
                try:
                    subprocess.run([*argv, str(full)], check=False)
                except OSError as err:  # App.suspend resumes the app only when its block ends normally
                    failure = err
        except SuspendNotSupported:  # raised before the block runs
            return False
        if failure is not None:
            raise cannot_start(argv[0], failure.strerror or str(failure))
        return True


NO_EXTERNAL_EDITOR = "$EDITOR cannot run here: the app cannot hand over its screen (in a browser, `workbench serve`); opened the in-app editor instead (E)"


def can_suspend(app: App[Any]) -> bool:
    """Whether the app can leave the screen to another program: a terminal's driver can; a
    browser's (Textual's web driver, under `workbench serve`) and Pilot's headless one cannot.
    Textual says so only on its driver (`App.suspend` asks it, then raises SuspendNotSupported);
    asked before `$EDITOR` is looked for, which does not matter where it cannot be shown."""
    driver = getattr(app, "_driver", None)
    return driver is not None and bool(getattr(driver, "can_suspend", False))


def editor_command() -> list[str]:
    """`$VISUAL`, else `$EDITOR`, else `vi`, split as a shell would, its program found on PATH.

    Raises:
        WorkbenchError: the variable does not parse, or its program is not installed; checked
            before the app leaves the screen.
    """
    variable = "VISUAL" if os.environ.get("VISUAL") else "EDITOR" if os.environ.get("EDITOR") else None
    command = os.environ[variable] if variable else "vi"
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise cannot_start(command, f"{variable} does not parse ({err})") from None
    if not argv:
        raise cannot_start(command, f"{variable} is blank")
    if shutil.which(argv[0]) is None:
        raise cannot_start(argv[0], "not found" + (f" (from {variable})" if variable else ""))
    return argv


def cannot_start(program: str, why: str) -> WorkbenchError:
    return WorkbenchError(
        f"cannot start the editor '{program}': {why}",
        hint="set EDITOR or VISUAL to an installed editor, e.g. EDITOR=vim",
        title="Editor not started",
    )
