"""SIGTERM and SIGHUP end the git this process started without a terminal (`vcs/detached.py`).

Such a git runs in a session of its own and gets none of the terminal's signals, so the
process ends it itself when it is terminated or its terminal hangs up: a handler that ends
those processes, then does what the previous handler did. Handlers are set from the main
thread only, so this module imports no GitPython: `workbench ui` sets them before a thread
starts the first screen's git, while Textual loads.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

_EXIT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
_previous_handlers: dict[int, Any] = {}
_before_exit: list[Callable[[], None]] = []


def before_exit(end: Callable[[], None]) -> None:
    """Call `end` when the process ends by SIGTERM or SIGHUP (once handlers are set)."""
    if end not in _before_exit:
        _before_exit.append(end)


def install() -> None:
    """Set the handlers, from the main thread (elsewhere nothing is done). A handler set since
    (the app's event loop's) is kept as the one to call next."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _EXIT_SIGNALS:
        current = signal.getsignal(signum)
        if current is not _on_exit_signal:
            _previous_handlers[signum] = current
            signal.signal(signum, _on_exit_signal)


def _on_exit_signal(signum: int, frame: FrameType | None) -> None:
    previous = _previous_handlers.get(signum, signal.SIG_DFL)
    if previous == signal.SIG_IGN:  # ignored before (nohup): the app goes on, and so does its git
        return
    if callable(previous):  # the program's own handler: it decides; an ordinary exit ends them
        previous(signum, frame)
        return
    for end in list(_before_exit):  # the default: the process ends by this signal, as it would have
        end()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
