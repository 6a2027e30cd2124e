"""Push (P) and fetch (f): releases, deployments and test notes travel with the repository."""

from __future__ import annotations

from workbench.core.versions import SyncResult
from workbench.services import sync
from workbench.tui.controllers.base import Controller
from workbench.tui.messages import RepoChanged
from workbench.tui.screens.dialogs import ConfirmScreen


class RemoteController(Controller):
    def push(self) -> None:
        if self.app.session is not None:
            self.start(self._push, group="remote")

    def fetch(self) -> None:
        if self.app.session is not None:
            self.start(self._fetch, group="remote")

    async def _push(self) -> None:
        body = (
            "Push branches, release and deployment tags, and test-result notes to origin.\n"
            "Nothing is forced: a rejected push is explained, not overwritten."
        )
        if not await self.ask(ConfirmScreen("Push to origin?", body, yes="push")):
            return
        self.app.notify("pushing…", timeout=2)
        self._report("push", await self.call(sync.push))

    async def _fetch(self) -> None:
        self.app.notify("fetching…", timeout=2)
        self._report("fetch", await self.call(sync.fetch))

    def _report(self, verb: str, result: SyncResult) -> None:
        if result.ok:
            self.app.notify(f"{verb}: {result.message or 'done'}", timeout=4, markup=False)
        else:
            self.app.show_error(RuntimeError(f"{verb} failed: {result.message}\n" + "\n".join(result.details)))
        self.app.post_message(RepoChanged())
