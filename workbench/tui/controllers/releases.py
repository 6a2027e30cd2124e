"""Release tags (r): name the selected version `<name>@v<N>` with an optional note."""

from __future__ import annotations

from workbench.services import releases
from workbench.tui.controllers.base import Controller
from workbench.tui.messages import RepoChanged
from workbench.tui.screens.dialogs import TextPromptScreen


class ReleaseController(Controller):
    def release(self) -> None:
        if self.selected_prompt() is not None:
            self.start(self._release)

    async def _release(self) -> None:
        name = self.selected_prompt()
        if name is None:
            return
        await self.require_identity()
        rev = self.app.selected_rev or "HEAD"
        if self.app.selected_rev is None:
            self.app.notify("releasing HEAD (the working copy is not a commit)", timeout=3)
        planned = await self.call(releases.plan_tag, name, rev)
        if not planned.new:  # what `workbench tag` says: no note to ask for, nothing to write
            self.app.notify(planned.message, timeout=5, markup=False)
            return
        body = f"{planned.message[:1].upper()}{planned.message[1:]} (annotated; release tags never move)."
        key = ("release", name, rev)
        note = await self.ask_text_of(key, lambda typed: TextPromptScreen(f"Release {name}", body, "release note (optional)", required=False, value=typed))
        if note is None:
            return
        result = await self.call(releases.tag_release, name, rev, note or None)
        self.written(key)
        self.app.notify(result.message, timeout=5, markup=False)
        self.app.post_message(RepoChanged(frozenset({"history"})))
