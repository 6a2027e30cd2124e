"""The in-app editor's file: read as every reader of a working-copy prompt reads it (inside
prompts/, a regular file, limited), and written whole, only where it was read.

The editor read the file with `read_bytes()` on the UI's event loop: a link under prompts/ to
a file elsewhere opened that file (and saving replaced what the link named), a FIFO froze the app.
"""

from __future__ import annotations

from workbench.core.model import PROMPTS_DIR, prompt_file_text
from workbench.core.safe_text import clean
from workbench.errors import WorkbenchError
from workbench.services.atomic_files import write_atomically
from workbench.services.prompts import read_confined_bytes
from workbench.services.session import RepoSession


def editable_text(session: RepoSession, relpath: str) -> str:
    """The text of the prompt file `relpath` for the editor.

    Raises:
        WorkbenchError: it cannot be read as a prompt file under prompts/ (a link out of it, not a
            regular file, past the size limit), or it is not UTF-8 (the editor would lose bytes).
    """
    try:
        data = read_confined_bytes(session.root, relpath)
    except (OSError, ValueError) as err:
        raise WorkbenchError(f"cannot open {clean(relpath)} in the editor: {clean(str(err))}") from None
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
    """Replace the file with `text`, atomically, in its folder under prompts/.

    Raises:
        WorkbenchError: the folder is no longer inside prompts/ (swapped for a link since it was
            read), or the file cannot be written.
    """
    folder = (session.root / relpath).parent
    if not folder.resolve().is_relative_to((session.root / PROMPTS_DIR).resolve()):
        raise WorkbenchError(f"cannot save {clean(relpath)}: its folder is no longer inside {PROMPTS_DIR}/ (a link)")
    try:
        write_atomically(session.root / relpath, text)
    except OSError as err:
        raise WorkbenchError(f"cannot save {clean(relpath)}: {clean(err.strerror or str(err))}") from None
