"""Ctrl+C typed at a terminal during a write, as the on-call engineer would: the terminal sends
SIGINT to its whole foreground process group, git's processes included."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from vcs_helpers import pre_commit_hook_in_new_repositories, run_git

# A git hook that holds the release tag's ref update open until Ctrl+C has been typed. The hook
# ignores Ctrl+C itself: a shell unblocks signals, so a hook is the user's program, free to die of
# it (git then refuses the write, and nothing is half done); what is tested is git's own process.
_SLOW_TAG_HOOK = """#!/bin/sh
trap '' INT
if [ "$1" = prepared ] && grep -q 'refs/tags/greeting@v1' ; then
  touch under-way  # hooks run at the top of the working tree
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


def _ctrl_c_once_under_way(repo: Path, *args: str) -> tuple[int, str]:
    """Run `workbench -C repo ARGS` on a terminal, type Ctrl+C once a hook has written
    `under-way`, and give (exit status, what the terminal showed)."""
    controller, terminal = os.openpty()
    env = dict(os.environ, TERM="dumb", NO_COLOR="1")
    command = [sys.executable, "-m", "workbench", "-C", str(repo), *args]
    with subprocess.Popen(
        [sys.executable, "-c", _ON_THE_TERMINAL, *command],
        stdin=terminal, stdout=terminal, stderr=terminal, start_new_session=True, env=env,
    ) as process:
        os.close(terminal)
        deadline = time.monotonic() + 60
        while not (repo / "under-way").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (repo / "under-way").exists(), "the hook never ran"
        os.write(controller, b"\x03")  # Ctrl+C, as typed: the terminal signals its foreground group
        output = _read_all(controller, time.monotonic() + 60).decode("utf-8", "replace")
        status = process.wait(timeout=60)
    os.close(controller)
    return status, output


def _hook(repo: Path, name: str, body: str) -> None:
    hook = repo / ".git" / "hooks" / name
    hook.write_text(body)
    hook.chmod(0o755)


def test_ctrl_c_during_the_release_tag_leaves_a_whole_promote(repo: Path) -> None:
    """Ctrl+C reached git too: the tag's git died and the promote stopped with a release tag
    and no deployment event, or with neither, depending on the moment. Git now starts with
    SIGINT blocked; Ctrl+C reaches workbench alone, which finishes the write."""
    _hook(repo, "reference-transaction", _SLOW_TAG_HOOK)
    status, output = _ctrl_c_once_under_way(repo, "promote", "greeting", "--env", "dev", "-m", "x")
    assert "greeting@v1" in run_git(repo, "tag", "--list"), output
    events = run_git(repo, "for-each-ref", "--format=%(refname)", "refs/tags/deploy/")
    assert "dev" in events, (output, events)
    assert "greeting@v1" in output and "interrupted" in output, output
    assert status == 130, output


def test_ctrl_c_during_a_commit_says_what_was_committed(repo: Path) -> None:
    """`commit` was not shielded: Ctrl+C during the pre-commit hook said only "interrupted"
    while git went on and made the commit (or, a hook killed, left the file staged)."""
    _hook(repo, "pre-commit", "#!/bin/sh\ntrap '' INT\ntouch under-way\nsleep 2\nexit 0\n")
    (repo / "prompts" / "greeting.yaml").write_text((repo / "prompts" / "greeting.yaml").read_text() + "# more\n")
    status, output = _ctrl_c_once_under_way(repo, "commit", "greeting", "-m", "more")
    assert run_git(repo, "log", "-1", "--format=%s").strip() == "more", output
    assert "committed" in output and "interrupted" in output and status == 130, output


def test_only_a_subcommand_that_may_ask_keeps_ctrl_c() -> None:
    """Any argument was matched: `git switch push` (a branch named push) ran with Ctrl+C."""
    from workbench.vcs.detached import may_ask

    assert may_ask(["git", "push", "origin", "main"]) and may_ask(["git", "-c", "core.x=1", "fetch", "origin"])
    assert not may_ask(["git", "switch", "push"]) and not may_ask(["git", "tag", "-a", "clone", "-m", "m"])


def test_ctrl_c_during_init_leaves_a_whole_first_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`workbench init` ran git through GitPython's own calls, not as a process started with
    Ctrl+C held back: Ctrl+C during the first commit killed git and left prompts/ and
    workbench.yaml with no commit, which a second `init` refuses ("already holds a prompt
    repository"). Now the init finishes, says what it made, and exits 130."""
    for key, value in pre_commit_hook_in_new_repositories(tmp_path, "#!/bin/sh\ntrap '' INT\ntouch under-way\nsleep 2\nexit 0\n").items():
        monkeypatch.setenv(key, value)
    target = tmp_path / "new"
    target.mkdir()
    status, output = _ctrl_c_once_under_way(target, "init", str(target))
    assert run_git(target, "log", "-1", "--format=%s").strip() == "Initial prompt repository", output
    committed = run_git(target, "ls-files").split()
    assert {"prompts/example/greeting.yaml", "workbench.yaml", ".gitignore"} <= set(committed), output
    assert "created a prompt repository" in output and "interrupted" in output and status == 130, output
