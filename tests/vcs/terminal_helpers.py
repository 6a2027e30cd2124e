"""A process on a real terminal (a pty), for the tests of what git, ssh and helpers may ask there.

`on_a_terminal` starts a child whose controlling terminal is a pty, as the app's and a shell
user's are, answers prompts seen there and reports what reached the screen. `fake_ssh` writes
an ssh program (given to git by `GIT_SSH`) that asks for a passphrase on /dev/tty as ssh does,
then runs git's command on a local bare repository, so that an answered prompt completes the push.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PASSPHRASE_PROMPT = "Enter passphrase for key '/home/ana/.ssh/id_test': "
PASSPHRASE = "sesame"

_FAKE_SSH = '''#!{python}
"""A stand-in for ssh: asks for the passphrase on /dev/tty (as ssh does), then runs git's command.

FAKE_SSH=hang: a network that never answers (sleeps), after writing its pid to FAKE_SSH_PIDS.
"""
import os, sys, time

if "-G" in sys.argv:  # git asks whether this is OpenSSH: it is not ("simple" ssh)
    sys.exit(1)
host, command = sys.argv[-2], sys.argv[-1]
if os.environ.get("FAKE_SSH_PIDS"):
    with open(os.environ["FAKE_SSH_PIDS"], "a") as pids:
        pids.write(f"{{os.getpid()}}\\n")
if os.environ.get("FAKE_SSH") == "hang":
    time.sleep(3600)
    sys.exit(255)
try:
    tty = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
except OSError as err:
    print(f"Load key /home/ana/.ssh/id_test: cannot read the passphrase: /dev/tty: {{err.strerror}}", file=sys.stderr)
    print(f"{{host}}: Permission denied (publickey).", file=sys.stderr)
    sys.exit(255)
os.write(tty, {prompt!r}.encode())
answer = b""
while not answer.endswith(b"\\n"):
    chunk = os.read(tty, 1)
    if not chunk:
        break
    answer += chunk
os.write(tty, b"\\r\\n")
if answer.strip() != {passphrase!r}.encode():
    print(f"{{host}}: Permission denied (publickey).", file=sys.stderr)
    sys.exit(255)
if command.startswith("git-"):  # git-receive-pack '/path' -> git receive-pack '/path'
    command = "git " + command[4:]
os.execvp("sh", ["sh", "-c", command])
'''


def fake_ssh(folder: Path) -> Path:
    """Write the fake ssh program into `folder` and return its path."""
    path = folder / "fake-ssh"
    path.write_text(_FAKE_SSH.format(python=sys.executable, prompt=PASSPHRASE_PROMPT, passphrase=PASSPHRASE))
    path.chmod(0o755)
    return path


@dataclass
class Terminal:
    """What a process on the pty did: whether it ended by itself, and what reached the screen."""

    finished: bool
    seen: str
    status: int | None = None
    answered: list[str] = field(default_factory=list)


def python_on_a_terminal(code: str, env: Mapping[str, str], **kwargs: object) -> Terminal:
    """Run `python -c code` on a pty (see `on_a_terminal`)."""
    return on_a_terminal([sys.executable, "-c", code], env, **kwargs)  # type: ignore[arg-type]


def on_a_terminal(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    replies: Mapping[str, str] | None = None,
    stop_at: str | None = None,
    steps: Sequence[tuple[Callable[[str], bool], Callable[[int, int], None]]] = (),
    timeout: float = 60.0,
) -> Terminal:
    """Run `argv` in a child whose controlling terminal is a pty (120x36) and watch the screen.

    Args:
        replies: prompt text -> what is typed (with Enter) each time the prompt reaches the screen.
        stop_at: text that ends the wait: the child is killed (it would wait for ever).
        steps: (condition, action) pairs, in order: once `condition(screen so far)` holds,
            `action(pid, master fd)` acts (a key, a signal, closing the terminal); the screen
            is read all along (a full pty would stop the child).
        timeout: how long the child may run before it is killed (a failure: not `finished`).
    """
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
        os.execve(argv[0], list(argv), dict(env))
    seen, answered, todo = b"", [], list(steps)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if stop_at is not None and stop_at.encode() in seen:
                break
            for prompt, reply in (replies or {}).items():
                if seen.count(prompt.encode()) > answered.count(prompt):
                    answered.append(prompt)
                    os.write(fd, reply.encode() + b"\r")
            if todo and todo[0][0](seen.decode(errors="replace")):
                todo.pop(0)[1](pid, fd)
            ended = os.waitpid(pid, os.WNOHANG)
            if ended[0] == pid:
                with contextlib.suppress(OSError):
                    seen += _drain(fd)
                return Terminal(True, seen.decode(errors="replace"), os.waitstatus_to_exitcode(ended[1]), answered)
            try:
                ready = select.select([fd], [], [], 0.1)[0]
            except (OSError, ValueError):  # `then` closed the terminal
                time.sleep(0.1)
                continue
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:  # the child closed the terminal: it is ending
                    time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return Terminal(False, seen.decode(errors="replace"), None, answered)
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


def _drain(fd: int) -> bytes:
    out = b""
    while select.select([fd], [], [], 0.05)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        out += chunk
    return out


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (a killed orphan is reaped by init, soon after)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_until_gone(pids: Sequence[int], timeout: float = 30.0) -> list[int]:
    """The pids still running after `timeout` (none, when they all ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def kill_all(pids: Sequence[int]) -> None:
    """Clean up after a failed test: no fake ssh left sleeping."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
