"""`workbench ui`: open the app."""

from __future__ import annotations

from pathlib import Path

from workbench.errors import WorkbenchError


def open_app(root: Path) -> None:
    raise WorkbenchError("the app is not built yet", hint="run `workbench --help` for the commands")
