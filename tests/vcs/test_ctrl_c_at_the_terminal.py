"""Ctrl+C typed at a terminal during a promote, as the on-call engineer would: the terminal
sends SIGINT to its whole foreground process group, git's processes included."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from vcs_helpers import run_git

# A git hook that holds the release tag's ref update open until Ctrl+C has been typed. The hook
# ignores Ctrl+C itself: a shell unblocks signals, so a hook is the user's program, free to die of
# it (git then refuses the write, and nothing is half done); what is tested is git's own process.
_SLOW_TAG_HOOK = """#!/bin/sh
trap '' INT
if [ "$1" = prepared ] && grep -q 'refs/tags/greeting@v1' ; then
  touch tag-under-way  # hooks run at the top of the working tree
  sleep 2
fi
exit 0
"""

# Runs the command as a session leader on the pseudo-terminal it is given, as a login shell
# runs what is typed: the terminal's foreground group is the command's.
_ON_THE_TERMINAL = "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); os.execvp(sys.argv[1], sys.argv[1:])"


def _read_all(fd: int, deadline: float) -> bytes:
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the other end is closed: the command has ended
            break
        if not chunk:
            break
        seen += chunk
    return seen


def test_ctrl_c_during_the_release_tag_leaves_a_whole_promote(repo: Path) -> None:
    """Ctrl+C reached git too: the tag's git died and the promote stopped with a release tag
    and no deployment event, or with neither, depending on the moment. Git now runs outside
    the terminal's foreground group; Ctrl+C reaches workbench, which finishes the write."""
    hook = repo / ".git" / "hooks" / "reference-transaction"
    hook.write_text(_SLOW_TAG_HOOK)
    hook.chmod(0o755)
    controller, terminal = os.openpty()
    env = dict(os.environ, TERM="dumb", NO_COLOR="1")
    command = [sys.executable, "-m", "workbench", "-C", str(repo), "promote", "greeting", "--env", "dev", "-m", "x"]
    with subprocess.Popen(
        [sys.executable, "-c", _ON_THE_TERMINAL, *command],
        stdin=terminal, stdout=terminal, stderr=terminal, start_new_session=True, env=env,
    ) as process:
        os.close(terminal)
        deadline = time.monotonic() + 60
        while not (repo / "tag-under-way").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (repo / "tag-under-way").exists(), "the hook never ran"
        os.write(controller, b"\x03")  # Ctrl+C, as typed: the terminal signals its foreground group
        output = _read_all(controller, time.monotonic() + 60).decode("utf-8", "replace")
        status = process.wait(timeout=60)
    os.close(controller)
    assert "greeting@v1" in run_git(repo, "tag", "--list"), output
    events = run_git(repo, "for-each-ref", "--format=%(refname)", "refs/tags/deploy/")
    assert "dev" in events, (output, events)
    assert "greeting@v1" in output and "interrupted" in output, output
    assert status == 130, output
