"""Files read with a limit: every input ends.

A path may name a regular file, a FIFO (`<(zcat x.gz)`), a device (`/dev/zero` never ends) or
a folder. Each read here takes at most its limit plus one byte, so an input past its limit is
refused without being held whole, and a stream is never read to its end first.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class TooLarge(ValueError):
    """A file past its limit: more than `limit` bytes, and what the limit is."""

    def __init__(self, limit: int, rule: str) -> None:
        super().__init__(f"more than {limit:,} bytes; {rule}")
        self.limit = limit


def mib(size: int) -> str:
    """`16 MiB` for 16,777,216: a limit as the README gives it."""
    return f"{size // 2**20} MiB" if size % 2**20 == 0 else f"{size:,} bytes"


def read_at_most(path: Path | str, limit: int, *, regular_only: bool = False) -> bytes:
    """Up to `limit` + 1 bytes of `path` (more than `limit`: too big), whatever kind of file it is.

    `regular_only` refuses a FIFO, a device or a socket without waiting: for files nobody named
    on the command line (caches, prompt files found under prompts/), where a FIFO planted in
    their place would make the read wait for a writer for ever. A path the user named may be a
    stream (`--vars-file <(...)`): it is opened as `cat` would, and read no further than this.

    Raises:
        OSError: missing, unreadable, a folder, or (`regular_only`) not a regular file.
    """
    descriptor = os.open(path, os.O_RDONLY | (os.O_NONBLOCK if regular_only else 0))
    with os.fdopen(descriptor, "rb") as handle:
        if regular_only and not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return handle.read(limit + 1)


def read_limited(path: Path | str, limit: int, rule: str, *, regular_only: bool = False) -> bytes:
    """All of `path` when it holds at most `limit` bytes (`read_at_most`).

    Raises:
        OSError: as `read_at_most`. TooLarge: more than `limit` bytes (`rule` says the limit).
    """
    data = read_at_most(path, limit, regular_only=regular_only)
    if len(data) > limit:
        raise TooLarge(limit, rule)
    return data
