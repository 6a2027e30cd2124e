"""One writer at a time for each decision workbench makes by reading Git and then writing a tag.

`execute` checked that the environment had not changed since the plan, then wrote the event
tag, with nothing in between to stop another process: two promotions started together both
wrote, each recording the same previous version, and three `workbench tag` runs on one commit
made three releases of it. Each such read-then-write now runs holding an exclusive lock on
`.git/workbench/locks/<hash of what>.lock`, so the second writer reads what the first wrote
(and gets "changed while you looked", or "already released").

The lock is `flock`, held by the open file: the kernel releases it when the process ends, even
by `kill -9`, so a crash never leaves a stale lock behind. The file only says who holds it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from workbench.errors import RepoError
from workbench.services.session import RepoSession
from workbench.vcs.git_errors import ReadOnlyError

WAIT_SECONDS = 20.0  # a write under the lock takes well under a second; past this, something is stuck


@contextmanager
def exclusive(session: RepoSession, *what: str, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the lock on `what` (e.g. `"deploy", env, prompt`) for the block, waiting for another holder.

    The write under it checks the rest (a stale `index.lock` stops a commit, not a note).

    Raises:
        ReadOnlyError: a read-only session (nothing is created under `.git`).
        RepoError: the lock cannot be made (a bare OSError ended `workbench test` in "unexpected
            error" after its run); another process held it for `wait` seconds (named with its pid).
    """
    if session.store.read_only:
        raise ReadOnlyError()
    folder = session.store.git_dir / "workbench" / "locks"
    path = folder / (hashlib.sha256("\0".join(what).encode("utf-8", "surrogatepass")).hexdigest()[:32] + ".lock")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as err:
        raise RepoError(f"cannot take the lock {path}: {err.strerror or err}", hint=f"{folder} must be a folder workbench can write") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
                    raise RepoError(
                        f"another workbench process is writing {' '.join(what)} ({holder}): gave up after {wait:g} s",
                        hint=f"try again when it is done; the lock ({path}) is released when that process ends",
                    ) from None
                time.sleep(0.01)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {datetime.now(UTC).isoformat(timespec='seconds')}\n".encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
