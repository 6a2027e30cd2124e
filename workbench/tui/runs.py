"""Test runs in the app: one version (`t`) or base vs selected (`T`), streamed into TestsPane.

The evaluation services do the work in an async worker; each progress event updates one
row. `escape` cancels the worker; results that arrived stay on screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp


class RunController:
    """Starts, streams, cancels and explains test runs for the app."""

    def __init__(self, app: WorkbenchApp) -> None:
        self.app = app
        self.worker: Any = None
        self.last: Any = None

    def run_single(self) -> None:
        self.app.notify("the evaluation engine is not installed in this build", severity="warning")

    def run_ab(self) -> None:
        self.app.notify("the evaluation engine is not installed in this build", severity="warning")

    def cancel(self) -> bool:
        if self.worker is not None and self.worker.is_running:
            self.worker.cancel()
            return True
        return False

    def open_case(self, case_id: str) -> None:
        del case_id
