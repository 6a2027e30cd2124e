"""Paths a user names for workbench to write (a report, an export's folder, a new repository):
checked before the command starts where that can be told without writing, and a write that
fails all the same is `cannot write PATH: why`, exit 2, never "unexpected error"."""

from __future__ import annotations

import os
from pathlib import Path

from workbench.errors import WorkbenchError


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


def folder_problem(path: Path) -> str | None:
    """Why the folder `path` cannot be written into or created (with its parents), or None."""
    if path.exists():
        if not path.is_dir():
            return "it is not a folder"
        return None if os.access(path, os.W_OK | os.X_OK) else "permission denied"
    existing = next((p for p in path.parents if p.exists()), None)
    if existing is None:
        return None
    if not existing.is_dir():
        return f"{existing} is not a folder"
    return None if os.access(existing, os.W_OK | os.X_OK) else f"permission denied in {existing}"


def write_error(path: Path | str, err: OSError, hint: str) -> WorkbenchError:
    """What a file that could not be written is told: the path, the system's reason."""
    return WorkbenchError(f"cannot write {path}: {err.strerror or err}", hint=hint)
