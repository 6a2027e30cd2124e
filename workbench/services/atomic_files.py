"""The caches' files: written whole or not at all (a crash or a full disk never leaves half a
file), and read only when they are regular files."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from pathlib import Path

from workbench.core.limited_read import read_at_most


def write_atomically(path: Path, data: str | bytes) -> None:
    """Write via a temporary file in the same folder and rename: never a half-written file.

    An existing file keeps its permission bits (mkstemp creates 0600 files).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(temp, new_file_mode() if mode is None else mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def new_file_mode() -> int:
    """0o666 under the process's umask. Read where Linux says it (`/proc/self/status`): finding
    it by setting it to 0 and back made, for that instant, every file another thread created
    (the app saves and writes caches off the UI thread) world-writable. Elsewhere, that way."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically_at(folder: int, name: str, data: str | bytes) -> None:
    """`write_atomically` of the file `name` in the open folder `folder` (a descriptor): the write
    lands in that folder whatever is swapped in at its path meanwhile, and a link at `name` is
    replaced, never written through. The file keeps its permission bits, as there."""
    try:
        existing: os.stat_result | None = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        existing = None
    # A new file, or a link replaced: the mode a new file gets.
    mode = existing.st_mode & 0o7777 if existing is not None and stat.S_ISREG(existing.st_mode) else new_file_mode()
    temp = f".{name}.{secrets.token_hex(8)}.tmp"
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600, dir_fd=folder)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            os.fchmod(handle.fileno(), mode)
        os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=folder)
        raise


def read_regular_file(path: Path, limit: int) -> bytes | None:
    """Up to `limit` + 1 bytes of `path` (more than `limit`: too big); None when it is missing,
    unreadable, or not a regular file: a FIFO planted in its place would make the read wait for
    a writer for ever, a device would never end (`core.limited_read.read_at_most`)."""
    try:
        return read_at_most(path, limit, regular_only=True)
    except OSError:
        return None
