"""JavaScript regex matches with a time limit: run in a helper process that can be abandoned.

`regress` (the ECMAScript engine `jsvalues` uses, for promptfoo's semantics) backtracks with no
step limit and holds the GIL for the whole match: `^(a+)+$` on 40 a's and a '!' ran forever, and
neither Ctrl-C (Python's signal handler waits for the GIL) nor a thread could stop it. It has no
option for a limit, and another engine would change what patterns mean. So the match runs in
one long-lived child process (about 40 ms to start, then a pipe round trip per match), and the
caller waits at most `REGEX_SECONDS`: past that the child is killed, the next match starts a new
one, and `RegexTimeout` says why. While the caller waits in `select`, Ctrl-C is handled as usual.
The child ignores SIGINT (the parent decides), and ends itself by SIGALRM if its parent is gone.
A child that ends before the deadline (killed from outside, dying as it starts) is not a timeout:
its pipe's end was read as one, and a kill 0.2 s in said "regex took over 1 s". It is
`RegexHelperEnded`, and the next match starts a new child.
An async caller runs its matching through `off_loop.in_thread_off_the_loop`: waiting on the loop's
thread stalled every other request of a test run for up to the limit, each match; cancelled, a
waiting match ends within `_POLL_SECONDS` (`RegexAbandoned`).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from workbench.core.jsvalues import JsRegexError
from workbench.evals.off_loop import abandoned as abandoned_wait

REGEX_SECONDS = 1.0
"""Wall-clock time one match of a short text may take; longer texts get `SECONDS_PER_MILLION_CHARACTERS` more."""
SECONDS_PER_MILLION_CHARACTERS = 0.5
"""What each million characters of text adds to the limit. Even a linear match is not free: `regress`
scans about 0.14 s a million characters (8 MB of `x` with `done$`: 1.2 s in process), so a 9 MB
answer erred as "catastrophic backtracking" under a flat 1 s. 0.5 s is over 3x that, for a busy CI
machine; backtracking grows far faster than the text, and is still caught."""


def limit_for(text: str, seconds: float = REGEX_SECONDS) -> float:
    """The wall-clock limit of one match on `text`: `seconds`, and more for each million characters."""
    return seconds + SECONDS_PER_MILLION_CHARACTERS * len(text) / 1_000_000


class RegexTimeout(Exception):
    """A match that did not end within the limit: almost always catastrophic backtracking."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"regex took over {seconds:.3g} s (catastrophic backtracking?)")


class RegexHelperEnded(Exception):
    """The helper process ended before it answered, within the limit: not the pattern's fault."""

    def __init__(self, code: int | None) -> None:
        how = f" (exit status {code})" if code is not None else ""
        super().__init__(f"the regex helper ended unexpectedly{how}; it restarts for the next match")


class RegexAbandoned(Exception):
    """The task that waited for this match was cancelled (Ctrl-C): the match stopped unfinished."""

    def __init__(self) -> None:
        super().__init__("the match was abandoned: its run was cancelled")


class _Ended(Exception):
    """The child's pipes closed: it is gone."""


class _Abandoned(Exception):
    """The waiting caller's task was cancelled."""


_POLL_SECONDS = 0.05
"""How often a thread's wait looks whether its task was cancelled: a thread cannot be interrupted."""

_CHILD = """
import json, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
from workbench.core.jsvalues import regex_search
from workbench.evals.regex_limit import serve
serve(regex_search)
"""


def serve(search: Callable[[str, str, str], bool]) -> None:
    """The child's loop: one JSON request per line in, one JSON reply per line out."""
    import signal

    alarm = getattr(signal, "setitimer", None)
    for line in sys.stdin.buffer:
        pattern, text, flags, seconds = json.loads(line.decode("utf-8", "surrogatepass"))
        if alarm is not None:  # default SIGALRM action ends the process: an orphan cannot spin on
            alarm(signal.ITIMER_REAL, seconds + 1)
        try:
            reply: dict[str, Any] = {"found": search(pattern, text, flags)}
        except JsRegexError as err:
            reply = {"invalid": str(err)}
        except Exception as err:
            reply = {"failed": f"{type(err).__name__}: {err}"}
        if alarm is not None:
            alarm(signal.ITIMER_REAL, 0)
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


