"""Every file and folder of a repository, `.git` and `.workbench` included: to prove that nothing was written."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


def tree_state(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every file and folder under `root` (`.git` and `.workbench` included): kind, modification
    time in ns, and the SHA-256 of a file's content. A folder's time changes whenever an entry
    is created or removed in it, even a temporary one."""
    state: dict[str, tuple[str, int, str]] = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            info = path.lstat()
            rel = path.relative_to(root).as_posix()
            if stat.S_ISREG(info.st_mode):
                state[rel] = ("file", info.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
            elif stat.S_ISDIR(info.st_mode):
                state[rel] = ("dir", info.st_mtime_ns, "")
            else:
                state[rel] = ("other", info.st_mtime_ns, os.readlink(path) if stat.S_ISLNK(info.st_mode) else "")
    info = root.lstat()
    state["."] = ("dir", info.st_mtime_ns, "")
    return state


def changes(before: dict[str, tuple[str, int, str]], after: dict[str, tuple[str, int, str]]) -> list[str]:
    return [f"{path}: {before.get(path)} -> {after.get(path)}" for path in sorted(before.keys() | after.keys()) if before.get(path) != after.get(path)]
