"""Branches (b): filter, create, switch — uncommitted work is stashed only when the user says so."""

from __future__ import annotations

from rich.text import Text

from workbench.core.safe_text import clean
from workbench.services import branches, prompt_files
from workbench.tui.controllers.base import Controller, FlowAborted
from workbench.tui.messages import RepoChanged
from workbench.tui.screens.branches import BranchScreen
from workbench.tui.screens.dialogs import ChoiceScreen


class BranchController(Controller):
    def branches(self) -> None:
        if self.app.session is not None:
            self.start(self._branches)

    async def _branches(self) -> None:
        listed = await self.call(branches.branches)
        current = await self.call(branches.current_branch)
        chosen = await self.ask(BranchScreen(listed, current))
        if chosen is None:
            return
        name, create = chosen
        changes = await self.call(prompt_files.uncommitted_paths)
        stash = False
        if changes:
            body = Text(f"You have uncommitted changes in {len(changes)} file(s):\n", style="bold")
            for path in changes[:10]:
                body.append(f"  {clean(path)}\n")
            body.append("\nSwitching would mix them into the other branch. Nothing is lost either way.")
            options = [("stash", f"stash the changes (git stash), then switch to {name}"), ("cancel", "cancel: stay on this branch")]
            if await self.ask(ChoiceScreen(f"Switch to {name}?", options, default="cancel", body=body)) != "stash":
                self.app.notify("branch switch cancelled; your changes are untouched", timeout=3)
                return
            stash = True
        if create:
            await self.call(branches.create_branch, name)
        try:
            result = await self.call(branches.switch_branch, name, stash=stash)
        except FlowAborted:
            self.app.post_message(RepoChanged())  # a failed switch may still have moved HEAD (its error says)
            raise
        message = f"on {name}" + (f" — your changes are in {result.stash[:10]} (git stash pop to restore)" if result.stash else "")
        self.app.notify(message, timeout=5, markup=False)
        self.app.selected_rev = None
        self.app.post_message(RepoChanged())
