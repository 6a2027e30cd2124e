"""Files read with a limit: every input ends.

A path may name a regular file, a FIFO (`<(zcat x.gz)`), a device (`/dev/zero` never ends) or
a folder. Each read here takes at most its limit plus one byte, so an input past its limit is
refused without being held whole, and a stream is never read to its end first.

A file of the working copy that a prompt names (a tests file, a partial, a `python` check) is
read with `read_inside`: opened one part at a time below the repository, never following a link
out of it, so no link swapped in after a check can lead the read elsewhere.
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


class Outside(ValueError):
    """A path that `..` or a symbolic link leads out of the folder it must stay in."""


# Opening each part relative to the folder before it, links not followed: Linux, macOS, the BSDs.
WALKS = (
    os.open in os.supports_dir_fd
    and os.readlink in os.supports_dir_fd
    and hasattr(os, "O_NOFOLLOW")
    and hasattr(os, "O_DIRECTORY")
)
_MAX_LINKS = 40  # Linux's own limit of links followed in one path (ELOOP past it)
_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
_FILE = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def read_inside(root: Path | str, path: str, limit: int, rule: str, *, within: str = "") -> bytes:
    """All of the regular file `path` (relative to `root`, or absolute inside it) when it holds at
    most `limit` bytes, read only if it and every link on its way stay inside `root/within`.

    `..` and links are followed as `Path.resolve` does, but each part is opened relative to the
    folder before it without following a link (a link met is read and followed by hand), so what
    is opened is what was checked: a file swapped for a link out of the folder (~/.ssh/id_rsa,
    /dev/zero, a FIFO) between a check and the read is refused, never opened. The file is opened
    without waiting (a FIFO) and must be a regular file. `root` and `root/within` are trusted as
    given (a prompts/ folder may be a link to a shared one): the walk starts at `root/within`
    when `path` names it. Where `os.open` takes no folder (Windows), the path is resolved,
    checked, then read.

    Raises:
        Outside (a ValueError): `..` or a link leads out of `root/within`.
        OSError: missing, unreadable, a folder, not a regular file, too many links.
        TooLarge (a ValueError): more than `limit` bytes (`rule` says the limit).
    """
    if not WALKS:
        return _read_resolved(Path(root), path, limit, rule, within)
    descriptor = _open_below(root, path, within, folder=False)
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", path)
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
    except BaseException:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(limit, rule)
    return data


def open_folder_inside(root: Path | str, folder: str, *, within: str = "") -> int:
    """A descriptor of the folder `folder` (relative to `root`), opened as `read_inside` opens a
    file: part by part, never following a link out of `root/within`. A write relative to it
    (`dir_fd`) lands in the folder that was checked, whatever is swapped in at its path since.

    Raises:
        Outside: `..` or a link leads out. OSError: missing, not a folder. NotImplementedError:
            where `os.open` takes no folder (`WALKS` is False).
    """
    if not WALKS:
        raise NotImplementedError("os.open takes no dir_fd here")
    return _open_below(root, folder, within, folder=True)


def _open_below(root: Path | str, path: str, within: str, *, folder: bool) -> int:
    """`path` opened by `_walk` from `root/within` (trusted as given), when it names that folder."""
    if within:
        root, path = os.path.join(root, within), _below_folder(path, within)
    anchors = tuple(dict.fromkeys((os.path.realpath(root), os.path.abspath(root))))
    top = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return _walk(top, anchors, path, folder=folder)
    finally:
        os.close(top)


def _below_folder(path: str, folder: str) -> str:
    """`path` (relative to the root, or absolute) as seen from the root's `folder`: Outside when
    a relative path does not start there."""
    if os.path.isabs(path):
        return path
    parts, lead = path.split(os.sep), folder.split("/")
    if parts[: len(lead)] != lead:
        raise Outside(f"{path} is outside {folder}/")
    return os.sep.join(parts[len(lead) :])


def _walk(top: int, anchors: tuple[str, ...], path: str, *, folder: bool) -> int:
    """An open descriptor of `path`, opened part by part from the root's descriptor `top`.
    `anchors`: the root's real and given absolute paths (an absolute link must lead below one)."""
    pending = _below(anchors, path)[::-1]  # a stack: the next part last
    folders = [top]  # the open folders of `parts`, the root first
    parts: list[str] = []
    links = 0
    try:
        while pending:
            name = pending.pop()
            if name in ("", "."):
                continue
            if name == "..":
                if parts:
                    parts.pop()
                    os.close(folders.pop())
                elif pending and pending[-1] == os.path.basename(anchors[0]):
                    pending.pop()  # out of the root by name and straight back into it
                else:
                    raise Outside(f"{path} leads out of the folder it must stay in")
                continue
            last = not pending
            try:
                descriptor = os.open(name, _FILE if last and not folder else _FOLDER, dir_fd=folders[-1])
            except OSError as err:
                target = _link(name, folders[-1], err)
                links += 1
                if links > _MAX_LINKS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links", path) from None
                if os.path.isabs(target):
                    while len(folders) > 1:
                        os.close(folders.pop())
                    parts.clear()
                pending.extend(_below(anchors, target)[::-1])
                continue
            if last:
                return descriptor
            folders.append(descriptor)
            parts.append(name)
        return os.dup(folders[-1])  # the path ends in a folder (`.`, `..`, empty)
    finally:
        for descriptor in folders[1:]:
            os.close(descriptor)


def _link(name: str, folder: int, err: OSError) -> str:
    """The target of the link `name` that made an open without following links fail with `err`
    (ELOOP; ENOTDIR for a folder; EMLINK on FreeBSD); `err` itself when `name` is no link."""
    if err.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        raise err
    try:
        return os.readlink(name, dir_fd=folder)
    except OSError:
        raise err from None


def _below(anchors: tuple[str, ...], path: str) -> list[str]:
    """The parts of `path` to walk from the root: as they are when relative; below the root
    when absolute (Outside when it is not below it)."""
    if not os.path.isabs(path):
        return path.split(os.sep)
    for candidate in (path, os.path.realpath(path)):  # the root by another name (a linked home folder)
        for anchor in anchors:
            prefix = anchor.rstrip(os.sep) + os.sep
            if candidate == anchor or candidate.startswith(prefix):
                return candidate[len(prefix) :].split(os.sep)
    raise Outside(f"{path} is outside the folder it must stay in")


def _read_resolved(root: Path, path: str, limit: int, rule: str, within: str) -> bytes:
    """`read_inside` where folders cannot be opened relative to each other: checked, then read."""
    base = (root / within).resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(base):
        raise Outside(f"{path} is outside {within + '/' if within else 'the repository'}")
    return read_limited(target, limit, rule, regular_only=True)
