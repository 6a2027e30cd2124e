"""The folder of the workbench's own files beside a repository's (`.workbench/`: results, the
response cache, the monitor's store and events), kept out of Git."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from workbench.errors import WorkbenchError

STATE_FOLDER = ".workbench"


class FolderError(WorkbenchError, OSError):
    """A folder that cannot be created, saying why in words (`why`): mkdir says "File exists"
    when the folder's place holds a file, and "Not a directory" when a parent is one. An OSError
    to the code that writes on regardless (the recorder), a WorkbenchError to the user (the CLI
    said "unexpected error: FolderError")."""

    def __init__(self, code: int | None, folder: Path, why: str) -> None:
        OSError.__init__(self, code, why)
        self.folder, self.why = folder, why
        self.message, self.hint = str(self), f"workbench keeps its results, cache and monitor store in {folder}: it must be a folder it can write"

    def __str__(self) -> str:
        return f"cannot create the folder {self.folder}: {self.why}"


def make_store_folder(folder: Path) -> None:
    """Create `folder` (`FolderError` names what stops it); the `.workbench` folder holding it
    gets a `.gitignore` of `*` (as pytest's and ruff's caches do), so Git never sees a store.
    Only `workbench init` writes a `.workbench/` line into the repository's own `.gitignore`:
    elsewhere the stores blocked `switch` as uncommitted changes, and `switch --stash` put them
    in the stash."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FolderError(err.errno, folder, os_error_cause(err, folder, folder=True)) from err
    state = next((f for f in (folder, *folder.parents) if f.name == STATE_FOLDER), None)
    if state is not None:
        try:  # O_EXCL: never through a link planted there, never over a file the user wrote
            fd = os.open(state / ".gitignore", os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError:
            return  # there already, or a read-only folder (the store itself says what is wrong)
        with os.fdopen(fd, "w", encoding="utf-8") as ignore:
            ignore.write("# written by workbench: its stores are not part of the repository\n*\n")


def os_error_cause(err: OSError, path: Path, *, folder: bool = False) -> str:
    """Why `path` (a file, or with `folder` a folder) could not be created or written, naming the
    real cause: the system's text can mislead ("File exists" for a parent that is a file)."""
    code = err.errno  # os.path's checks, not Path's: they never raise (an unreadable parent)
    if code in (errno.EEXIST, errno.ENOTDIR, errno.ENOENT):
        for place in (*reversed(path.parents), *((path,) if folder else ())):
            if os.path.islink(place) and not os.path.exists(place):
                return f"{place} is a broken link"
            if os.path.exists(place) and not os.path.isdir(place):
                return f"{place} is a file, not a folder"
    if code == errno.EISDIR:
        return f"{path} is a folder, not a file"
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "no space left on the disk" + (" (disk quota used up)" if code != errno.ENOSPC else "")
    if code == errno.EROFS:
        return "the file system is read-only"
    if code in (errno.EACCES, errno.EPERM):
        existing = next((p for p in (path, *path.parents) if os.path.exists(p)), path)
        return f"no permission to write {'in ' if existing != path or folder else ''}{existing}"
    if code == errno.EFBIG:
        return f"{path} is as large as the file system or its limits allow"
    return err.strerror or str(err)
