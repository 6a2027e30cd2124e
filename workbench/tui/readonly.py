"""A read-only app (`workbench serve` without `--write`, `workbench ui --read-only`): every flow that writes is refused, with a notice.

Two layers: every key and palette entry passes through `run_action`, which refuses the
actions marked `writes` in `tui/actions.py` and greys them out in the footer; and the session's
Git store is read-only (`GitRunner.read_only`), so a flow that reaches a write anyway (a merge
from the review view, a branch switch) fails with the same explanation instead of writing.
"""

from __future__ import annotations

from typing import Any

from textual.app import App

from workbench.tui.actions import ACTIONS, WRITING_ACTIONS


class ReadOnlyGate(App[None]):
    read_only: bool = False

    def refuse_write(self, what: str) -> bool:
        """In a read-only app, say why `what` cannot happen and return True (the caller stops)."""
        if not self.read_only:
            return False
        self.notify(
            f"read-only: {what} would change the repository. This app was opened read-only "
            "(workbench serve without --write, or ui --read-only); use the CLI or `workbench serve --write`.",
            title="Read-only",
            severity="warning",
            markup=False,
            timeout=8,
        )
        return True

    async def run_action(self, action: Any, default_namespace: Any = None, namespaces: Any = None) -> bool:
        """Every key and palette entry passes here: a writing action is refused with a notice."""
        if self.read_only and isinstance(action, str):
            name = action.split("(", 1)[0].rsplit(".", 1)[-1]
            if name in WRITING_ACTIONS and (default_namespace is None or default_namespace is self):
                description = next((a.description.lower() for a in ACTIONS if a.action == name), name)
                self.refuse_write(description)
                return True
        return await super().run_action(action, default_namespace, namespaces)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Grey out the writing actions in the footer of a read-only app."""
        if self.read_only and action in WRITING_ACTIONS:
            return None
        return True
