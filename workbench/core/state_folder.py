"""The folder of the workbench's own files beside a repository's (`.workbench/`: results, the
response cache, the monitor's store and events), kept out of Git."""

from __future__ import annotations

import os
from pathlib import Path

STATE_FOLDER = ".workbench"


def make_store_folder(folder: Path) -> None:
    """Create `folder`; the `.workbench` folder holding it gets a `.gitignore` of `*` (as
    pytest's and ruff's caches do), so Git never sees a store. Only `workbench init` writes a
    `.workbench/` line into the repository's own `.gitignore`: elsewhere the stores blocked
    `switch` as uncommitted changes, and `switch --stash` put them in the stash."""
    folder.mkdir(parents=True, exist_ok=True)
    state = next((f for f in (folder, *folder.parents) if f.name == STATE_FOLDER), None)
    if state is not None:
        try:  # O_EXCL: never through a link planted there, never over a file the user wrote
            fd = os.open(state / ".gitignore", os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError:
            return  # there already, or a read-only folder (the store itself says what is wrong)
        with os.fdopen(fd, "w", encoding="utf-8") as ignore:
            ignore.write("# written by workbench: its stores are not part of the repository\n*\n")
