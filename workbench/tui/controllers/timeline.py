"""`6`: the repository's timeline, and the two ways out of it: a version to look at, a rollback."""

from __future__ import annotations

from workbench.services import timeline
from workbench.tui.controllers.base import Controller
from workbench.tui.screens.timeline import TimelineScreen


class TimelineController(Controller):
    def show(self) -> None:
        if self.app.session is None:
            self.app.notify("the repository is not open", severity="warning")
            return
        self.start(self._show, group="timeline")

    async def _show(self) -> None:
        events = await self.call(timeline.timeline)
        choice = await self.ask(TimelineScreen(events, self.session.environments, clock=self.app.clock))
        if choice is None:
            return
        what, event = choice
        if what == "rollback":
            self.app.deploy.rollback(event.prompt)
            return
        version, replaced = await self.call(timeline.versions_of, event)
        self.app.browse.open_version(event.prompt, version, replaced)
