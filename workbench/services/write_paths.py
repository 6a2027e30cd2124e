"""Paths a user names for workbench to write (a report file):
checked before the command starts where that can be told without writing, and a write that
fails all the same is `cannot write PATH: why`, exit 2, never "unexpected error"."""

from __future__ import annotations

import os
from pathlib import Path


def file_problem(path: Path) -> str | None:
    """Why the file `path` cannot be written (its folder is not created), or None."""
    if path.is_dir():
        return "it is a folder"
    folder = path.parent
    if not folder.exists():
        return f"the folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(path if path.exists() else folder, os.W_OK):
        return "permission denied"
    return None
