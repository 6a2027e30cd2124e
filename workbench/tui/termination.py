"""`kill <app>` (SIGTERM) ends the app as `q` does.

Killed outright, the app left the terminal in its alternate screen with mouse reporting on:
the shell came back on a dead screen. Asked to exit instead, Textual gives the terminal back
and the app ends its git (`on_unmount`); exit 143, as a killed process reports. A second
SIGTERM, while that is under way, ends the process at once (its git ended first).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp


class Termination:
    def __init__(self, app: WorkbenchApp) -> None:
        self.app = app
        self.asked = False

    def install(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # no Unix signals, or not the main thread
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self._on_sigterm)

    def remove(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)

    def _on_sigterm(self) -> None:
        if not self.asked:
            self.asked = True
            self.app.exit(return_code=128 + signal.SIGTERM)
            return
        self.remove()
        if self.app.session is not None:
            self.app.session.store.end_processes()
        os.kill(os.getpid(), signal.SIGTERM)
