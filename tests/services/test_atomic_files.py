"""Files written whole (`services.atomic_files`), with the mode a new file gets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from workbench.services import atomic_files


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux says the umask in /proc/self/status")
def test_a_new_file_gets_the_umasks_mode_without_the_umask_being_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mode of a new file was found by setting the umask to 0 and back: for that instant,
    any file another thread created (the app saves and writes caches off the UI thread) was
    created world-writable. The umask is read where Linux says it, never changed."""
    umask = os.umask(0o027)
    os.umask(0o027)
    try:
        def refused(mask: int) -> int:
            raise AssertionError("the umask was changed")

        monkeypatch.setattr(atomic_files.os, "umask", refused)
        atomic_files.write_atomically(tmp_path / "a.txt", "a")
        folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            atomic_files.write_atomically_at(folder, "b.txt", "b")
        finally:
            os.close(folder)
    finally:
        monkeypatch.undo()
        os.umask(umask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o640