class _Worker:
    """The child process and its pipes; killed (and forgotten) when a match runs out of time."""

    def __init__(self) -> None:
        # The child finds this package where this process did, and nothing in the current
        # directory: `-c` puts it first on sys.path, and a checkout's `json.py` then ran at the
        # first regex (python assertions off or not). `-P` leaves it out; PYTHONPATH gains only
        # the folder that holds `workbench`.
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (package_root, os.environ.get("PYTHONPATH"))))}
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # the app draws on the terminal: nothing of the child's may reach it
            env=env, close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[bytes] = self.process.stdin
        self.stdout: IO[bytes] = self.process.stdout

    def ask(self, request: bytes, seconds: float, abandoned: threading.Event | None) -> dict[str, Any] | None:
        """The reply, or None when none came in time.

        Raises:
            _Ended: the child is gone (its pipe closed) before the deadline.
            _Abandoned: `abandoned` was set while waiting.
        """
        try:
            self.stdin.write(request)
            self.stdin.flush()
        except BrokenPipeError:
            raise _Ended from None
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if abandoned is not None:
                if abandoned.is_set():
                    raise _Abandoned
                remaining = min(remaining, _POLL_SECONDS)
            ready, _, _ = select.select([self.stdout], [], [], remaining)
            if ready:
                line = self.stdout.readline()
                if not line:
                    raise _Ended
                return dict(json.loads(line))

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        self.stdin.close()
        self.stdout.close()


_lock = threading.Lock()
_worker: _Worker | None = None


def _stop_worker() -> None:
    global _worker
    if _worker is not None:
        _worker.close()
        _worker = None


atexit.register(_stop_worker)


def bounded_search(pattern: str, text: str, flags: str = "", seconds: float = REGEX_SECONDS) -> bool:
    """`new RegExp(pattern, flags).test(text)`, given at most `limit_for(text, seconds)` of wall-clock time.

    Raises:
        JsRegexError: the pattern is not valid JavaScript.
        RegexTimeout: the match did not end in time.
        RegexHelperEnded: the helper process ended before it answered.
        RegexAbandoned: run by `in_thread_off_the_loop`, and its task was cancelled.
    """
    global _worker
    seconds = limit_for(text, seconds)
    # UTF-8, not JSON's \uXXXX: six bytes a non-ASCII character made the transfer of 3M "é" 0.36 s
    # of the limit. `surrogatepass`: an answer may hold a lone surrogate (JSON's "\ud800").
    request = (json.dumps([pattern, text, flags, seconds], ensure_ascii=False) + "\n").encode("utf-8", "surrogatepass")
    abandoned = abandoned_wait()
    if abandoned is None:
        _lock.acquire()
    else:
        while not _lock.acquire(timeout=_POLL_SECONDS):  # another thread's match may take its whole limit
            if abandoned.is_set():
                raise RegexAbandoned
    try:
        if _worker is not None and _worker.process.poll() is not None:
            _stop_worker()  # ended since the last match (its own alarm, a kill from outside)
        if _worker is None:
            _worker = _Worker()
        try:
            reply = _worker.ask(request, seconds, abandoned)
        except _Ended:
            code = _worker.process.wait()
            _stop_worker()
            raise RegexHelperEnded(code) from None
        except _Abandoned:  # its reply would be read by the next match
            _stop_worker()
            raise RegexAbandoned from None
        except BaseException:  # a second Ctrl-C while waiting: the reply would be read by the next match
            _stop_worker()
            raise
        if reply is None:
            _stop_worker()
            raise RegexTimeout(seconds)
    finally:
        _lock.release()
    if "invalid" in reply:
        raise JsRegexError(reply["invalid"])
    if "failed" in reply:
        raise RuntimeError(f"the regex engine failed: {reply['failed']}")
    return bool(reply["found"])


__all__ = [
    "REGEX_SECONDS",
    "SECONDS_PER_MILLION_CHARACTERS",
    "RegexAbandoned",
    "RegexHelperEnded",
    "RegexTimeout",
    "bounded_search",
    "limit_for",
]
