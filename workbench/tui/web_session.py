"""One browser session's app process for `workbench serve`: textual-serve's `AppService`, with a
terminal of a terminal's size and a process that ends with its session, however busy it is.

textual-serve passed the browser's `["resize", {"width", "height"}]` on as it came: 100000×100000
made the app lay out 10^10 cells (100% CPU, 834 MB at 15 s, 2.4 GB at 39 s). Busy with that, the
app never read the `quit` that textual-serve sends when the socket closes, and nothing else ended
it: it outlived its socket and, orphaned, the server (only SIGKILL stopped it).

The server's own ending stops its apps (`stop`), but `kill -9` of the server runs none of it: its
apps went on running, orphaned, each with its memory and any lock it held. The kernel now ends
each app with its server (`ends_with_parent`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import shlex
import signal
import sys
from asyncio.subprocess import PIPE, Process
from collections.abc import Callable

from textual_serve.app_service import AppService

MAX_COLUMNS = 500
MAX_ROWS = 500
DEFAULT_SIZE = (80, 24)
QUIT_GRACE_S = 3.0  # to end by itself after `quit` (it saves nothing: a read-only app has nothing to save)
TERM_GRACE_S = 2.0  # after SIGTERM, which a Textual app only turns into a message it may never read


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def ends_with_parent() -> Callable[[], None] | None:
    """What the app's process runs between fork and exec (`preexec_fn`) so that the kernel sends it
    SIGKILL when the server dies, however it dies (None: not Linux, or no libc to ask).

    SIGKILL, not SIGTERM: a busy app never reads SIGTERM (Textual turns it into a message), and with
    the server gone nobody is left to follow up. Nothing is lost that an ended server had not lost:
    the browser went with the server, writes are atomic renames, the write locks are `flock`s.
    The signal comes when the *thread* that forked dies: the server forks on its event loop's
    thread, the main thread, which lives as long as the server does.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:  # looked up here, in the server: the child, forked from a threaded process, only calls
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    server = os.getpid()

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != server:  # the server died before the line above: no signal will come
            os._exit(1)

    return in_child


def terminal_size(width: object, height: object) -> tuple[int, int] | None:
    """The size a browser asks for, as the app is told it: 1..500 columns and rows. Anything but two
    integers is no size (None): the app would fail on it."""
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in (width, height)):
        return None
    assert isinstance(width, int) and isinstance(height, int)
    return min(max(width, 1), MAX_COLUMNS), min(max(height, 1), MAX_ROWS)


class SessionService(AppService):
    """textual-serve's app process for one websocket, sized by `terminal_size` (the first size, from
    the socket's URL, and every resize) and stopped for sure: `quit`, then SIGTERM, then SIGKILL."""

    _stopping: asyncio.Task[None] | None = None

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        width, height = terminal_size(width, height) or DEFAULT_SIZE
        # The command itself, not textual-serve's `sh -c COMMAND`: the shell stayed the parent, so a
        # signal to the process textual-serve knows did not reach the app.
        self._process = process = await asyncio.create_subprocess_exec(
            *shlex.split(self.command),
            stdin=PIPE,
            stdout=PIPE,
            stderr=PIPE,
            env=self._build_environment(width=width, height=height),
            preexec_fn=ends_with_parent(),
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def set_terminal_size(self, width: object, height: object) -> None:
        size = terminal_size(width, height)
        if size is not None:
            await super().set_terminal_size(*size)

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            # The app's output ended (it exited, failed or was stopped): so does the page's socket,
            # whose handler would otherwise wait for the browser's next message.
            with contextlib.suppress(Exception):
                await self.remote_close()

    async def stop(self) -> None:
        """End the app; once, however many callers (the socket's handler, the server's shutdown), and
        to the end even if the caller is cancelled."""
        if self._stopping is None:
            self._stopping = asyncio.create_task(self._end())
        await asyncio.shield(self._stopping)

    async def _end(self) -> None:
        task, process = self._task, self._process
        if task is None or process is None:
            return
        await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        await self.send_meta({"type": "quit"})
        if not await _exited_within(process, QUIT_GRACE_S):
            _signal(process, signal.SIGTERM)
            if not await _exited_within(process, TERM_GRACE_S):
                _signal(process, signal.SIGKILL)
                await process.wait()
        # Its output may stay open in a process it started: stop reading it.
        if not await _done_within(task, TERM_GRACE_S):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None


async def _exited_within(process: Process, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), seconds)
    return process.returncode is not None


async def _done_within(task: asyncio.Task[None], seconds: float) -> bool:
    await asyncio.wait({task}, timeout=seconds)
    return task.done()


def _signal(process: Process, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal_number)
