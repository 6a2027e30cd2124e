"""Git without the terminal, for the app: nothing git starts can ask a question on the screen
the app draws.

`GIT_TERMINAL_PROMPT=0` stops git's own password prompt only. ssh asks for a passphrase or for
a host key confirmation by opening /dev/tty itself, and so may credential helpers and askpass
programs; in the app the question is invisible (Textual owns the screen) and the push waits
for ever under the session lock. A detached `SessionGit` starts every git process, the
persistent `cat-file` helpers included, in a new session (setsid: `start_new_session`), which
has no controlling terminal: opening /dev/tty then fails at once (ENXIO) in git and in all it
starts, which fail with their own message. `GIT_SSH_COMMAND` and `core.sshCommand` are left
as the user set them (no `-o BatchMode=yes`): ssh still reads the agent, its configuration and,
with a display, a graphical askpass.

A process in a new session no longer gets the terminal's signals (hang-up, Ctrl+C at a
shell), so the app ends its processes itself: `end_processes` when it quits (before it waits
for the session lock a push holds), and on SIGTERM and SIGHUP (`vcs/exit_signals.py`). Each process leads its own
process group, which the ssh or helper it started belongs to: the group is ended, SIGTERM then
SIGKILL. A SIGKILLed app cannot: its git then ends at its next write to the closed pipes, its
ssh with git (or at the network's timeout); none of them can wait on a terminal.

Outside the app git keeps the terminal, but not the terminal's Ctrl+C: the terminal sends
SIGINT to its whole foreground group, and a `git tag` it killed left a promote with its release
tag and no deployment event. Git starts with SIGINT blocked (the mask outlives exec, and git and
its hooks keep it), so Ctrl+C reaches workbench alone, which decides: a write under way is
finished (`cli/common.interrupt_after`), anything else is ended by SIGTERM as its handle goes.
Not blocked for git that may ask on the terminal (`_MAY_ASK`): Ctrl+C at ssh's passphrase
prompt must still stop it. Every git of a repository opened as a `SessionRepo` follows this
rule, the calls GitPython makes itself (waited for: Ctrl+C arrives when git ends) included.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import git

from workbench.vcs import exit_signals

_GRACE_S = 2.0  # between SIGTERM and SIGKILL: git removes its lock files on SIGTERM
_MAY_ASK = frozenset({"push", "fetch", "pull", "ls-remote", "clone"})  # ssh and credential helpers ask on the terminal


class SessionGit(git.Git):
    """GitPython's `Git` that can start its processes detached from the terminal, and end them."""

    def __init__(self, working_dir: Any = None) -> None:
        super().__init__(working_dir)
        self.detached = False
        self._started: weakref.WeakSet[subprocess.Popen[bytes]] = weakref.WeakSet()
        self._ended = False
        self._guard = threading.RLock()  # re-entrant: the signal handler may interrupt its holder
        _detachable.add(self)

    def execute(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.detached:
            if may_ask(command):  # Ctrl+C at ssh's passphrase prompt must still stop it
                return super().execute(command, *args, **kwargs)
            # As a process: held while git starts (it returns once git runs). Waited for here
            # (GitPython's own calls, `init`'s first commit): held until git ends, and Ctrl+C
            # then arrives; it once killed that git, and `init` left files and no commit.
            with _terminal_interrupt_held():
                return super().execute(command, *args, **kwargs)
        if not kwargs.get("as_process"):  # waited for here: nothing to end later
            return super().execute(command, *args, **{**kwargs, "start_new_session": True})
        # Started and registered in one step, and none once the app is ending: `end_processes`
        # (a signal handler, which then ends this process) must see every git there is, or a
        # git another thread starts around it, and its ssh, outlive the app.
        with self._guard:
            if self._ended:
                raise OSError(f"not starting {command[:2]}: the app is ending")
            result = super().execute(command, *args, **{**kwargs, "start_new_session": True})
            if isinstance(result, git.Git.AutoInterrupt) and result.proc is not None:
                self._started.add(result.proc)
        return result

    def end_processes(self) -> None:
        """End, for good, the git processes running detached and what they started (ssh,
        helpers): SIGTERM to each process group, SIGKILL to those still there after a grace
        period. None is started afterwards (the app is ending)."""
        with self._guard:
            self._ended = True
            running = list(self._started)
        _end(running)


class SessionRepo(git.Repo):
    """GitPython's `Repo`, running git through `SessionGit`."""

    GitCommandWrapperType = SessionGit


_detachable: weakref.WeakSet[SessionGit] = weakref.WeakSet()


def detach(runner_git: git.Git | None, detached: bool) -> None:
    """Start `runner_git`'s processes without a controlling terminal (or with it again).

    The persistent `cat-file` helpers are restarted at their next use, so that they follow.
    Turned on from the main thread (the app's; `runner_git` may not be there yet), it also
    ends the detached processes when this process is terminated or its terminal hangs up
    (`exit_signals`: a handler that then does what the previous one did).
    """
    if detached:
        exit_signals.install()
    if not isinstance(runner_git, SessionGit) or runner_git.detached == detached:
        return
    runner_git.detached = detached
    runner_git.clear_cache()


def end_processes(runner_git: git.Git) -> None:
    """End `runner_git`'s detached processes (see `SessionGit.end_processes`)."""
    if isinstance(runner_git, SessionGit) and runner_git.detached:
        runner_git.end_processes()


def end_all() -> None:
    """End every detached git process of this process (see `SessionGit.end_processes`)."""
    for runner_git in list(_detachable):
        end_processes(runner_git)


exit_signals.before_exit(end_all)


def may_ask(command: Any) -> bool:
    """Whether `git ...` is a command that may ask on the terminal: its subcommand, after git's
    own options, not any argument (a branch named `push` is no push)."""
    args = [str(arg) for arg in command[1:]]
    at = 0
    while at < len(args) and args[at].startswith("-"):
        at += 2 if args[at] in ("-c", "-C") else 1
    return at < len(args) and args[at] in _MAY_ASK


@contextlib.contextmanager
def _terminal_interrupt_held() -> Iterator[None]:
    """SIGINT blocked in this thread, so in the processes it starts (see the module's docstring)."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _end(procs: list[subprocess.Popen[bytes]]) -> None:
    running = [p for p in procs if p.poll() is None]
    for proc in running:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + _GRACE_S
    while running and time.monotonic() < deadline:
        time.sleep(0.02)
        running = [p for p in running if p.poll() is None]
    for proc in running:
        _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    """Signal the process group `proc` leads (it is a session leader: its pid is the group's)."""
    if proc.returncode is None:  # not reaped: the pid (and the group) is still this one
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signum)
