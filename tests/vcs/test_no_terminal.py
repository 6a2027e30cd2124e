"""The app's git, and what git starts (ssh, credential helpers, askpass programs), cannot open
the terminal the app draws on; the CLI's still can.

`GIT_TERMINAL_PROMPT=0` silences git's own prompt only: ssh asks for a passphrase or a host
key by opening /dev/tty itself. In the app that prompt is invisible (Textual owns the screen)
and the push waited for ever under the session lock. The app's sessions now start every git
process in a new session, without a controlling terminal: opening /dev/tty fails at once, and
the push fails with ssh's words and a hint. Those processes no longer get the terminal's
signals, so the app ends them itself when it quits or is killed: tested with the real app on a
pty, with an ssh that never answers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import git
import pytest
from terminal_helpers import (
    PASSPHRASE,
    PASSPHRASE_PROMPT,
    alive,
    fake_ssh,
    kill_all,
    on_a_terminal,
    python_on_a_terminal,
    wait_until_gone,
)
from vcs_helpers import run_git

from workbench.core.git_text import remote_failure
from workbench.vcs.detached import SessionGit


@pytest.fixture
def ssh_remote(repo: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """`repo` with an `origin` reached through the fake ssh (`GIT_SSH`); the child's environment."""
    bare = tmp_path / "origin.git"
    run_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    run_git(repo, "remote", "add", "origin", f"ssh://git.example.com{bare}")
    pids = tmp_path / "ssh-pids"
    env = {k: v for k, v in os.environ.items() if k != "GIT_TERMINAL_PROMPT"}
    env.update(GIT_SSH=str(fake_ssh(tmp_path)), FAKE_SSH_PIDS=str(pids), GIT_SSH_VARIANT="simple")
    yield env
    if pids.exists():
        kill_all([int(p) for p in pids.read_text().split()])


def _sync_code(repo: Path, verb: str, *, prompts: bool) -> str:
    return (
        "from workbench.services import sync\n"
        "from workbench.services.session import RepoSession\n"
        f"with RepoSession.open({str(repo)!r}) as ws:\n"
        f"    ws.store.terminal_prompts = {prompts!r}\n"
        "    try:\n"
        f"        print('done', sync.{verb}(ws).ok, flush=True)\n"
        "    except Exception as err:\n"
        "        print('failed:', err, flush=True)\n"
    )


@pytest.mark.parametrize("verb", ["push", "fetch"])
def test_ssh_asking_on_the_terminal_fails_at_once_in_the_app_and_still_asks_in_the_cli(
    repo: Path, ssh_remote: dict[str, str], verb: str
) -> None:
    cli = python_on_a_terminal(_sync_code(repo, verb, prompts=True), ssh_remote, replies={PASSPHRASE_PROMPT: PASSPHRASE})
    assert cli.finished and PASSPHRASE_PROMPT in cli.answered and "done True" in cli.seen, cli

    app = python_on_a_terminal(_sync_code(repo, verb, prompts=False), ssh_remote, stop_at=PASSPHRASE_PROMPT)
    assert app.finished and PASSPHRASE_PROMPT not in app.seen, app  # it ended by itself, asking nothing
    said = " ".join(app.seen.split())  # the terminal wraps the line
    what = "push to origin failed" if verb == "push" else "fetch from origin failed"
    assert f"failed: {what}: Could not read from remote repository." in said, said
    assert "Permission denied (publickey)" in said and "cannot read the passphrase" in said, said  # ssh's own words
    assert "ssh-agent" in said and f"workbench {verb}" in said, said  # what to do


def test_an_app_sessions_git_and_cat_file_helpers_have_no_terminal(repo: Path) -> None:
    """Any program git starts (here an alias, as a helper would be) finds no /dev/tty in the app."""
    probe = f"!{sys.executable} -c 'import os; os.close(os.open(\"/dev/tty\", os.O_RDWR))'"
    code = (
        "import os\n"
        "from workbench.services.session import RepoSession\n"
        f"with RepoSession.open({str(repo)!r}) as ws:\n"
        "    store = ws.store\n"
        "    for prompts in (True, False):\n"
        "        store.terminal_prompts = prompts\n"
        "        assert store.read_object('HEAD') is not None\n"
        "        helper = store._git.cat_file_all.proc\n"
        f"        status = store._run_full('-c', {'alias.tty=' + probe!r}, 'tty')[0]\n"
        "        print('prompts', prompts, 'helper alone', os.getsid(helper.pid) != os.getsid(0), 'tty opened', status == 0, flush=True)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GIT_TERMINAL_PROMPT"}
    terminal = python_on_a_terminal(code, env)
    assert terminal.finished and terminal.status == 0, terminal
    assert "prompts True helper alone False tty opened True" in terminal.seen, terminal.seen
    assert "prompts False helper alone True tty opened False" in terminal.seen, terminal.seen


def _screen_has_prompts(screen: str) -> bool:
    return "greeting" in screen


