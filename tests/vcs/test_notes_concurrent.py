"""Test summaries written by workbench processes at the same moment all reach the git note.

`git notes append` writes the notes ref without checking what it held: of eight `workbench
test` runs finishing together, one or two notes were lost, silently, and a promotion that the
local results allowed later showed in `workbench audit` as a violation ("no stored test run").
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from vcs_helpers import run_git

from workbench.errors import RepoError
from workbench.services.session import RepoSession
from workbench.services.test_results import NOTES_REF, record_note

WRITERS = 8
LINES = 5

WRITER = """
import sys, time
from workbench.services.session import RepoSession
from workbench.services.test_results import record_note
root, start, me = sys.argv[1], float(sys.argv[2]), sys.argv[3]
session = RepoSession.open(root)
session.store.resolve("HEAD")  # the git helpers run before the start: the writes overlap
while time.time() < start:
    time.sleep(0.001)
for n in range({lines}):
    record_note(session, session.store.resolve("HEAD"), f"workbench: p{{me}}-{{n}} ✓ 1/1 echo 2026-01-01T00:00:00Z")
session.close()
"""


def test_notes_written_at_once_by_several_processes_are_all_kept(repo: Path) -> None:
    start = time.time() + 2.0
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER.format(lines=LINES), str(repo), str(start), str(me)], stderr=subprocess.PIPE, text=True)
        for me in range(WRITERS)
    ]
    errors = [w.communicate(timeout=60)[1] for w in writers]
    assert [w.returncode for w in writers] == [0] * WRITERS, errors
    note = run_git(repo, "notes", f"--ref={NOTES_REF}", "show", "HEAD")
    kept = {line.split()[1] for line in note.splitlines() if line.startswith("workbench: ")}
    assert kept == {f"p{me}-{n}" for me in range(WRITERS) for n in range(LINES)}


def test_a_lock_folder_that_cannot_be_made_is_a_repository_error(repo: Path) -> None:
    """`.git/workbench` a file (or `.git` on a read-only disk): the notes lock raised a bare
    OSError, and `workbench test` ended in "unexpected error" after its whole run, where the
    note that could not be written had been a warning."""
    (repo / ".git" / "workbench").write_text("not a folder")
    with RepoSession.open(repo) as session, pytest.raises(RepoError, match="cannot take the lock"):
        record_note(session, session.store.resolve("HEAD"), "workbench: p ✓ 1/1 echo 2026-01-01T00:00:00Z")

