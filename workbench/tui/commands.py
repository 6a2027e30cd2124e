"""Command palette provider: every action of the app, by name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from workbench.tui.actions import ACTIONS


class WorkbenchCommands(Provider):
    async def discover(self) -> Hits:
        for act in ACTIONS:
            if act.palette:
                yield DiscoveryHit(act.description, partial(self.app.run_action, act.action), help=f"key: {act.key_label}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for act in ACTIONS:
            if not act.palette:
                continue
            score = matcher.match(act.description)
            if score > 0:
                yield Hit(score, matcher.highlight(act.description), partial(self.app.run_action, act.action), help=f"key: {act.key_label}")