@pytest.mark.parametrize("ending", ["quit", "SIGTERM", "SIGHUP"])
def test_the_apps_git_and_ssh_end_with_the_app(repo: Path, ssh_remote: dict[str, str], tmp_path: Path, ending: str) -> None:
    """The app fetches from a remote whose ssh never answers, then is quit (q), killed
    (SIGTERM) or loses its terminal (SIGHUP): git and ssh end too, nothing is left running.

    Quitting waited for ever before (the fetch held the session lock). The app leads the pty's
    session here, so the kernel hangs up on its process group when it dies: git and ssh, now
    in sessions of their own, are ended by the app's SIGTERM and SIGHUP handlers only."""
    pids = Path(ssh_remote["FAKE_SSH_PIDS"])
    env = {**ssh_remote, "FAKE_SSH": "hang", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)

    def end(pid: int, fd: int) -> None:
        if ending == "quit":
            os.write(fd, b"q")
        elif ending == "SIGTERM":
            os.kill(pid, signal.SIGTERM)
        else:
            os.close(fd)  # the terminal goes away: the kernel hangs up on the app

    steps = [
        (_screen_has_prompts, lambda pid, fd: os.write(fd, b"f")),  # fetch: its ls-remote starts the ssh that hangs
        (lambda screen: pids.exists() and pids.read_text().strip() != "", end),
    ]
    app = on_a_terminal([sys.executable, "-m", "workbench", "ui", str(repo)], env, steps=steps)
    started = [int(p) for p in pids.read_text().split()] if pids.exists() else []
    left = wait_until_gone(started)
    kill_all(started)
    assert started, app.seen[-2000:]
    assert app.finished, "the app did not end"
    assert left == [], f"ssh still running after the app ended ({ending})"


def test_sigterm_ends_the_app_as_q_does_and_gives_the_terminal_back(repo: Path) -> None:
    """`kill <app>`: the app ends as `q` ends it (exit 143, as a killed process reports), and
    the terminal leaves the alternate screen with mouse reporting off. Killed outright, the app
    left both on: the shell came back on a dead screen."""
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)

    def terminate(pid: int, fd: int) -> None:
        os.kill(pid, signal.SIGTERM)

    app = on_a_terminal(
        [sys.executable, "-m", "workbench", "ui", str(repo)], env,
        steps=[(_screen_has_prompts, terminate)],
    )
    assert app.finished, app.seen[-2000:]
    assert app.status == 143, app.status
    after = app.seen[app.seen.rfind("greeting") :]
    marks = [after.rfind(code) for code in ("\x1b[?1049l", "\x1b[?1000l")]
    assert all(mark >= 0 for mark in marks), repr(after[-400:])


def test_sigterm_before_the_app_has_mounted_still_gives_the_terminal_back(repo: Path) -> None:
    """SIGTERM after Textual took the screen but before the app's `on_mount` ran (its handler
    was set there) killed the process on the alternate screen. Here `on_mount` is slowed down
    and the signal sent as soon as the screen is taken."""
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    code = (
        "import sys, time\n"
        "from workbench.tui.app import WorkbenchApp\n"
        "original = WorkbenchApp.on_mount\n"
        "def slow_mount(self):\n"
        "    time.sleep(3)\n"
        "    original(self)\n"
        "WorkbenchApp.on_mount = slow_mount\n"
        f"sys.argv = ['workbench', 'ui', {str(repo)!r}]\n"
        "from workbench.console import main\n"
        "main()\n"
    )

    def terminate(pid: int, fd: int) -> None:
        os.kill(pid, signal.SIGTERM)

    app = python_on_a_terminal(code, env, steps=[(lambda screen: "\x1b[?1049h" in screen, terminate)])
    assert app.finished, app.seen[-2000:]
    assert app.status == 143, app.status
    after = app.seen[app.seen.rfind("\x1b[?1049h") :]
    assert "\x1b[?1049l" in after, repr(after[-400:])


