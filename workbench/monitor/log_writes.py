"""How the recorder appends to its log: every byte a write reached the file with is known (a
disk filling up takes part of a write, then refuses the rest), a torn last line is ended before
anything is appended to it, and failures are logged without flooding the application's log."""

from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path
from typing import Any

from workbench.core.state_folder import FolderError, os_error_cause

WARN_EVERY_S = 60.0  # while writes keep failing: at most one warning this often


class WriteFailed(Exception):
    """A write failed after `done` characters of it reached the file (the cause is chained)."""

    def __init__(self, done: int) -> None:
        super().__init__(done)
        self.done = done


def append(handle: Any, lines: str, *, torn: bool) -> None:
    """Write `lines` to `handle` (unbuffered, appending), after a newline if the file ends `torn`;
    `WriteFailed` says how many characters of `lines` reached the file. The lines are ASCII (the
    recorder's JSON escapes every other character), so characters and bytes count alike."""
    data = (b"\n" if torn else b"") + lines.encode("ascii")
    done = 0
    try:
        view = memoryview(data)
        while done < len(data):
            wrote = handle.write(view[done:])
            if not wrote:
                raise OSError(errno.EIO, "the file took no bytes")
            done += wrote
    except Exception as err:
        raise WriteFailed(max(0, done - torn)) from err


def ends_torn(path: Path) -> bool:
    """Whether the file ends in a fragment of a line (torn by a crash or a failed write): the next
    write appended to it glued its first event onto the fragment, and ingest lost both."""
    try:
        with open(path, "rb") as file:
            if file.seek(0, os.SEEK_END) == 0:
                return False
            file.seek(-1, os.SEEK_END)
            return file.read(1) != b"\n"
    except OSError:  # unreadable: write as before
        return False


def whole_lines(lines: list[str], done: int) -> int:
    """How many of `lines` lie whole within their first `done` characters."""
    whole = 0
    for line in lines:
        done -= len(line)
        if done < 0:
            break
        whole += 1
    return whole


def cause_of(err: BaseException, path: Path) -> str:
    """What stopped a write, in words (a folder that is a file, no space, read-only...)."""
    cause = err.__cause__ if isinstance(err, WriteFailed) and err.__cause__ is not None else err
    if isinstance(cause, FolderError):
        return cause.why
    if isinstance(cause, OSError):
        return os_error_cause(cause, path)
    return f"{type(cause).__name__}: {cause}"


class FailureWarnings:
    """The first failed write is logged at once; while writes keep failing, at most one warning
    per `every_s` (or at once when the cause changes) says how many failed since; the first write
    that works again says so. A folder that cannot be written logged one warning per batch."""

    def __init__(self, log: logging.Logger, path: Path) -> None:
        self.log, self.path = log, path
        self.failed_in_a_row = self.unreported = 0
        self.warned_at = 0.0
        self.cause = ""

    def failed(self, err: BaseException, kept: int, retry_s: float, every_s: float) -> None:
        cause, now = cause_of(err, self.path), time.monotonic()
        self.failed_in_a_row += 1
        self.unreported += 1
        if self.failed_in_a_row == 1:
            self.log.warning("workbench monitor: cannot write %s: %s; %d event(s) kept, written again every %g s", self.path, cause, kept, retry_s)
        elif cause != self.cause or now - self.warned_at >= every_s:
            self.log.warning(
                "workbench monitor: still cannot write %s: %s; %d failed write(s) since the last warning, %d event(s) kept",
                self.path, cause, self.unreported, kept,
            )
        else:
            return
        self.cause, self.warned_at, self.unreported = cause, now, 0

    def recovered(self, written: int) -> None:
        if self.failed_in_a_row:
            self.log.warning("workbench monitor: writing %s again after %d failed write(s); %d kept event(s) written", self.path, self.failed_in_a_row, written)
            self.failed_in_a_row = self.unreported = 0
