"""Paths a user names for workbench to write (a report, an export's folder, a new repository):
checked before the command starts where that can be told without writing, and a write that
fails all the same is `cannot write PATH: why`, exit 2, never "unexpected error"."""

from __future__ import annotations

import os
from pathlib import Path

from workbench.core.state_folder import os_error_cause
from workbench.errors import WorkbenchError


def file_problem(path: Path) -> str | None:
    """Why the file `path` cannot be written (its folder is not created), or None; in the words
    of `os_error_cause`, which says why a write failed all the same."""
    if path.is_dir():
        return f"{path} is a folder, not a file"
    folder = path.parent
    if not folder.exists():
        return f"the folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    if not os.access(path if path.exists() else folder, os.W_OK):
        return f"no permission to write {path}" if path.exists() else f"no permission to write in {folder}"
    return None


def folder_problem(path: Path) -> str | None:
    """Why the folder `path` cannot be written into or created (with its parents), or None."""
    existing = path if path.exists() else next((p for p in path.parents if p.exists()), None)
    if existing is None:
        return None
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    return None if os.access(existing, os.W_OK | os.X_OK) else f"no permission to write in {existing}"


def write_error(path: Path | str, err: OSError, hint: str) -> WorkbenchError:
    """What a file that could not be written is told: the path, and why in words
    (`os_error_cause`: the system's "Not a directory" or "File exists" can mislead)."""
    return WorkbenchError(f"cannot write {path}: {os_error_cause(err, Path(path))}", hint=hint)
