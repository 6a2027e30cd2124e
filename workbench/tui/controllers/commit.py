"""Committing the changed prompts (c): choose files, read the diff, write the message."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.core.diff import PromptDiff
from workbench.core.names import prompt_name_problem
from workbench.core.versions import WorkingState
from workbench.services import branches, diffing, prompt_files
from workbench.services.session import RepoSession
from workbench.tui.controllers.base import Controller
from workbench.tui.messages import RepoChanged
from workbench.tui.screens.commit import CommitScreen

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp


def _gather(session: RepoSession, selected: str | None) -> tuple[dict[str, WorkingState], PromptDiff | None]:
    states = prompt_files.working_states(session)
    diff = None
    if selected and states.get(selected, WorkingState.CLEAN) is not WorkingState.CLEAN:
        try:
            diff = diffing.diff(session, selected, "HEAD", None)
        except Exception:  # a preview only: the commit itself does not need it
            diff = None
    return states, diff


class CommitController(Controller):
    def __init__(self, app: WorkbenchApp) -> None:
        super().__init__(app)
        self.draft = ""  # the message of a commit not made (it failed, or was cancelled): offered again

    def commit(self) -> None:
        if self.app.session is not None:
            self.start(self._commit)

    async def _commit(self) -> None:
        await self.require_identity()
        states, diff = await self.call(_gather, self.app.selected_prompt)
        changed = [name for name, state in states.items() if state is not WorkingState.CLEAN]
        if not changed:
            self.app.notify("nothing to commit: the working copy matches HEAD", timeout=3)
            return
        # Named by a file whose name is no prompt name, `commit` refuses it: shown, never ticked.
        refused = [name for name in changed if prompt_name_problem(name) is not None]
        screen = CommitScreen(changed, {n: str(states[n].value) for n in changed}, diff, self.app.selected_prompt, refused=refused, message=self.draft)
        answer = await self.ask(screen)
        if answer is None:
            self.draft = screen.draft
            return
        names, message = answer
        self.draft = message  # until the commit is made
        info = await self.call(branches.commit, names, message)
        self.draft = ""
        self.app.notify(f"committed {info.sha[:7]}: {info.subject}", timeout=4, markup=False)
        self.app.selected_rev = None
        self.app.post_message(RepoChanged())
