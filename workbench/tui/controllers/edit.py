"""Editing the selected prompt: in `$EDITOR` (e) or in the app (E), validated afterwards."""

from __future__ import annotations

import os
import shlex
import subprocess
from functools import partial
from pathlib import Path

from workbench.core.model import prompt_file_text
from workbench.services import prompt_files
from workbench.tui.controllers.base import Controller
from workbench.tui.messages import RepoChanged
from workbench.tui.screens.editor import EditorScreen


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
        full = self.session.root / path
        if inline:
            # The editor shows text: a file that is not UTF-8 would lose its bytes in it.
            text = prompt_file_text(full.read_bytes(), path)
            if not isinstance(text, str):
                problem = text.errors[0]
                self.app.notify(f"{problem.format()} — the editor opens UTF-8 text only", severity="error", markup=False)
                return
            saved = await self.ask(EditorScreen(full, path, text))
            if not saved:
                return
        else:
            self._run_editor(full)
        result = await self.call(prompt_files.prompt_at, name, None)
        if result.ok:
            self.app.notify(f"{name}: valid", timeout=3, markup=False)
        else:
            self.app.notify(f"{name}: {len(result.errors)} problem(s) — see the diff pane", severity="warning", markup=False)
        self.app.post_message(RepoChanged())

    def _run_editor(self, full: Path) -> None:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        with self.app.suspend():
            subprocess.run([*shlex.split(editor), str(full)], check=False)
