"""The in-app editor's file: read as every reader of a working-copy prompt reads it (inside
prompts/, a regular file, limited), and written whole, in the folder it was read from.

The editor read the file with `read_bytes()` on the UI's event loop: a link under prompts/ to
a file elsewhere opened that file (and saving replaced what the link named), a FIFO froze the app.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable

from workbench.core.limited_read import open_folder_inside
from workbench.core.model import PROMPTS_DIR, prompt_file_text
from workbench.core.safe_text import clean
from workbench.errors import WorkbenchError
from workbench.services.atomic_files import write_atomically, write_atomically_at
from workbench.services.prompts import read_confined_bytes
from workbench.services.session import RepoSession


def editable_bytes(session: RepoSession, relpath: str) -> bytes:
    """The prompt file `relpath`, read as every reader reads it: what `$EDITOR` (e) is handed
    the file for, and the in-app editor (E) shows.

    Raises:
        WorkbenchError: it cannot be read as a prompt file under prompts/ (a link out of it, not a
            regular file, past the size limit).
    """
    try:
        return read_confined_bytes(session.root, relpath)
    except (OSError, ValueError) as err:
        raise WorkbenchError(f"cannot open {clean(relpath)} in the editor: {clean(str(err))}") from None


def editable_text(session: RepoSession, relpath: str) -> str:
    """`editable_bytes` as text for the in-app editor.

    Raises:
        WorkbenchError: as `editable_bytes`, or the file is not UTF-8 (the editor would lose bytes).
    """
    data = editable_bytes(session, relpath)
    text = prompt_file_text(data, relpath)
    if not isinstance(text, str):
        raise WorkbenchError(f"{text.errors[0].format()} — the editor opens UTF-8 text only")
    return text


def text_on_disk(session: RepoSession, relpath: str) -> str | None:
    """What the file holds now, read as `editable_text` reads it; None when it cannot be."""
    try:
        return editable_text(session, relpath)
    except WorkbenchError:
        return None


def save_text(session: RepoSession, relpath: str, text: str) -> None:
    """Replace the file with `text`, atomically, in its folder under prompts/: the folder is
    opened as reads open files (never through a link out of prompts/), and written relative to
    that descriptor, so a folder swapped for a link meanwhile changes nothing outside. A link at
    the file's own name is replaced by the file, as `$EDITOR`'s atomic saves do.

    Raises:
        WorkbenchError: the folder is not inside prompts/, or the file cannot be written.
    """
    folder, name = posixpath.split(relpath)
    try:
        descriptor = open_folder_inside(session.root, folder, within=PROMPTS_DIR)
    except NotImplementedError:  # no dir_fd here (Windows): checked, then written by path
        if not (session.root / folder).resolve().is_relative_to((session.root / PROMPTS_DIR).resolve()):
            raise WorkbenchError(f"cannot save {clean(relpath)}: its folder is not inside {PROMPTS_DIR}/ (a link)") from None
        _written(relpath, lambda: write_atomically(session.root / relpath, text))
        return
    except (OSError, ValueError) as err:  # ValueError: Outside
        raise WorkbenchError(f"cannot save {clean(relpath)}: {clean(str(err))}") from None
    try:
        _written(relpath, lambda: write_atomically_at(descriptor, name, text))
    finally:
        os.close(descriptor)


def _written(relpath: str, write: Callable[[], None]) -> None:
    try:
        write()
    except OSError as err:
        raise WorkbenchError(f"cannot save {clean(relpath)}: {clean(err.strerror or str(err))}") from None