def test_a_git_being_started_when_the_app_ends_is_ended_with_the_others(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app ends by a signal right after `end_processes` (the handler kills the process): a
    git another thread was starting at that moment must be among those ended, not left to that
    thread, which never runs again. (The SIGHUP case of the test above left an ssh running
    about one run in six.)"""
    session_git = SessionGit(str(repo))
    session_git.detached = True
    spawned: list[Any] = []
    original = git.Git.execute

    def slow_to_register(self: git.Git, command: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, command, *args, **kwargs)
        spawned.append(result.proc)
        time.sleep(0.5)  # the process runs; its starter has not come back yet
        return result

    monkeypatch.setattr(git.Git, "execute", slow_to_register)
    starter = threading.Thread(target=lambda: session_git.execute(["git", "cat-file", "--batch"], as_process=True, istream=subprocess.PIPE))
    starter.start()
    deadline = time.monotonic() + 30
    while not spawned and time.monotonic() < deadline:
        time.sleep(0.01)
    assert spawned, "git did not start"
    process = spawned[0]
    session_git.end_processes()
    running_then = alive(process.pid)  # the handler's next step would kill this process
    starter.join()
    try:
        assert not running_then, "git still running when end_processes returned"
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=10)


def test_no_git_starts_once_the_app_is_ending(repo: Path) -> None:
    """After `end_processes` (the handler then kills the app), a thread that would start a git
    gets an error instead: a git started then would outlive the app, its ssh with it."""
    session_git = SessionGit(str(repo))
    session_git.detached = True
    session_git.end_processes()
    with pytest.raises(OSError, match="the app is ending"):
        session_git.execute(["git", "cat-file", "--batch"], as_process=True, istream=subprocess.PIPE)
    assert session_git.execute(["git", "--version"]).startswith("git version")  # waited for: nothing to end


def test_a_failure_keeps_the_transports_words_before_gits() -> None:
    """ssh (or a helper) says what happened before git's generic `fatal:` line: both are kept."""
    output = (
        "git@example.com: Permission denied (publickey).\n"
        "fatal: Could not read from remote repository.\n\n"
        "Please make sure you have the correct access rights\nand the repository exists.\n"
    )
    line = remote_failure(output)
    assert line == "Could not read from remote repository. (git@example.com: Permission denied (publickey).)", line


def hanging_status(repo: Path, tmp_path: Path) -> Path:
    """`git status` in `repo` hangs in its fsmonitor hook (as a slow hook or filter would); the
    file returned gets the pids of that git and of its hook (git runs the hook again, older
    protocol, when the first one is killed alone: both are listed)."""
    pids = tmp_path / "hook-pids"
    hook = tmp_path / "fsmonitor-hook"
    hook.write_text(f"#!/bin/sh\necho $PPID $$ >> {pids}\nexec sleep 3600\n")
    hook.chmod(0o755)
    run_git(repo, "config", "core.fsmonitor", str(hook))
    return pids


def _pids_in(path: Path) -> list[int]:
    """The pids listed, each git before its hook (killed first, git cannot start another)."""
    return list(dict.fromkeys(int(p) for p in path.read_text().split())) if path.exists() else []


_LOADING_SLOWLY = """
import builtins, sys, time
from pathlib import Path

real_import = builtins.__import__

def slow_import(name, *args, **kwargs):
    if name == "workbench.tui.app":  # Textual is still loading when the user gives up
        print("loading Textual", flush=True)
        time.sleep(60)
    return real_import(name, *args, **kwargs)

builtins.__import__ = slow_import
from workbench.cli.ui_cmds import open_app

open_app(Path(sys.argv[1]))
"""


@pytest.mark.parametrize("ending", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_the_git_read_while_textual_loads_ends_with_the_app(repo: Path, tmp_path: Path, ending: str) -> None:
    """`workbench ui` reads the first screen in a thread (detached git) while Textual loads: the
    app ended then (ctrl+c, kill, the terminal closed) leaves no git running. Here `git status`
    hangs (`hanging_status`); it ran on after the app was gone."""
    pids = hanging_status(repo, tmp_path)
    env = {**os.environ, "TERM": "xterm-256color"}

    def end(pid: int, fd: int) -> None:
        if ending == "SIGHUP":
            os.close(fd)  # the terminal goes away: the kernel hangs up on the app
        else:
            os.kill(pid, getattr(signal, ending))

    steps = [(lambda screen: "loading Textual" in screen and pids.exists() and pids.read_text().strip() != "", end)]
    app = on_a_terminal([sys.executable, "-c", _LOADING_SLOWLY, str(repo)], env, steps=steps)
    started = _pids_in(pids)
    left = wait_until_gone(started, timeout=10)
    kill_all(_pids_in(pids))
    assert started, app.seen[-2000:]
    assert app.finished, "the app did not end"
    assert left == [], f"git status or its hook still running after the app ended ({ending})"


def test_q_quits_while_the_first_git_read_hangs(repo: Path, tmp_path: Path) -> None:
    """The first screen's `git status` hangs (a slow fsmonitor hook) in the thread that reads it
    ahead: the app still answers keys, and `q` ends it and its git. The app waited on the UI
    thread for the lock that git held, to set what the thread had already set: frozen for good."""
    pids = hanging_status(repo, tmp_path)
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    hung_at: list[float] = []

    def hung(screen: str) -> bool:
        if not (pids.exists() and pids.read_text().strip()):
            return False
        hung_at.append(time.monotonic())
        return hung_at[-1] - hung_at[0] > 2.0  # the app has had time to open (and to freeze)

    steps = [(hung, lambda pid, fd: os.write(fd, b"q"))]
    app = on_a_terminal([sys.executable, "-m", "workbench", "ui", str(repo)], env, steps=steps, timeout=40)
    started = _pids_in(pids)
    left = wait_until_gone(started, timeout=10)
    kill_all(_pids_in(pids))
    assert started, app.seen[-2000:]
    assert app.finished, "the app did not end"
    assert left == [], "git status or its hook still running after the app ended"
