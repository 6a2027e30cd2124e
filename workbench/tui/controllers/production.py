"""Production metrics of the selected prompt (5), with the way into the rollback flow."""

from __future__ import annotations

from workbench.tui.controllers.base import Controller
from workbench.tui.screens.monitor import MonitorScreen


class ProductionController(Controller):
    def show(self) -> None:
        if self.selected_prompt() is not None:
            self.start(self._show, group="monitor")

    async def _show(self) -> None:
        name = self.app.selected_prompt
        if name is None:
            return
        envs = self.session.environments
        env = "prod" if "prod" in envs else envs[-1]
        from workbench.services import monitor  # the monitor store loads on first use

        report = await self.call(monitor.report, name, env, series=True)
        if await self.ask(MonitorScreen(report)) == "rollback":
            self.app.deploy.rollback(name)
